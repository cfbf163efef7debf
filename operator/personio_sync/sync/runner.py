"""One sync run: read both systems through the clients, plan with the engine, apply (R13-R16).

This is the only place that joins I/O and rules: the engine decides, this module
performs, isolating per-item failures (R15) and reporting progress for long runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx

from personio_sync.clients import PacerRegistry, TokenCache, fence_writes
from personio_sync.clients.awork import AworkClient
from personio_sync.clients.personio import PersonioClient
from personio_sync.engine.marker import ANY_OWNER, owner_prefix
from personio_sync.engine.model import DateRange
from personio_sync.engine.policy import SyncPolicy
from personio_sync.engine.reconcile import Snapshot, reconcile
from personio_sync.engine.report import SyncReport
from personio_sync.engine.window import sync_window, today_in
from personio_sync.errors import AworkError, PersonioError, SyncError
from personio_sync.sync.apply import Fence, apply_plan
from personio_sync.sync.config import (
    DEFAULT_AWORK_URL,
    DEFAULT_PERSONIO_URL,
    Credentials,
    Endpoints,
    Tuning,
)
from personio_sync.sync.progress import Progress, ProgressCallback

__all__ = [
    "DEFAULT_AWORK_URL",
    "DEFAULT_PERSONIO_URL",
    "Clients",
    "Credentials",
    "Endpoints",
    "Fence",
    "Progress",
    "ProgressCallback",
    "Tuning",
    "delete_owned",
    "open_clients",
    "read_snapshot",
    "run_sync",
]


@dataclass
class Clients:
    personio: PersonioClient
    awork: AworkClient


@asynccontextmanager
async def open_clients(
    credentials: Credentials,
    endpoints: Endpoints,
    tuning: Tuning = Tuning(),
    fence: Fence | None = None,
    *,
    pacers: PacerRegistry | None = None,
    tokens: TokenCache | None = None,
) -> AsyncIterator[Clients]:
    """Both clients on one pooled HTTP client each, closed when the run ends. With
    `pacers`, runs against the same awork workspace share one rate-limit budget (FAIR-1);
    with `tokens`, successive runs reuse a Personio token until shortly before it expires."""
    limits = httpx.Limits(max_connections=tuning.max_connections)
    timeout = httpx.Timeout(tuning.timeout_seconds)
    async with (
        httpx.AsyncClient(timeout=timeout, limits=limits) as personio_http,
        httpx.AsyncClient(timeout=timeout, limits=limits) as awork_http,
    ):
        if fence is not None:  # checked as each write's bytes leave, every attempt (D-Lease)
            fence_writes(awork_http, fence)
        yield Clients(
            personio=PersonioClient(
                personio_http,
                endpoints.personio_url,
                credentials.personio_client_id,
                credentials.personio_client_secret,
                tokens=tokens,
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
    policy: SyncPolicy,
    credentials: Credentials,
    *,
    owner_key: str,
    endpoints: Endpoints = Endpoints(),
    today: date | None = None,
    progress: ProgressCallback | None = None,
    tuning: Tuning = Tuning(),
    clients: Clients | None = None,
    allow_mass_delete: bool = False,
    adopt_from: Collection[str] = (),
    fence: Fence | None = None,
) -> SyncReport:
    """Run one sync of what `policy` asks (`resource.policy.policy_of(spec)`). Raises a
    `personio_sync.errors.SyncError` when it cannot run at all
    (credentials, scopes, e-mail not readable, vendor unreachable after retries); item
    failures do not raise, they are in the report. `owner_key` comes from
    `personio_sync.engine.marker.owner_key(namespace, name)`. Pass `clients` to reuse
    open clients (and read their request statistics afterwards; open them with the same
    `fence`). `allow_mass_delete` lets this one run delete past the deletion guard
    (D-Guard); `adopt_from` names owner keys whose absences this owner takes over
    (D-Owner). `fence` is called before every awork write and raises to stop the run
    (errors.LeadershipLost when the operator replica lost its leader Lease)."""
    started = time.monotonic()
    today = today or today_in(policy.time_zone, datetime.now(UTC))
    options = _Options(progress, tuning, fence, allow_mass_delete, frozenset(adopt_from))
    if clients is None:
        async with open_clients(credentials, endpoints, tuning, fence) as opened:
            report = await _run(policy, opened, owner_key, today, options)
    else:
        report = await _run(policy, clients, owner_key, today, options)
    report.duration_seconds = round(time.monotonic() - started, 3)
    return report


@dataclass(frozen=True)
class _Options:
    """How one run goes, beyond what to sync (run_sync's keyword arguments)."""

    progress: ProgressCallback | None
    tuning: Tuning
    fence: Fence | None
    allow_mass_delete: bool
    adopt_from: frozenset[str]


async def _run(
    policy: SyncPolicy, clients: Clients, owner: str, today: date, options: _Options
) -> SyncReport:
    window = sync_window(today, policy.past_days, policy.future_days)
    snapshot = await read_snapshot(clients, window)
    outcome = reconcile(
        policy,
        snapshot,
        today=today,
        owner=owner,
        allow_mass_delete=options.allow_mass_delete,
        adopt_from=options.adopt_from,
    )
    if not policy.dry_run:
        await apply_plan(
            outcome.plan,
            clients.awork,
            outcome.report,
            progress=options.progress,
            concurrency=options.tuning.write_concurrency,
            fence=options.fence,
        )
    return outcome.report


async def read_snapshot(clients: Clients, window: DateRange) -> Snapshot:
    """Read both systems at once; when both fail, Personio's error is raised first.

    awork is read for every owner's markers, not only ours: the engine needs the others
    to see conflicts (D-Owner).

    Every read happens before any write, so a credential problem on either side
    leaves awork untouched (R23).
    """
    results = await asyncio.gather(
        clients.personio.list_persons(),
        clients.personio.list_absence_types(),
        clients.personio.list_absence_periods(window),
        clients.awork.list_users(),
        clients.awork.list_owned_absences(ANY_OWNER),
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
    fence: Fence | None = None,
) -> int:
    """Delete every awork absence this sync owns (R19, deletionPolicy Delete); returns the count.

    Raises the first `AworkError`; the deletes still in flight are cancelled, and the
    finalizer's next attempt lists what is left. Pass `clients` to reuse open clients;
    `fence` as for `run_sync`.
    """
    if clients is None:
        async with open_clients(credentials, endpoints, tuning, fence) as opened:
            return await _delete_all(opened.awork, owner_key, tuning.write_concurrency, fence)
    return await _delete_all(clients.awork, owner_key, tuning.write_concurrency, fence)


async def _delete_all(
    awork: AworkClient, owner: str, concurrency: int, fence: Fence | None = None
) -> int:
    prefix = owner_prefix(owner)
    listed = await awork.list_owned_absences(prefix)
    owned = [a for a in listed if (a.external_provider or "").startswith(prefix)]  # D-Owner
    semaphore = asyncio.Semaphore(concurrency)

    async def delete(absence_id: str) -> None:
        async with semaphore:
            if fence is not None:
                fence()
            await awork.delete_absence(absence_id)

    try:  # a TaskGroup, not gather: a failure must not leave deletes running unawaited
        async with asyncio.TaskGroup() as group:
            for absence in owned:
                group.create_task(delete(absence.id))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return len(owned)
