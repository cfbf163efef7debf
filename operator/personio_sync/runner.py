"""One sync run: read both systems through the clients, plan with the engine, apply (R13-R16).

This is the only place that joins I/O and rules: the engine decides, this module
performs, isolating per-item failures (R15) and reporting progress for long runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx

from personio_sync.apply import apply_plan
from personio_sync.clients import PacerRegistry
from personio_sync.clients.awork import AworkClient
from personio_sync.clients.personio import PersonioClient
from personio_sync.engine.marker import owner_prefix
from personio_sync.engine.model import DateRange
from personio_sync.engine.reconcile import Snapshot, reconcile
from personio_sync.engine.report import SyncReport
from personio_sync.engine.window import sync_window, today_in
from personio_sync.errors import AworkError, PersonioError, SyncError
from personio_sync.progress import Progress, ProgressCallback
from personio_sync.spec import PersonioSyncSpec

__all__ = [
    "Clients",
    "Credentials",
    "Endpoints",
    "Progress",
    "ProgressCallback",
    "Tuning",
    "delete_owned",
    "open_clients",
    "read_snapshot",
    "run_sync",
]

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
class Tuning:
    """How hard a run pushes: write concurrency and HTTP timeouts."""

    write_concurrency: int = 16
    timeout_seconds: float = 30.0


@dataclass
class Clients:
    personio: PersonioClient
    awork: AworkClient


@asynccontextmanager
async def open_clients(
    credentials: Credentials,
    endpoints: Endpoints,
    tuning: Tuning = Tuning(),
    *,
    pacers: PacerRegistry | None = None,
) -> AsyncIterator[Clients]:
    """Both clients on one pooled HTTP client each, closed when the run ends. With
    `pacers`, runs against the same awork workspace share one rate-limit budget (FAIR-1)."""
    limits = httpx.Limits(max_connections=tuning.write_concurrency + 4)
    timeout = httpx.Timeout(tuning.timeout_seconds)
    async with (
        httpx.AsyncClient(timeout=timeout, limits=limits) as personio_http,
        httpx.AsyncClient(timeout=timeout, limits=limits) as awork_http,
    ):
        yield Clients(
            personio=PersonioClient(
                personio_http,
                endpoints.personio_url,
                credentials.personio_client_id,
                credentials.personio_client_secret,
            ),
            awork=AworkClient(
                awork_http,
                endpoints.awork_url,
                credentials.awork_api_key,
                pacer=pacers.get(endpoints.awork_url, credentials.awork_api_key)
                if pacers
                else None,
            ),
        )


async def run_sync(
    spec: PersonioSyncSpec,
    credentials: Credentials,
    *,
    owner_key: str,
    endpoints: Endpoints = Endpoints(),
    today: date | None = None,
    progress: ProgressCallback | None = None,
    tuning: Tuning = Tuning(),
    clients: Clients | None = None,
) -> SyncReport:
    """Run one sync. Raises a `personio_sync.errors.SyncError` when it cannot run at all
    (credentials, scopes, e-mail not readable, vendor unreachable after retries); item
    failures do not raise, they are in the report. `owner_key` comes from
    `personio_sync.engine.marker.owner_key(namespace, name)`. Pass `clients` to reuse
    open clients (and read their request statistics afterwards)."""
    started = time.monotonic()
    today = today or today_in(spec.timeZone, datetime.now(UTC))
    if clients is None:
        async with open_clients(credentials, endpoints, tuning) as opened:
            report = await _run(spec, opened, owner_key, today, progress, tuning)
    else:
        report = await _run(spec, clients, owner_key, today, progress, tuning)
    report.duration_seconds = round(time.monotonic() - started, 3)
    return report


async def _run(
    spec: PersonioSyncSpec,
    clients: Clients,
    owner: str,
    today: date,
    progress: ProgressCallback | None,
    tuning: Tuning,
) -> SyncReport:
    window = sync_window(today, spec.window.pastDays, spec.window.futureDays)
    snapshot = await read_snapshot(clients, window, owner)
    outcome = reconcile(spec, snapshot, today=today, owner=owner)
    if not spec.dryRun:
        await apply_plan(
            outcome.plan,
            clients.awork,
            outcome.report,
            progress=progress,
            concurrency=tuning.write_concurrency,
        )
    return outcome.report


async def read_snapshot(clients: Clients, window: DateRange, owner: str) -> Snapshot:
    """Read both systems at once; when both fail, Personio's error is raised first.

    Every read happens before any write, so a credential problem on either side
    leaves awork untouched (R23).
    """
    results = await asyncio.gather(
        clients.personio.list_persons(),
        clients.personio.list_absence_types(),
        clients.personio.list_absence_periods(window),
        clients.awork.list_users(),
        clients.awork.list_owned_absences(owner_prefix(owner)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    for kind in (PersonioError, AworkError, SyncError, BaseException):
        for error in errors:
            if isinstance(error, kind):
                raise error
    persons, types, periods, users, owned = results
    return Snapshot(persons, types, periods, users, owned)  # type: ignore[arg-type]


async def delete_owned(
    credentials: Credentials,
    *,
    owner_key: str,
    endpoints: Endpoints = Endpoints(),
    tuning: Tuning = Tuning(),
    clients: Clients | None = None,
) -> int:
    """Delete every awork absence this sync owns (R19, deletionPolicy Delete); returns the count.

    Raises the first `AworkError`; the deletes still in flight are cancelled, and the
    finalizer's next attempt lists what is left. Pass `clients` to reuse open clients.
    """
    if clients is None:
        async with open_clients(credentials, endpoints, tuning) as opened:
            return await _delete_all(opened.awork, owner_key, tuning.write_concurrency)
    return await _delete_all(clients.awork, owner_key, tuning.write_concurrency)


async def _delete_all(awork: AworkClient, owner: str, concurrency: int) -> int:
    owned = await awork.list_owned_absences(owner_prefix(owner))
    semaphore = asyncio.Semaphore(concurrency)

    async def delete(absence_id: str) -> None:
        async with semaphore:
            await awork.delete_absence(absence_id)

    try:  # a TaskGroup, not gather: a failure must not leave deletes running unawaited
        async with asyncio.TaskGroup() as group:
            for absence in owned:
                group.create_task(delete(absence.id))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return len(owned)
