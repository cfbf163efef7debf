"""UX-4: the CLI says which vendor URLs it talks to and where each came from."""

from __future__ import annotations

import pytest

from personio_sync.cli.endpoints import endpoints_from
from personio_sync.errors import ConfigError
from personio_sync.sync.config import Endpoints


def test_ux_4_without_the_variables_it_says_it_talks_to_the_real_vendors() -> None:
    endpoints, line = endpoints_from({})
    assert endpoints == Endpoints("https://api.personio.de", "https://api.awork.com/api/v1")
    assert line == (
        "talking to Personio at https://api.personio.de (the default; PERSONIO_API_URL is "
        "not set), awork at https://api.awork.com/api/v1 (the default; AWORK_API_URL is not set)"
    )


def test_ux_4_a_variable_is_named_as_the_origin_of_its_url() -> None:
    endpoints, line = endpoints_from({"PERSONIO_API_URL": "http://127.0.0.1:5000/"})
    assert endpoints.personio_url == "http://127.0.0.1:5000"
    assert "Personio at http://127.0.0.1:5000 (from PERSONIO_API_URL)" in line
    assert "(the default; AWORK_API_URL is not set)" in line


def test_ux_4_plain_http_elsewhere_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^AWORK_API_URL: 'http://awork\.test' is not an https"):
        endpoints_from({"AWORK_API_URL": "http://awork.test"})
    assert endpoints_from({"AWORK_API_URL": "http://awork.test", "PERSONIO_SYNC_INSECURE_HTTP":
                           "true"})[0].awork_url == "http://awork.test"  # fmt: skip
