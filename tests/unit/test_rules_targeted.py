"""NRT-1 … NRT-3 (docs/rules.md): a targeted sync plans, for the periods it is about,
exactly what a full sync plans for them, and nothing for any other period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from engine_builders import (
    OTHER_OWNER,
    OWNER,
    SICK,
    TODAY,
    TYPES,
    VACATION,
    hand_made,
    owned,
    period,
    person,
    run,
    spec,
    user,
    writes_of,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from personio_sync.engine.model import AbsencePeriod, ApprovalStatus, AworkAbsence
from personio_sync.engine.reconcile import Outcome, Snapshot
from personio_sync.engine.slices import Slice, reconcile_targeted
from personio_sync.errors import WiderThanTargeted
from personio_sync.resource.spec_policy import policy_of

PERSONS = [person("p1", "anna@example.com"), person("p2", "ben@example.com")]
USERS = [user("u1", "anna@example.com"), user("u2", "ben@example.com")]
A = period("a", "p1", "2026-04-06", "2026-04-08")
B = period("b", "p2", "2026-05-01", "2026-05-01")
A_OWNED = owned("aw-a", "a", "u1", "2026-04-06T00:00:00", "2026-04-08T23:59:59")
B_OWNED = owned("aw-b", "b", "u2", "2026-05-01T00:00:00", "2026-05-01T23:59:59")


def targeted(
    ids: set[str],
    periods: list[AbsencePeriod],
    absences: list[AworkAbsence],
    adopt_from: Sequence[str] = (),
) -> Outcome:
    snapshot = Snapshot(PERSONS, TYPES, periods, USERS, absences)
    piece = Slice(frozenset(ids), snapshot)
    return reconcile_targeted(
        policy_of(spec()), piece, today=TODAY, owner=OWNER, adopt_from=adopt_from
    )


def test_nrt_1_a_new_period_is_created_and_others_are_left_alone() -> None:
    outcome = targeted({"a"}, [A, B], [])
    assert [c.period_id for c in outcome.plan.creates] == ["a"]
    assert outcome.plan.updates == outcome.plan.deletes == []


def test_nrt_1_a_period_gone_from_personio_deletes_its_owned_absence_only() -> None:
    """A 404 by id leaves the period out of the slice: its owned absence goes, a hand-made
    absence and another period's absence stay."""
    manual = hand_made("aw-h", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59")
    outcome = targeted({"a"}, [B], [A_OWNED, B_OWNED, manual])
    assert [(d.absence_id, d.reason) for d in outcome.plan.deletes] == [("aw-a", "left source")]
    assert outcome.plan.creates == outcome.plan.updates == []


def test_nrt_1_a_moved_or_rejected_period_is_updated_or_deleted() -> None:
    moved = period("a", "p1", "2026-04-07", "2026-04-09")
    outcome = targeted({"a"}, [moved], [A_OWNED])
    assert [u.absence_id for u in outcome.plan.updates] == ["aw-a"]
    rejected = period("a", "p1", "2026-04-06", "2026-04-08", status=ApprovalStatus.REJECTED)
    outcome = targeted({"a"}, [rejected], [A_OWNED])
    assert [d.absence_id for d in outcome.plan.deletes] == ["aw-a"]


def test_nrt_1_another_owners_period_is_a_conflict_and_untouched() -> None:
    theirs = owned(
        "aw-t", "a", "u1", "2026-04-06T00:00:00", "2026-04-08T23:59:59", owner=OTHER_OWNER
    )
    outcome = targeted({"a"}, [A], [theirs])
    assert outcome.plan.writes == 0
    assert [c.period_id for c in outcome.report.conflicts] == ["a"]


def test_nrt_1_adopted_absence_gets_its_marker_rewritten() -> None:
    old = owned("aw-o", "a", "u1", "2026-04-06T00:00:00", "2026-04-08T23:59:59", owner=OTHER_OWNER)
    outcome = targeted({"a"}, [A], [old], adopt_from=[OTHER_OWNER])
    assert [u.absence_id for u in outcome.plan.updates] == ["aw-o"]


def test_nrt_3_more_than_five_deletions_fall_back_to_a_full_sync() -> None:
    ids = [f"x{i}" for i in range(6)]
    absences = [
        owned(f"aw-{i}", pid, "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59")
        for i, pid in enumerate(ids)
    ]
    with pytest.raises(WiderThanTargeted):
        targeted(set(ids), [], absences)
    assert len(targeted(set(ids[:5]), [], absences[:5]).plan.deletes) == 5


# --- NRT-2: the targeted plan is the full plan, cut to the periods in scope ------------

DAYS = st.integers(-30, 200)
STATUS = st.sampled_from([ApprovalStatus.APPROVED] * 3 + list(ApprovalStatus))
PIDS = [f"q{i}" for i in range(6)]
World = tuple[list[AbsencePeriod], list[AworkAbsence]]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    periods = []
    for pid in draw(st.lists(st.sampled_from(PIDS), unique=True)):
        first = TODAY + timedelta(days=draw(DAYS))
        last = first + timedelta(days=draw(st.integers(0, 5)))
        who = draw(st.sampled_from(["p1", "p2", "p9"]))  # p9: nobody
        kind = draw(st.sampled_from([VACATION.id, SICK.id, "type-unknown"]))
        periods.append(period(pid, who, str(first), str(last), type_id=kind, status=draw(STATUS)))
    absences = []
    for n, pid in enumerate(draw(st.lists(st.sampled_from(PIDS), max_size=8))):
        first = datetime.combine(TODAY + timedelta(days=draw(DAYS)), datetime.min.time())
        owner = draw(st.sampled_from([OWNER, OWNER, OTHER_OWNER]))
        start, end = first.isoformat(), (first + timedelta(hours=23, minutes=59)).isoformat()
        absences.append(
            owned(f"aw-{n}", pid, draw(st.sampled_from(["u1", "u2"])), start, end, owner=owner)
        )
    return periods, absences


@settings(max_examples=300, deadline=None, derandomize=True)
@given(world=worlds(), scope=st.sets(st.sampled_from(PIDS), min_size=1))
def test_nrt_2_targeted_plan_equals_the_full_plan_for_the_periods_in_scope(
    world: World, scope: set[str]
) -> None:
    periods, absences = world
    full = run(
        persons=PERSONS, users=USERS, periods=periods, absences=absences, allow_mass_delete=True
    )
    try:
        part = targeted(scope, periods, absences)
    except WiderThanTargeted:
        return
    key = lambda w: (type(w).__name__, w.period_id, getattr(w, "absence_id", ""))  # noqa: E731
    expected = sorted((w for w in writes_of(full.plan) if w.period_id in scope), key=key)
    assert sorted(writes_of(part.plan), key=key) == expected
    assert [c for c in full.report.conflicts if c.period_id in scope] == part.report.conflicts
