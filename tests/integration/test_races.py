"""Races on one awork workspace over HTTP (issue 15): runs of one process write one after
the other (D-Writer), and the duplicates two processes' racing first runs leave behind
settle by themselves in the next run of each (D-Settle).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from runner_demo import period
from runner_helpers import (
    DEMO,
    OTHER_OWNER,
    OWNER,
    TODAY,
    fast_clients,
    make_spec,
    others,
    sandbox_for,
    sync,
)

from personio_sync.clients import PacerRegistry
from personio_sync.engine.marker import parse_marker
from personio_sync.engine.report import SyncReport
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.runner import Clients, Endpoints, WriterLocks, open_clients
from personio_sync.sync.targeted import sync_changes
from personio_sync_testing.fakes import Sandbox, demo_seed_path

DEMO_PERIODS = 7  # what the demo seed syncs


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    with sandbox_for(demo_seed_path()) as sandbox:
        # awork stores a create 300 ms after it arrives: racing runs both read before
        # either has written (the race D-Writer closes and D-Settle cleans up after).
        sandbox.awork.set_knobs(route_latency_ms={"POST /api/v1/absences": 300})
        yield sandbox


def per_period(sandbox: Sandbox) -> Counter[str]:
    markers = (parse_marker(a.externalProvider) for a in sandbox.awork_state.absences.values())
    return Counter(m[1] for m in markers if m is not None)


def owners(sandbox: Sandbox) -> Counter[str]:
    markers = (parse_marker(a.externalProvider) for a in sandbox.awork_state.absences.values())
    return Counter(m[0] for m in markers if m is not None)


@asynccontextmanager
async def process_clients(sandbox: Sandbox, writers: WriterLocks | None) -> AsyncIterator[Clients]:
    """A run's clients as the operator opens them: with the process's writer locks."""
    async with fast_clients(sandbox) as clients:
        workspace = (
            writers.get(sandbox.awork_url, DEMO.awork_api_key) if writers is not None else None
        )
        yield replace(clients, workspace=workspace)


async def first_run(sandbox: Sandbox, owner: str, writers: WriterLocks | None) -> SyncReport:
    async with process_clients(sandbox, writers) as clients:
        return await sync(sandbox, owner=owner, clients=clients)


async def test_d_writer_two_first_runs_at_once_on_one_workspace_never_duplicate(
    demo: Sandbox,
) -> None:
    """Two PersonioSyncs of one process, same Personio, same workspace, started together:
    the second plans after the first has written, so it reports conflicts instead."""
    writers = WriterLocks()
    hand_made = others(demo)
    reports = await asyncio.gather(*(first_run(demo, o, writers) for o in (OWNER, OTHER_OWNER)))
    assert set(per_period(demo).values()) == {1} and len(per_period(demo)) == DEMO_PERIODS
    created = sorted(r.actions.created for r in reports)
    conflicts = sorted(r.actions.conflicts for r in reports)
    assert (created, conflicts) == ([0, DEMO_PERIODS], [0, DEMO_PERIODS])
    assert {k: v for k, v in others(demo).items() if k in hand_made} == hand_made
    assert len(writers) == 0  # the workspaces went with their runs


async def test_d_writer_a_targeted_sync_and_a_full_run_take_turns(demo: Sandbox) -> None:
    """A targeted sync of one resource and a full run of another on the same workspace."""
    writers = WriterLocks()

    async def targeted() -> SyncReport:
        async with process_clients(demo, writers) as clients:
            return await sync_changes(
                policy_of(make_spec()),
                clients,
                owner_key=OTHER_OWNER,
                period_ids=[period(1)],
                today=TODAY,
            )

    await asyncio.gather(first_run(demo, OWNER, writers), targeted())
    assert set(per_period(demo).values()) == {1} and len(per_period(demo)) == DEMO_PERIODS


async def test_d_settle_racing_first_runs_of_two_processes_settle_in_their_next_runs(
    demo: Sandbox,
) -> None:
    """Two installations share no lock: their racing first runs may both create. The
    next run of each removes the duplicates: the owner of every period's older copy keeps
    it, the other deletes its own and reports the conflict; hand-made absences stay."""
    hand_made = others(demo)
    await asyncio.gather(*(first_run(demo, o, None) for o in (OWNER, OTHER_OWNER)))
    assert max(per_period(demo).values()) == 2  # the race this rule is for: both created
    mine, theirs = await sync(demo), await sync(demo, owner=OTHER_OWNER)
    assert set(per_period(demo).values()) == {1} and len(per_period(demo)) == DEMO_PERIODS
    held = owners(demo)
    assert mine.actions.conflicts == held[OTHER_OWNER] == mine.actions.deleted
    assert theirs.actions.conflicts == held[OWNER]
    assert {c.owner for c in mine.conflicts} <= {OTHER_OWNER}
    assert {k: v for k, v in others(demo).items() if k in hand_made} == hand_made
    again = await asyncio.gather(sync(demo), sync(demo, owner=OTHER_OWNER))
    assert [r.actions.created + r.actions.deleted + r.actions.updated for r in again] == [0, 0]


async def test_fair_1_d_writer_runs_opened_on_one_workspace_share_its_pacer_and_writer(
    demo: Sandbox,
) -> None:
    """An empty registry is still a registry (it once counted as "none" and shared nothing)."""
    pacers, writers = PacerRegistry(), WriterLocks()
    endpoints = Endpoints(demo.personio_url, demo.awork_url)
    async with (
        open_clients(DEMO, endpoints, pacers=pacers, writers=writers) as one,
        open_clients(DEMO, endpoints, pacers=pacers, writers=writers) as two,
    ):
        assert len(pacers) == len(writers) == 1
        assert one.workspace is not None and one.workspace is two.workspace
