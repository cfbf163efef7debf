"""D-Guard over HTTP: Personio glitches (an empty list, one cut short, no types) never
wipe awork, and a genuine large shrink waits for consent, then goes through.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runner_demo import company_credentials
from runner_helpers import (
    OWNER,
    TODAY,
    awork_writes,
    clear_journals,
    expected_rows,
    owned_rows,
    sandbox_for,
    sync,
)

from personio_sync.engine.marker import owner_prefix
from personio_sync.errors import PersonioDataIncomplete
from personio_sync.sync.runner import Credentials
from personio_sync_testing.fakes import Sandbox, generate_company


@pytest.fixture
def company() -> Iterator[tuple[Sandbox, Credentials]]:
    """About 180 periods over two pages of Personio's list, most of them synced."""
    seed = generate_company(60, today=TODAY, seed=4, absences_per_person=3)
    with sandbox_for(seed) as sandbox:
        yield sandbox, company_credentials(seed)


def owned_period_ids(sandbox: Sandbox) -> list[str]:
    prefix = owner_prefix(OWNER)
    markers = [a.get("externalProvider") or "" for a in sandbox.awork_state.dump()["absences"]]
    return sorted(m[len(prefix) :] for m in markers if m.startswith(prefix))


async def test_d_guard_empty_periods_list_deletes_nothing(demo: Sandbox) -> None:
    await sync(demo)
    before = owned_rows(demo)
    demo.personio.set_knobs(list_cap={"periods": 0})
    clear_journals(demo)

    report = await sync(demo)

    assert report.held is not None and report.held.source_empty
    assert (report.actions.deleted, report.actions.held_deletes) == (0, len(before))
    assert awork_writes(demo) == [] and owned_rows(demo) == before


async def test_d_guard_cut_short_periods_list_deletes_nothing(
    company: tuple[Sandbox, Credentials],
) -> None:
    sandbox, credentials = company
    await sync(sandbox, credentials=credentials)
    before = owned_rows(sandbox)
    assert len(before) > 100  # so that one page of 100 periods is a cut-short answer
    sandbox.personio.set_knobs(list_cap={"periods": 100})
    clear_journals(sandbox)

    held = await sync(sandbox, credentials=credentials)

    assert held.held is not None and not held.held.source_empty
    assert held.actions.deleted == 0 and held.actions.held_deletes > held.held.limit
    assert awork_writes(sandbox) == [] and owned_rows(sandbox) == before
    sandbox.personio.set_knobs(list_cap={})  # Personio recovers: nothing to repair
    recovered = await sync(sandbox, credentials=credentials)
    assert recovered.held is None and recovered.actions.unchanged == len(before)
    assert awork_writes(sandbox) == []


async def test_d_guard_empty_types_list_changes_nothing(demo: Sandbox) -> None:
    await sync(demo)
    before = owned_rows(demo)
    demo.personio.set_knobs(list_cap={"absence_types": 0})
    clear_journals(demo)

    with pytest.raises(PersonioDataIncomplete, match="no absence types"):
        await sync(demo)

    assert awork_writes(demo) == [] and owned_rows(demo) == before


async def test_d_guard_genuine_shrink_is_held_then_allowed_once(
    company: tuple[Sandbox, Credentials],
) -> None:
    sandbox, credentials = company
    await sync(sandbox, credentials=credentials)
    synced = owned_period_ids(sandbox)
    cancelled = synced[: len(synced) * 40 // 100]
    for period_id in cancelled:
        sandbox.personio_state.cancel(period_id)
    clear_journals(sandbox)

    held = await sync(sandbox, credentials=credentials)
    assert (held.actions.deleted, held.actions.held_deletes) == (0, len(cancelled))
    assert awork_writes(sandbox) == [] and owned_period_ids(sandbox) == synced

    allowed = await sync(sandbox, credentials=credentials, allow_mass_delete=True)
    assert (allowed.actions.deleted, allowed.actions.held_deletes) == (len(cancelled), 0)
    assert owned_rows(sandbox) == expected_rows(sandbox)
    assert set(owned_period_ids(sandbox)).isdisjoint(cancelled)
