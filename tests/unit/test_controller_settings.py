"""R22 and style #7: operator settings come from the environment only, validated at start."""

from __future__ import annotations

import pytest

from personio_sync.controller.settings import (
    LogFormat,
    OperatorSettings,
    env_name,
    load_settings,
    plain_http_problem,
)
from personio_sync.errors import ConfigError

VARS = [
    "PERSONIO_API_URL",
    "AWORK_API_URL",
    "PERSONIO_SYNC_MAX_CONCURRENT_SYNCS",
    "PERSONIO_SYNC_LOG_FORMAT",
    "PERSONIO_SYNC_NAMESPACES",
    "PERSONIO_SYNC_HTTP_PORT",
    "PERSONIO_SYNC_WEBHOOK_PORT",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)


def test_defaults_point_at_the_real_vendors() -> None:
    settings = load_settings()
    assert settings.endpoints.personio_url == "https://api.personio.de"
    assert settings.endpoints.awork_url == "https://api.awork.com/api/v1"
    assert settings.max_concurrent_syncs == 4 and settings.namespaces == []


def test_r22_urls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONIO_API_URL", "http://127.0.0.1:8001/")
    monkeypatch.setenv("AWORK_API_URL", "http://127.0.0.1:8002/api/v1")
    settings = load_settings()
    assert settings.endpoints.personio_url == "http://127.0.0.1:8001"
    assert settings.endpoints.awork_url == "http://127.0.0.1:8002/api/v1"


def test_namespaces_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONIO_SYNC_NAMESPACES", "team-a, team-b,,")
    monkeypatch.setenv("PERSONIO_SYNC_LOG_FORMAT", "json")
    settings = load_settings()
    assert settings.namespaces == ["team-a", "team-b"]
    assert settings.log_format is LogFormat.json


def test_bad_values_name_the_variable_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONIO_SYNC_MAX_CONCURRENT_SYNCS", "0")
    monkeypatch.setenv("AWORK_API_URL", "ftp://files.example")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "PERSONIO_SYNC_MAX_CONCURRENT_SYNCS" in err.value.message
    assert "AWORK_API_URL" in err.value.message


def test_every_field_is_documented_with_its_variable() -> None:
    for field, info in OperatorSettings.model_fields.items():
        assert info.description and info.description.startswith(env_name(field) + ":"), field


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("https://api.personio.de", False, True),
        ("http://127.0.0.1:8001", False, True),  # loopback: never leaves the machine
        ("http://localhost:8001", False, True),
        ("http://[::1]:8001", False, True),
        ("http://personio.internal:8001", False, False),
        ("http://personio.internal:8001", True, True),
        ("http://127.0.0.1.evil.example", False, False),
    ],
)
def test_vendor_urls_are_https_unless_loopback_or_allowed(
    url: str, allowed: bool, ok: bool
) -> None:
    assert (plain_http_problem(url, allowed=allowed) is None) is ok


def test_plain_http_vendor_url_stops_the_operator_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWORK_API_URL", "http://awork.internal/api/v1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "AWORK_API_URL" in err.value.message
    assert "PERSONIO_SYNC_INSECURE_HTTP" in err.value.message
    monkeypatch.setenv("PERSONIO_SYNC_INSECURE_HTTP", "true")
    assert load_settings().awork_api_url == "http://awork.internal/api/v1"


def test_r23_min_quick_interval_says_it_can_only_make_polls_rarer() -> None:
    """The API server refuses quickInterval under 1m (R23), so the setting's description
    must not promise shorter polls."""
    text = OperatorSettings.model_fields["min_quick_interval_seconds"].description or ""
    assert "only make them rarer" in text and "under 1m" in text
    assert "tests lower it" not in text
