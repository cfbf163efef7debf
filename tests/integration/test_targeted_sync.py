"""NRT-1 / NRT-2 over HTTP: targeted syncs against the fakes end where a full sync ends.

Hypothesis draws Personio changes (move, reject, cancel, new absence, approval, e-mail
change); each is followed by a targeted sync of what it changed, as a webhook or the
quick poller would name it. Afterwards awork must hold exactly what one full sync
from scratch writes (its owned absences removed first), and every targeted run must
have cost fewer than ten requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runner_helpers import (
    OWNER,
    TODAY,
    clear_journals,
    day_period,
    expected_rows,
    fast_clients,
    marker_prefix,
    owned_rows,
    sandbox_for,
    sync,
)
from test_convergence_properties import (
    HALVES,
    PERSONS,
    SICK,
    VACATION,
    Add,
    Drop,
    Email,
    Move,
    base_company,
    change_email,
)

from personio_sync.controller.loop.change_queue import POLL_MARGIN
from personio_sync.engine.report import SyncReport
from personio_sync.resource.spec import parse_spec
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.runner import Clients
from personio_sync.sync.targeted import DirectoryCache, sync_changes
from personio_sync_testing.fakes import Sandbox

SPEC = parse_spec({"secretRef": {"name": "acme-credentials"}})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with sandbox_for(base_company()) as running:
        yield running


@dataclass(frozen=True)
class Approve:
    pick: int


offsets = st.integers(-40, 200)
days, halves, picks = st.integers(1, 6), st.integers(0, len(HALVES) - 1), st.integers(0, 30)
CHANGES = st.one_of(
    st.builds(Move, picks, offsets, days, halves),
    st.builds(Drop, picks, st.booleans()),
    st.builds(Add, st.integers(0, 4), offsets, days, halves, st.booleans()),
    st.builds(Approve, picks),
    st.builds(Email, st.integers(0, 4), st.integers(0, 2)),
)


def change(sandbox: Sandbox, step: Any, serial: int) -> tuple[set[str], set[str]]:
    """Apply one Personio change; returns the (period ids, person ids) it touched."""
    personio = sandbox.personio_state
    ids = sorted(personio.periods)
    if isinstance(step, Email):
        change_email(sandbox, PERSONS[step.person], step.target)
        return set(), {PERSONS[step.person]}
    if isinstance(step, Add):
        start, end = HALVES[step.halves]
        first = TODAY + timedelta(days=step.offset)
        new = day_period(f"n-{serial}", PERSONS[step.person], SICK, first, step.days)
        new["starts_from"]["type"], new["ends_at"]["type"] = start, end
        new["status"] = "PENDING" if step.pending else "APPROVED"
        personio.put_period(new)
        return {new["id"]}, set()
    if not ids:
        return set(), set()
    chosen = ids[step.pick % len(ids)]
    if isinstance(step, Move):
        start, end = HALVES[step.halves]
        moved = day_period("x", "x", VACATION, TODAY + timedelta(days=step.offset), step.days)
        moved["starts_from"]["type"], moved["ends_at"]["type"] = start, end
        personio.move_period(chosen, moved["starts_from"], moved["ends_at"])
    elif isinstance(step, Drop) and step.reject:
        personio.reject(chosen)
    elif isinstance(step, Drop):
        personio.cancel(chosen)
    else:
        personio.approve(chosen)
    return {chosen}, set()


async def targeted(
    clients: Clients, directory: DirectoryCache, periods: set[str], persons: set[str]
) -> SyncReport:
    return await sync_changes(
        policy_of(SPEC),
        clients,
        owner_key=OWNER,
        period_ids=periods,
        person_ids=persons,
        directory=directory,
        today=TODAY,
    )


def requests(sandbox: Sandbox) -> int:
    personio = sandbox.personio.journal
    return (
        len(personio.entries())
        - personio.count("POST", "/v2/auth")
        + len(sandbox.awork.journal.entries())
    )


def wipe_owned(sandbox: Sandbox) -> None:
    state = sandbox.awork_state
    for absence in state.dump()["absences"]:
        if (absence.get("externalProvider") or "").startswith(marker_prefix(OWNER)):
            state.delete_absence(absence["id"])


async def scenario(sandbox: Sandbox, steps: list[Any]) -> None:
    async with fast_clients(sandbox) as clients:
        await sync(sandbox, clients=clients)  # the state a full sync left
        directory = DirectoryCache()
        await directory.get(clients)  # read once; not part of any change's cost
        for serial, step in enumerate(steps):
            periods, persons = change(sandbox, step, serial)
            clear_journals(sandbox)
            await targeted(clients, directory, periods, persons)
            assert requests(sandbox) < 10, f"{requests(sandbox)} requests for one change"
    after_targeted = owned_rows(sandbox)
    assert after_targeted == expected_rows(sandbox)
    wipe_owned(sandbox)
    await sync(sandbox)
    assert after_targeted == owned_rows(sandbox), "targeted syncs ended elsewhere than a full sync"


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(CHANGES, min_size=1, max_size=8))
async def test_nrt_2_targeted_syncs_end_where_a_full_sync_from_scratch_ends(
    sandbox: Sandbox, steps: list[Any]
) -> None:
    sandbox.reset()
    await scenario(sandbox, steps)


async def test_nrt_1_a_deleted_period_deletes_its_absence_in_three_requests(
    sandbox: Sandbox,
) -> None:
    sandbox.reset()
    async with fast_clients(sandbox) as clients:
        await sync(sandbox, clients=clients)
        directory = DirectoryCache()
        await directory.get(clients)
        sandbox.personio_state.cancel("p-1")
        clear_journals(sandbox)
        report = await targeted(clients, directory, {"p-1"}, set())
    assert report.actions.deleted == 1
    assert [e.status for e in sandbox.personio.journal.entries() if e.method == "GET"] == [404]
    assert requests(sandbox) == 3  # the period by id, the absences that name it, one delete
    assert not any(r.marker and r.marker.endswith(":p-1") for r in owned_rows(sandbox))


async def test_nrt_4_the_poll_margin_covers_an_updated_at_an_hour_off(sandbox: Sandbox) -> None:
    """Personio may report updated_at an hour behind: a poll that looks back only to its
    last run misses the change, one that looks back 65 minutes (the poller's margin) sees
    it; an hour ahead is seen either way."""
    sandbox.reset()
    sandbox.personio.set_knobs(updated_at_skew_s=-3600)
    last_poll = datetime.now() - timedelta(seconds=5)  # the fake's clock: naive local time
    sandbox.personio_state.approve("p-7")
    async with fast_clients(sandbox) as clients:
        tight = await clients.personio.list_period_stamps(last_poll)
        covered = await clients.personio.list_period_stamps(last_poll - POLL_MARGIN)
        sandbox.personio.set_knobs(updated_at_skew_s=3600)
        ahead = await clients.personio.list_period_stamps(last_poll)
    assert "p-7" not in tight
    assert "p-7" in covered and "p-7" in ahead
    assert covered["p-7"] < ahead["p-7"]
