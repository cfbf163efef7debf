"""A targeted sync run (issue 9, NRT-1): bring a few changed Personio periods to awork.

Where a full run reads both systems whole, this one fetches each named period by id
(a 404 means it was deleted), lists the named persons' periods in the window, and
reads only the personio-sync absences whose markers name those periods: a handful of
requests per change. Persons, absence types and awork users are needed whole for
matching (R6-R8); they are read once and kept for a few minutes (`Directory`), and a
person a change names is fetched again. The plan is the engine's (engine/targeted.py),
the writes are apply.py's, so fencing and per-item failures work as in a full run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from personio_sync.clients import Fence
from personio_sync.engine.matching import Matching, Override, match_users
from personio_sync.engine.model import AbsencePeriod, AbsenceType, AworkUser, Person
from personio_sync.engine.policy import SyncPolicy
from personio_sync.engine.reconcile import Snapshot
from personio_sync.engine.report import SyncReport
from personio_sync.engine.slices import Slice, reconcile_targeted
from personio_sync.engine.window import sync_window, today_in
from personio_sync.sync.apply import apply_plan
from personio_sync.sync.runner import Clients
from personio_sync.sync.writers import WriterTurn

T = TypeVar("T")

DIRECTORY_TTL_SECONDS = 600.0
FETCH_CONCURRENCY = 8


@dataclass
class Directory:
    """Who is who, as a full run would read it: every person, type and awork user."""

    persons: dict[str, Person]
    types: list[AbsenceType]
    users: list[AworkUser]
    read_at: float


class DirectoryCache:
    """The directory kept between one resource's targeted runs (in memory only)."""

    def __init__(
        self,
        ttl_seconds: float = DIRECTORY_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._held: Directory | None = None

    async def get(self, clients: Clients) -> Directory:
        held = self._held
        if held is None or self._clock() - held.read_at > self._ttl:
            persons, types, users = await asyncio.gather(
                clients.personio.list_persons(),
                clients.personio.list_absence_types(),
                clients.awork.list_users(),
            )
            held = Directory({p.id: p for p in persons}, types, users, self._clock())
            self._held = held
        return held

    def forget(self) -> None:
        """After a full run, or when the credentials change: read afresh next time."""
        self._held = None


async def sync_changes(
    policy: SyncPolicy,
    clients: Clients,
    *,
    owner_key: str,
    period_ids: Collection[str] = (),
    person_ids: Collection[str] = (),
    directory: DirectoryCache | None = None,
    today: date | None = None,
    adopt_from: Collection[str] = (),
    fence: Fence | None = None,
    concurrency: int = 16,
) -> SyncReport:
    """Sync these periods, and these persons' periods in the window, as a full run would
    (NRT-1, NRT-2). Raises what a full run raises when it cannot run, and
    engine.targeted.WiderThanTargeted when only a full run may decide (NRT-3)."""
    started = time.monotonic()
    today = today or today_in(policy.time_zone, datetime.now(UTC))
    window = sync_window(today, policy.past_days, policy.future_days)
    held = await (directory or DirectoryCache()).get(clients)
    scope = set(period_ids)
    listed: list[AbsencePeriod] = []
    if person_ids:
        affected = await _refresh_persons(clients, held, person_ids, list(policy.overrides))
        listed = await clients.personio.list_person_periods(affected, window)
        scope |= {p.id for p in listed}
    fetched = await _bounded(clients.personio.get_absence_period, sorted(period_ids))
    by_id = {p.id: p for p in listed} | {p.id: p for p in fetched if p is not None}
    async with WriterTurn(None if policy.dry_run else clients.workspace) as turn:  # D-Writer
        while True:
            turn.mark()
            owned = await clients.awork.list_marked_absences(scope) if scope else []
            snapshot = Snapshot(
                list(held.persons.values()), held.types, list(by_id.values()), held.users, owned
            )
            outcome = reconcile_targeted(
                policy,
                Slice(frozenset(scope), snapshot),
                today=today,
                owner=owner_key,
                adopt_from=adopt_from,
            )
            if not await turn.claim(c.period_id for c in outcome.plan.creates):
                break  # nobody created these meanwhile: the read holds
        if not policy.dry_run:
            turn.wrote = outcome.plan.writes > 0
            await apply_plan(
                outcome.plan, clients.awork, outcome.report, concurrency=concurrency, fence=fence
            )
    outcome.report.duration_seconds = round(time.monotonic() - started, 3)
    return outcome.report


async def _refresh_persons(
    clients: Clients, held: Directory, person_ids: Collection[str], overrides: list[Override]
) -> set[str]:
    """Fetch the named persons again; returns them and everyone whose match that changes
    (an e-mail that two people now share makes both ambiguous, R7)."""
    before = match_users(list(held.persons.values()), held.users, overrides)
    ids = sorted(person_ids)
    for pid, person in zip(ids, await _bounded(clients.personio.get_person, ids), strict=True):
        if person is None:
            held.persons.pop(pid, None)
        else:
            held.persons[pid] = person
    after = match_users(list(held.persons.values()), held.users, overrides)
    return set(person_ids) | _rematched(before, after)


def _rematched(before: Matching, after: Matching) -> set[str]:
    everyone = before.user_of.keys() | after.user_of.keys()
    everyone |= before.ambiguous_persons | after.ambiguous_persons
    return {
        pid
        for pid in everyone
        if before.user_of.get(pid) != after.user_of.get(pid)
        or (pid in before.ambiguous_persons) != (pid in after.ambiguous_persons)
    }


async def _bounded(
    fetch: Callable[[str], Awaitable[T]], ids: Sequence[str], limit: int = FETCH_CONCURRENCY
) -> list[T]:
    """fetch(id) for each id, a few at a time, in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(ident: str) -> T:
        async with semaphore:
            return await fetch(ident)

    return list(await asyncio.gather(*(one(i) for i in ids)))
