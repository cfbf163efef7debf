"""R21/R23: the referenced Secret becomes credentials, or a specific, value-free error."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from personio_sync.controller.secrets import SecretProblem, credentials_for

VALUES = {
    "personioClientId": "id-7d1f",
    "personioClientSecret": "s3cr3t-personio-value",
    "aworkApiKey": "awk-9a8b7c-key-value",
}


def secret(data: dict[str, str] | None = None, string_data: dict[str, str] | None = None) -> Any:
    doc: dict[str, Any] = {"metadata": {"name": "creds", "resourceVersion": "7"}}
    if data is not None:
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if string_data is not None:
        doc["stringData"] = string_data
    return doc


def test_base64_data_is_decoded() -> None:
    creds = credentials_for(secret(VALUES), name="creds", namespace="team")
    assert creds.personio_client_secret == VALUES["personioClientSecret"]
    assert creds.awork_api_key == VALUES["aworkApiKey"]


def test_string_data_is_read_as_plain_text() -> None:
    creds = credentials_for(secret(string_data=VALUES), name="creds", namespace="team")
    assert creds.personio_client_id == VALUES["personioClientId"]


def test_r23_missing_secret_names_it_and_its_namespace() -> None:
    with pytest.raises(SecretProblem) as err:
        credentials_for(None, name="creds", namespace="team")
    assert err.value.reason == "SecretNotFound"
    assert "'creds'" in err.value.message and "'team'" in err.value.message
    assert err.value.vendors == {"personio", "awork"}


@pytest.mark.parametrize(
    ("missing", "vendors"),
    [("aworkApiKey", {"awork"}), ("personioClientSecret", {"personio"})],
)
def test_r23_missing_key_names_the_key_and_affects_only_its_vendor(
    missing: str, vendors: set[str]
) -> None:
    partial = {k: v for k, v in VALUES.items() if k != missing}
    with pytest.raises(SecretProblem) as err:
        credentials_for(secret(partial), name="creds", namespace="team")
    assert err.value.reason == "SecretKeyMissing"
    assert missing in err.value.message
    assert err.value.vendors == vendors


def test_r21_error_messages_and_reprs_never_hold_values() -> None:
    partial = {k: v for k, v in VALUES.items() if k != "aworkApiKey"}
    with pytest.raises(SecretProblem) as err:
        credentials_for(secret(partial), name="creds", namespace="team")
    creds = credentials_for(secret(VALUES), name="creds", namespace="team")
    for value in VALUES.values():
        assert value not in str(err.value) and value not in repr(creds)


def test_r23_undecodable_data_is_secret_invalid() -> None:
    doc = secret(VALUES)
    doc["data"]["aworkApiKey"] = "not base64 !!"
    with pytest.raises(SecretProblem) as err:
        credentials_for(doc, name="creds", namespace="team")
    assert err.value.reason == "SecretInvalid" and "stringData" in err.value.message
