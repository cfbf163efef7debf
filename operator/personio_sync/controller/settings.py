"""The operator's configuration: the one place that reads the environment (style #7).

Everything an operator admin may tune lives here, validated once at start, so a typo
in a Helm value fails the pod at start with a message naming the variable instead of
surfacing hours later. The vendor URLs are here and never in the resource (R22): whoever
may create a PersonioSync must not be able to send a Secret to a host of their choosing.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from personio_sync.errors import ConfigError
from personio_sync.sync.config import DEFAULT_AWORK_URL, DEFAULT_PERSONIO_URL, Endpoints

ENV_PREFIX = "PERSONIO_SYNC_"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class OperatorSettings(BaseSettings):
    """Operator-wide settings; environment variable names are given per field."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore", frozen=True
    )

    personio_api_url: Annotated[
        str,
        Field(
            validation_alias=AliasChoices("PERSONIO_API_URL"),
            description="PERSONIO_API_URL: base URL of the Personio API (R22: never a "
            "resource field).",
        ),
    ] = DEFAULT_PERSONIO_URL
    awork_api_url: Annotated[
        str,
        Field(
            validation_alias=AliasChoices("AWORK_API_URL"),
            description="AWORK_API_URL: base URL of the awork API, including /api/v1.",
        ),
    ] = DEFAULT_AWORK_URL
    max_concurrent_syncs: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            description="PERSONIO_SYNC_MAX_CONCURRENT_SYNCS: how many PersonioSyncs may run at "
            "once across the operator; the rest wait their turn.",
        ),
    ] = 4
    max_runs_per_namespace: Annotated[
        int | None,
        Field(
            ge=1,
            le=1000,
            description="PERSONIO_SYNC_MAX_RUNS_PER_NAMESPACE: how many of those runs one "
            "namespace may hold at once, so one namespace cannot starve the others (FAIR-5); "
            "unset means half of PERSONIO_SYNC_MAX_CONCURRENT_SYNCS, at least 1.",
        ),
    ] = None
    sync_now_spacing_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=3600,
            description="PERSONIO_SYNC_SYNC_NOW_SPACING_SECONDS: a sync-now request, or a full "
            "sync that changes asked for, within this long after a resource's previous run "
            "started waits until then (FAIR-6, HOOK-13); it is served then, never dropped. 0 "
            "serves every request at once.",
        ),
    ] = 60.0
    log_level: Annotated[
        LogLevel, Field(description="PERSONIO_SYNC_LOG_LEVEL: DEBUG, INFO, WARNING or ERROR.")
    ] = LogLevel.INFO
    log_format: Annotated[
        LogFormat,
        Field(description="PERSONIO_SYNC_LOG_FORMAT: text for people, json for log pipelines."),
    ] = LogFormat.text
    http_host: Annotated[
        str,
        Field(
            min_length=1,
            description="PERSONIO_SYNC_HTTP_HOST: address the /healthz and /metrics server "
            "listens on.",
        ),
    ] = "0.0.0.0"
    http_port: Annotated[
        int,
        Field(
            ge=0,
            le=65535,
            description="PERSONIO_SYNC_HTTP_PORT: port of /healthz and /metrics (0 picks a "
            "free port, for tests).",
        ),
    ] = 8080
    metrics_per_resource_limit: Annotated[
        int,
        Field(
            ge=0,
            description="PERSONIO_SYNC_METRICS_PER_RESOURCE_LIMIT: /metrics has per-resource "
            "series (the alerts' gauges, named per PersonioSync) while this operator knows at "
            "most this many PersonioSyncs; above it, and with 0, only per-namespace "
            "aggregates, which the chart's alerts read as well (METRICS-2).",
        ),
    ] = 1000
    webhook_port: Annotated[
        int,
        Field(
            ge=0,
            le=65535,
            description="PERSONIO_SYNC_WEBHOOK_PORT: port of the Personio webhook receiver "
            "(POST /webhooks/personio/{namespace}/{name}); its own port, so exposing it to "
            "Personio never exposes /metrics or /healthz (0 picks a free port, for tests).",
        ),
    ] = 8081
    webhook_base_url: Annotated[
        str,
        Field(
            max_length=1024,
            description="PERSONIO_SYNC_WEBHOOK_BASE_URL: the public URL at which Personio "
            "reaches the receiver's /webhooks/personio path (with an Ingress that does not "
            "rewrite paths, https://<host>/webhooks/personio); the operator registers "
            "<base>/<namespace>/<name> for each resource (HOOK-7). https only, plain http only "
            "to the loopback address or with PERSONIO_SYNC_INSECURE_HTTP. Empty: webhooks off, "
            "the receiver is not started and binds no port (HOOK-15).",
        ),
    ] = ""
    instance_id: Annotated[
        str,
        Field(
            max_length=128,
            description="PERSONIO_SYNC_INSTANCE_ID: tells this installation's absences from "
            "another cluster's in a shared awork workspace (part of every owner key); empty "
            "means the UID of the kube-system namespace.",
        ),
    ] = ""
    insecure_http: Annotated[
        bool,
        Field(
            description="PERSONIO_SYNC_INSECURE_HTTP: allow plain http:// vendor URLs to hosts "
            "other than the loopback address (tests, sandboxes); off by default, so the "
            "credentials only travel over TLS.",
        ),
    ] = False
    namespaces: Annotated[
        list[str],
        NoDecode,
        Field(
            description="PERSONIO_SYNC_NAMESPACES: comma-separated namespaces to watch; empty "
            "means every namespace. The command line's --namespace wins.",
        ),
    ] = []
    retry_base_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=3600,
            description="PERSONIO_SYNC_RETRY_BASE_SECONDS: first retry delay after a failed "
            "run; doubles per failure, capped at the resource's interval (R17).",
        ),
    ] = 30.0
    progress_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=600,
            description="PERSONIO_SYNC_PROGRESS_SECONDS: how often a long run refreshes "
            "status.progress.",
        ),
    ] = 10.0
    syncing_mark_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=60,
            description="PERSONIO_SYNC_SYNCING_MARK_SECONDS: a full run still going after this "
            "long shows `Synced` reason `Syncing` (KUBE-4); one that ends sooner writes only "
            "its outcome, one status PATCH (SCALE-3). 0: every run is marked when it starts.",
        ),
    ] = 2.0
    lease_namespace: Annotated[
        str,
        Field(
            min_length=1,
            validation_alias=AliasChoices("POD_NAMESPACE"),
            description="POD_NAMESPACE: namespace of the shard and replica Leases, the "
            "operator's own (the chart sets it from the downward API); `default` outside a "
            "cluster.",
        ),
    ] = "default"
    shards: Annotated[
        int,
        Field(
            ge=1,
            le=1024,
            description="PERSONIO_SYNC_SHARDS: how many shards the resources are spread over, "
            "each held by one replica through its own Lease (SHARD-1); fixed per "
            "installation: every replica must have the same. 1: one leader syncs everything.",
        ),
    ] = 16
    lease_duration_seconds: Annotated[
        float,
        Field(
            ge=3,
            le=300,
            description="PERSONIO_SYNC_LEASE_DURATION_SECONDS: how long a replica's Leases "
            "outlive its last renewal; a replica killed has its shards taken over about "
            "this long after (SHARD-3). Renewals run every sixth of it, and a replica stops "
            "writing two thirds of it after its last renewal.",
        ),
    ] = 12.0
    service_account: Annotated[
        str,
        Field(
            description="PERSONIO_SYNC_SERVICE_ACCOUNT: the operator's ServiceAccount (set by "
            "the chart), named in the command that lets it read a namespace's Secrets."
        ),
    ] = ""
    secret_reader_role: Annotated[
        str,
        Field(
            description="PERSONIO_SYNC_SECRET_READER_ROLE: the ClusterRole a namespace admin "
            "binds to let the operator read Secrets there (SEC-2; set by the chart when it "
            "serves every namespace); empty: no such role to point at."
        ),
    ] = ""
    secret_check_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=300,
            description="PERSONIO_SYNC_SECRET_CHECK_SECONDS: how often, at most, each "
            "resource's Secret is read (one GET) to notice a rotation; never above 300, so a "
            "changed Secret runs within five minutes (SEC-1).",
        ),
    ] = 300.0
    run_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=86400,
            description="PERSONIO_SYNC_RUN_TIMEOUT_SECONDS: a run still going after this long "
            "is stopped and reported as RunTimedOut; the next run carries on from there.",
        ),
    ] = 3600.0
    change_debounce_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=300,
            description="PERSONIO_SYNC_CHANGE_DEBOUNCE_SECONDS: how long a resource gathers "
            "Personio changes (webhooks, quick polls) before one targeted sync serves them all.",
        ),
    ] = 2.0
    change_full_threshold: Annotated[
        int,
        Field(
            ge=1,
            le=10000,
            description="PERSONIO_SYNC_CHANGE_FULL_THRESHOLD: more changed periods and persons "
            "than this at once are served by one full sync instead of a targeted one; also the "
            "most ids a resource keeps pending (HOOK-12).",
        ),
    ] = 50
    min_quick_interval_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=3600,
            description="PERSONIO_SYNC_MIN_QUICK_INTERVAL_SECONDS: the shortest spec."
            "quickInterval honoured; shorter ones are raised to it, so a value above 60 makes "
            "every resource's polls rarer (to limit the load on Personio). It can only make "
            "them rarer: the API server refuses a quickInterval under 1m, so a value under 60 "
            "changes nothing.",
        ),
    ] = 60.0

    webhook_header_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=60,
            description="PERSONIO_SYNC_WEBHOOK_HEADER_TIMEOUT_SECONDS: a connection to the "
            "webhook receiver that has not sent its request line and headers this long after "
            "it opened (or after its previous answer) is closed (HOOK-9).",
        ),
    ] = 5.0
    webhook_body_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=60,
            description="PERSONIO_SYNC_WEBHOOK_BODY_TIMEOUT_SECONDS: an authenticated delivery "
            "whose body has not arrived this long after its read began is answered 408 and "
            "closed (HOOK-9).",
        ),
    ] = 5.0
    webhook_max_connections: Annotated[
        int,
        Field(
            ge=1,
            le=65536,
            description="PERSONIO_SYNC_WEBHOOK_MAX_CONNECTIONS: open connections the webhook "
            "receiver keeps; past it the oldest one still sending its headers is closed, never "
            "an authenticated delivery (HOOK-9).",
        ),
    ] = 256
    webhook_connection_lifetime_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=600,
            description="PERSONIO_SYNC_WEBHOOK_CONNECTION_LIFETIME_SECONDS: no connection to "
            "the webhook receiver lives longer than this, whatever it does (HOOK-9); more than "
            "the header and body timeouts together.",
        ),
    ] = 15.0
    webhook_burst: Annotated[
        int,
        Field(
            ge=1,
            le=100000,
            description="PERSONIO_SYNC_WEBHOOK_BURST: deliveries one resource takes at once "
            "before the rate below applies; past both it answers 429 with Retry-After (HOOK-10).",
        ),
    ] = 100
    webhook_per_second: Annotated[
        float,
        Field(
            gt=0,
            le=10000,
            description="PERSONIO_SYNC_WEBHOOK_PER_SECOND: deliveries per second one resource "
            "takes in the long run (HOOK-10).",
        ),
    ] = 10.0
    webhook_wrong_tokens: Annotated[
        int,
        Field(
            ge=1,
            le=10000,
            description="PERSONIO_SYNC_WEBHOOK_WRONG_TOKENS: wrong tokens one caller address "
            "may present per PERSONIO_SYNC_WEBHOOK_WRONG_TOKEN_WINDOW_SECONDS; past it its "
            "guesses are answered 429 (HOOK-10). A correct token is never held back by it.",
        ),
    ] = 10
    webhook_wrong_token_window_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=3600,
            description="PERSONIO_SYNC_WEBHOOK_WRONG_TOKEN_WINDOW_SECONDS: the window of "
            "PERSONIO_SYNC_WEBHOOK_WRONG_TOKENS (HOOK-10).",
        ),
    ] = 5.0

    @field_validator("personio_api_url", "awork_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or len(value) < 10:
            raise ValueError(f"{value!r} is not an http(s) URL such as https://api.personio.de")
        return value

    @field_validator("webhook_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        """A URL paths are appended to: no query or fragment, no trailing slash."""
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as "
                             "https://hooks.example.com/webhooks/personio")  # fmt: skip
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError(f"{value!r}: no query or fragment; the operator appends "
                             "/<namespace>/<name> to it")  # fmt: skip
        return value

    @model_validator(mode="after")
    def _https_unless_allowed(self) -> OperatorSettings:
        for name, url in (("PERSONIO_API_URL", self.personio_api_url),
                          ("AWORK_API_URL", self.awork_api_url),
                          ("PERSONIO_SYNC_WEBHOOK_BASE_URL", self.webhook_base_url)):  # fmt: skip
            problem = url and plain_http_problem(url, allowed=self.insecure_http)
            if problem:
                raise ValueError(f"{name}: {problem}")
        return self

    @model_validator(mode="after")
    def _lifetime_fits_a_delivery(self) -> OperatorSettings:
        needed = self.webhook_header_timeout_seconds + self.webhook_body_timeout_seconds
        if self.webhook_connection_lifetime_seconds <= needed:
            raise ValueError(
                "PERSONIO_SYNC_WEBHOOK_CONNECTION_LIFETIME_SECONDS must be more than the header "
                f"and body timeouts together ({needed:g} s), or honest deliveries are cut"
            )
        return self

    @property
    def webhooks_enabled(self) -> bool:
        """HOOK-15: the receiver runs only when Personio has somewhere to deliver to."""
        return bool(self.webhook_base_url)

    def webhook_url(self, namespace: str, name: str) -> str:
        """Where Personio delivers for one resource: the operator's choice, never the
        resource author's (HOOK-7)."""
        if not self.webhook_base_url:
            raise ValueError("webhooks are off (PERSONIO_SYNC_WEBHOOK_BASE_URL is empty)")
        return f"{self.webhook_base_url}/{quote(namespace, safe='')}/{quote(name, safe='')}"

    @field_validator("namespaces", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(personio_url=self.personio_api_url, awork_url=self.awork_api_url)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, e.g. 127.0.0.1.example: not the loopback address


def plain_http_problem(url: str, *, allowed: bool) -> str | None:
    """Why `url` may not carry credentials, or None. https always may; http only to the
    loopback address (it never leaves the machine) or when explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme == "https" or allowed:
        return None
    if parts.scheme == "http" and _loopback(parts.hostname or ""):
        return None
    return (
        f"{url!r} is not an https:// URL; credentials travel only over TLS (set "
        "PERSONIO_SYNC_INSECURE_HTTP=true to allow plain http, e.g. for a test fake)"
    )


def env_name(field: str) -> str:
    """The environment variable that sets `field` (what an error message must name)."""
    alias = OperatorSettings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return ENV_PREFIX + field.upper()


def load_settings() -> OperatorSettings:
    """Read and validate the environment, naming the variable to fix when one is wrong."""
    try:
        return OperatorSettings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            name = env_name(field) if field in OperatorSettings.model_fields else field
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        raise ConfigError("invalid operator settings: " + "; ".join(problems)) from None
