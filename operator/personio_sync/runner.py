"""One sync run: read both systems through the clients, plan with the engine, apply (R13-R16).

This is the only place that joins I/O and rules: the engine decides, this module
performs, isolating per-item failures (R15) and reporting progress for long runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from personio_sync.engine.report import SyncReport
from personio_sync.spec import PersonioSyncSpec

DEFAULT_PERSONIO_URL = "https://api.personio.de"
DEFAULT_AWORK_URL = "https://api.awork.com/api/v1"


@dataclass(frozen=True)
class Credentials:
    """The three values of the referenced Secret; reprs never show the secrets (R21)."""

    personio_client_id: str = field(repr=False)
    personio_client_secret: str = field(repr=False)
    awork_api_key: str = field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be printed (for log redaction and tests)."""
        return (self.personio_client_id, self.personio_client_secret, self.awork_api_key)


@dataclass(frozen=True)
class Endpoints:
    """Vendor base URLs: operator configuration, never a resource field (R22)."""

    personio_url: str = DEFAULT_PERSONIO_URL
    awork_url: str = DEFAULT_AWORK_URL


@dataclass(frozen=True)
class Progress:
    """Where a long run stands: writes done / planned, pace, and what limits the pace."""

    done: int
    total: int
    rate_per_second: float
    eta_seconds: float | None
    bottleneck: str | None  # "awork" or "personio" rate limit, None when not limited


ProgressCallback = Callable[[Progress], Awaitable[None]]


async def run_sync(
    spec: PersonioSyncSpec,
    credentials: Credentials,
    *,
    owner_key: str,
    endpoints: Endpoints = Endpoints(),
    today: date | None = None,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Run one sync. Raises a `personio_sync.errors.SyncError` when it cannot run at all
    (credentials, scopes, e-mail not readable, vendor unreachable after retries); item
    failures do not raise, they are in the report. `owner_key` comes from
    `personio_sync.engine.marker.owner_key(namespace, name)`."""
    raise NotImplementedError


async def delete_owned(
    credentials: Credentials, *, owner_key: str, endpoints: Endpoints = Endpoints()
) -> int:
    """Delete every awork absence this sync owns (R19, deletionPolicy Delete); returns the count."""
    raise NotImplementedError
