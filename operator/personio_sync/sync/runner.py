"""One sync run: read both systems through the clients, plan with the engine, apply (R13-R16).

This is the only place that joins I/O and rules: the engine decides, this module
performs, isolating per-item failures (R15) and reporting progress for long runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from personio_sync.clients import Fence, PacerRegistry, TokenCache
from personio_sync.clients.awork import AworkClient
from personio_sync.clients.personio import PersonioClient
from personio_sync.engine.marker import ANY_OWNER, owner_prefix
from personio_sync.engine.model import AworkAbsence, DateRange
from personio_sync.engine.policy import SyncPolicy
from personio_sync.engine.reconcile import Outcome, Snapshot, reconcile
from personio_sync.engine.report import SyncReport
from personio_sync.engine.window import sync_window, today_in
from personio_sync.errors import AworkError, PersonioError, SyncError
from personio_sync.sync.apply import apply_plan, drain
from personio_sync.sync.config import (
    DEFAULT_AWORK_URL,
    DEFAULT_PERSONIO_URL,
    Credentials,
    Endpoints,
    Tuning,
)
from personio_sync.sync.progress import Progress, ProgressCallback
from personio_sync.sync.vendor_http import VendorHttp
from personio_sync.sync.writers import Workspace, WriterLocks, WriterTurn

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
    "WriterLocks",
    "delete_owned",
    "open_clients",
    "read_snapshot",
    "run_sync",
]


_BOTH = frozenset({"personio", "awork"})  # SyncError.answered after the snapshot


@dataclass
class Clients:
    personio: PersonioClient
    awork: AworkClient
    workspace: Workspace | None = None  # the awork workspace's writer lock (D-Writer)


@asynccontextmanager
async def open_clients(
    credentials: Credentials,
    endpoints: Endpoints,
    tuning: Tuning = Tuning(),
    fence: Fence | None = None,
    *,
    pacers: PacerRegistry | None = None,
    tokens: TokenCache | None = None,
    writers: WriterLocks | None = None,
    http: VendorHttp | None = None,
) -> AsyncIterator[Clients]:
    """Both vendor clients for one run. With `http` they go through the process's shared
    pools (vendor_http.py, already fenced), else through a pair opened and closed here.
    With `pacers`, runs against the same awork workspace share one rate-limit budget
    (FAIR-1); with `tokens`, successive runs reuse a Personio token until shortly before
    it expires; with `writers`, runs against the same workspace write one after the other
    (D-Writer)."""
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = VendorHttp.open(tuning, fence)
            stack.push_async_callback(http.aclose)
        yield _clients(credentials, endpoints, tuning, http, pacers, tokens, writers)


def _clients(
    credentials: Credentials,
    endpoints: Endpoints,
    tuning: Tuning,
    http: VendorHttp,
    pacers: PacerRegistry | None,
    tokens: TokenCache | None,
    writers: WriterLocks | None,
) -> Clients:
    names = credentials.names
    return Clients(
        personio=PersonioClient(
            http.personio,
            endpoints.personio_url,
            credentials.personio_client_id,
            credentials.personio_client_secret,
            tokens=tokens,
            credential_names=names.personio if names else None,
        ),
        awork=AworkClient(
            http.awork,
            endpoints.awork_url,
            credentials.awork_api_key,
            settle_seconds=tuning.settle_seconds,
            pacer=pacers.get(endpoints.awork_url, credentials.awork_api_key)
            if pacers is not None
            else None,
            credential_names=names.awork if names else None,
        ),
        workspace=writers.get(endpoints.awork_url, credentials.awork_api_key)
        if writers is not None
        else None,
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
    async with WriterTurn(None if policy.dry_run else clients.workspace) as turn:
        turn.mark()
        snapshot = await read_snapshot(clients, window)
        try:
            outcome = _plan(policy, snapshot, owner, today, options)
            while await turn.claim(c.period_id for c in outcome.plan.creates):  # D-Writer
                turn.mark()  # another run created some of these meanwhile: read awork again
                owned = await clients.awork.list_owned_absences(ANY_OWNER)
                snapshot = replace(snapshot, owned=owned)
                outcome = _plan(policy, snapshot, owner, today, options)
            if not policy.dry_run:
                turn.wrote = outcome.plan.writes > 0
                await apply_plan(
                    outcome.plan,
                    clients.awork,
                    outcome.report,
                    progress=options.progress,
                    concurrency=options.tuning.write_concurrency,
                    fence=options.fence,
                )
        except SyncError as exc:  # an unknown absence type, say: both vendors had answered
            exc.answered = _BOTH
            raise
    return outcome.report


def _plan(
    policy: SyncPolicy, snapshot: Snapshot, owner: str, today: date, options: _Options
) -> Outcome:
    return reconcile(
        policy,
        snapshot,
        today=today,
        owner=owner,
        allow_mass_delete=options.allow_mass_delete,
        adopt_from=options.adopt_from,
    )


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
                if isinstance(error, SyncError):
                    error.answered = _answered(results[:3], results[3:])
                raise error
    persons, types, periods, users, owned = results
    return Snapshot(persons, types, periods, users, owned)  # type: ignore[arg-type]


def _answered(personio: Sequence[object], awork: Sequence[object]) -> frozenset[str]:
    """The vendors that answered a read: they accepted the credential (R20)."""
    return frozenset(
        vendor
        for vendor, reads in (("personio", personio), ("awork", awork))
        if any(not isinstance(read, BaseException) for read in reads)
    )


async def delete_owned(
    credentials: Credentials,
    *,
    owner_key: str,
    endpoints: Endpoints = Endpoints(),
    tuning: Tuning = Tuning(),
    clients: Clients | None = None,
    fence: Fence | None = None,
    writers: WriterLocks | None = None,
) -> int:
    """Delete every awork absence this sync owns (R19, deletionPolicy Delete); returns the count.

    Raises the first `AworkError` once the deletes already sent have finished
    (D-Once-3); the finalizer's next attempt lists what is left. Pass `clients` to reuse
    open clients; `fence` and `writers` as for `open_clients`.
    """
    if clients is None:
        opened = open_clients(credentials, endpoints, tuning, fence, writers=writers)
        async with opened as fresh:
            return await _delete_all(fresh, owner_key, tuning.write_concurrency, fence)
    return await _delete_all(clients, owner_key, tuning.write_concurrency, fence)


async def _delete_all(
    clients: Clients, owner: str, concurrency: int, fence: Fence | None = None
) -> int:
    """A clean-up creates nothing, so it claims nothing (D-Writer): it deletes only
    absences carrying this owner's marker, which no other run writes."""
    awork, prefix = clients.awork, owner_prefix(owner)
    listed = await awork.list_owned_absences(prefix)
    owned = [a for a in listed if (a.external_provider or "").startswith(prefix)]  # D-Owner
    await _delete_each(awork, owned, concurrency, fence)
    return len(owned)


async def _delete_each(
    awork: AworkClient, owned: list[AworkAbsence], concurrency: int, fence: Fence | None
) -> None:
    """A delete that stops the clean-up lets those in flight finish (D-Once-3): awork
    would carry out a cancelled DELETE all the same, behind the next attempt's list."""

    async def delete(absence: AworkAbsence) -> None:
        if fence is not None:
            fence()
        await awork.delete_absence(absence.id)

    await drain(owned, len(owned), concurrency, delete)
