"""R21/R23: the referenced Secret becomes credentials, or a specific, value-free error."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from personio_sync.controller.reporting.conditions import AWORK, PERSONIO, for_error
from personio_sync.controller.runs.inputs import credentials_for, unreadable
from personio_sync.controller.settings import OperatorSettings
from personio_sync.errors import ConfigError, KubeError, SecretProblem
from personio_sync.sync.credentials import credentials_from_secret

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


# -- SEC-4: each problem is named for what it is, and only its credential is marked --------

NOT_UTF8 = base64.b64encode(b"\xff\xfe\x00\x9c binary").decode()


def problem_of(doc: Any) -> SecretProblem:
    with pytest.raises(SecretProblem) as err:
        credentials_for(doc, name="creds", namespace="team")
    for value in VALUES.values():  # R21: never a value in the message
        assert value not in str(err.value) and value not in repr(err.value)
    return err.value


def test_sec_4_non_utf8_content_is_named_as_such_not_as_bad_base64() -> None:
    doc = secret(VALUES)
    doc["data"]["aworkApiKey"] = NOT_UTF8
    problem = problem_of(doc)
    assert problem.reason == "SecretInvalid"
    assert "aworkApiKey is not UTF-8 text" in problem.message
    assert "base64" not in problem.message


@pytest.mark.parametrize(
    "doc",
    [
        secret({**VALUES, "personioClientId": ""}),
        secret({**VALUES, "personioClientId": "  \n"}),
        secret(string_data={**VALUES, "personioClientId": ""}),
    ],
    ids=["data-empty", "data-blank", "stringData-empty"],
)
def test_sec_4_an_empty_value_is_empty_not_missing(doc: Any) -> None:
    problem = problem_of(doc)
    assert problem.reason == "SecretInvalid"
    assert "personioClientId is empty" in problem.message and "lacks" not in problem.message
    assert problem.vendors == {"personio"}


@pytest.mark.parametrize(
    ("key", "bad", "vendor"),
    [
        ("aworkApiKey", "not base64 !!", "awork"),
        ("aworkApiKey", NOT_UTF8, "awork"),
        ("personioClientSecret", "not base64 !!", "personio"),
        ("personioClientId", NOT_UTF8, "personio"),
    ],
)
def test_sec_4_a_bad_key_marks_only_the_credential_it_belongs_to(
    key: str, bad: str, vendor: str
) -> None:
    doc = secret(VALUES)
    doc["data"][key] = bad
    problem = problem_of(doc)
    assert problem.vendors == {vendor} and key in problem.message
    states = {c.type: c.status for c in for_error(problem)}
    marked, spared = (PERSONIO, AWORK) if vendor == "personio" else (AWORK, PERSONIO)
    assert states[marked] == "False" and states[spared] == "Unknown"  # NotChecked


def test_sec_4_every_key_at_fault_is_named_and_missing_wins_the_reason() -> None:
    doc = secret({"personioClientId": VALUES["personioClientId"], "personioClientSecret": ""})
    problem = problem_of(doc)
    assert problem.reason == "SecretKeyMissing"
    assert "lacks the key aworkApiKey" in problem.message
    assert "personioClientSecret is empty" in problem.message
    assert problem.vendors == {"personio", "awork"}


def test_sec_4_other_keys_of_the_secret_are_ignored() -> None:
    doc = secret(VALUES)
    doc["data"]["ca.crt"] = NOT_UTF8  # a binary file next to the credentials
    doc["data"]["notes"] = ""
    creds = credentials_for(doc, name="creds", namespace="team")
    assert creds.awork_api_key == VALUES["aworkApiKey"]


def test_sec_4_the_cli_reads_a_secret_manifest_with_the_same_messages() -> None:
    doc = secret({**VALUES, "aworkApiKey": ""})
    with pytest.raises(ConfigError) as err:
        credentials_from_secret(doc)
    assert err.value.message == problem_of(doc).message
    assert "aworkApiKey is empty" in err.value.message


def test_sec_4_string_data_wins_over_data_as_on_the_api_server() -> None:
    doc = secret(string_data=VALUES)
    doc["data"] = {"aworkApiKey": "not base64 !!"}  # overwritten by stringData on write
    creds = credentials_for(doc, name="creds", namespace="team")
    assert creds.awork_api_key == VALUES["aworkApiKey"]


def test_sec_2_a_forbidden_secret_names_the_grant_only_when_the_chart_said_how() -> None:
    forbidden = KubeError("GET secrets team/creds: 403 forbidden", 403)
    chart = OperatorSettings(
        service_account="ps", secret_reader_role="ops-ps-secrets", POD_NAMESPACE="ops"
    )
    told = unreadable(chart, "team", "creds", forbidden)
    assert told.reason == "SecretUnreadable" and told.vendors == {"personio", "awork"}
    assert (
        "`kubectl --namespace team create rolebinding ops-ps-secrets "
        "--clusterrole=ops-ps-secrets --serviceaccount=ops:ps`" in told.message
    )
    untold = unreadable(OperatorSettings(), "team", "creds", forbidden).message
    assert "rolebinding" not in untold and "get on Secrets in 'team'" in untold
    other = unreadable(chart, "team", "creds", KubeError("GET secrets team/creds: 400 bad", 400))
    assert "rolebinding" not in other.message and "'creds'" in other.message
