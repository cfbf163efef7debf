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
    "PERSONIO_SYNC_WEBHOOK_BASE_URL",
    "PERSONIO_SYNC_INSECURE_HTTP",
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


def test_hook_7_the_operator_appends_namespace_and_name_to_its_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "PERSONIO_SYNC_WEBHOOK_BASE_URL", " https://hooks.example.com/webhooks/personio/ "
    )
    settings = load_settings()
    assert settings.webhooks_enabled
    assert (
        settings.webhook_url("hr", "acme") == "https://hooks.example.com/webhooks/personio/hr/acme"
    )


def test_hook_15_webhooks_are_off_without_a_base_url() -> None:
    settings = load_settings()
    assert settings.webhook_base_url == "" and not settings.webhooks_enabled
    with pytest.raises(ValueError, match="PERSONIO_SYNC_WEBHOOK_BASE_URL"):
        settings.webhook_url("hr", "acme")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/webhooks/personio", "PERSONIO_SYNC_INSECURE_HTTP"),
        ("https://hooks.example.com/webhooks/personio?x=1", "no query or fragment"),
        ("https://hooks.example.com/webhooks/personio#top", "no query or fragment"),
        ("ftp://hooks.example.com", "not an http(s) URL"),
        ("hooks.example.com/webhooks/personio", "not an http(s) URL"),
    ],
)
def test_hook_7_a_bad_webhook_base_url_stops_the_operator_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    """https only, as for the vendor URLs: the URL carries the webhook token to Personio's
    deliveries; plain http to the loopback address or when explicitly allowed."""
    monkeypatch.setenv("PERSONIO_SYNC_WEBHOOK_BASE_URL", url)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "PERSONIO_SYNC_WEBHOOK_BASE_URL" in err.value.message and problem in err.value.message


def test_hook_7_plain_http_base_url_only_to_the_loopback_address_or_when_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSONIO_SYNC_WEBHOOK_BASE_URL", "http://127.0.0.1:8081/webhooks/personio")
    assert load_settings().webhooks_enabled
    monkeypatch.setenv("PERSONIO_SYNC_WEBHOOK_BASE_URL", "http://hooks.internal/webhooks/personio")
    monkeypatch.setenv("PERSONIO_SYNC_INSECURE_HTTP", "true")
    assert load_settings().webhook_url("a", "b") == "http://hooks.internal/webhooks/personio/a/b"
