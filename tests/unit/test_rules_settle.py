"""D-Settle (docs/rules.md): when two owners both hold a period, the copy awork created
first keeps it; the other owner reports the conflict and deletes its own copies.

Two installations share no lock (D-Writer is per process), so their first runs can both
create. Both sides order the copies by awork's own data (createdOn, then the id), agree
on the winner without talking, and the loser cleans up in its next run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from engine_builders import (
    OTHER_OWNER,
    OWNER,
    AworkStore,
    hand_made,
    owned,
    period,
    person,
    run,
    user,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from personio_sync.engine.marker import parse_marker
from personio_sync.engine.plan import SETTLED, Plan
from personio_sync.engine.report import SyncReport

ANNA = {"persons": [person("p1", "anna@example.com")], "users": [user("u1", "anna@example.com")]}
A = period("a", "p1", "2026-04-06", "2026-04-08")
SPAN = ("2026-04-06T00:00:00", "2026-04-08T23:59:59")


def copy(aid: str, owner: str, created: str | None) -> object:
    return owned(aid, "a", "u1", *SPAN, owner=owner, created=created)


def test_d_settle_the_younger_copy_s_owner_deletes_it_and_reports_the_conflict() -> None:
    ours = copy("aw-o", OWNER, "2026-04-01T10:00:01")
    theirs = copy("aw-t", OTHER_OWNER, "2026-04-01T10:00:00")
    outcome = run(**ANNA, periods=[A], absences=[ours, theirs])
    assert [(d.absence_id, d.reason) for d in outcome.plan.deletes] == [("aw-o", SETTLED)]
    assert outcome.plan.creates == [] and outcome.plan.updates == []
    assert [(c.period_id, c.owner) for c in outcome.report.conflicts] == [("a", OTHER_OWNER)]


def test_d_settle_the_older_copy_s_owner_goes_on_without_a_conflict() -> None:
    ours = copy("aw-o", OWNER, "2026-04-01T10:00:00")
    theirs = copy("aw-t", OTHER_OWNER, "2026-04-01T10:00:01")
    outcome = run(**ANNA, periods=[A], absences=[ours, theirs])
    assert outcome.plan.writes == 0 and outcome.plan.unchanged == 1
    assert outcome.report.conflicts == []


def test_d_settle_equal_created_on_goes_to_the_smaller_id_on_both_sides() -> None:
    ours = copy("aw-2", OWNER, "2026-04-01T10:00:00")
    theirs = copy("aw-1", OTHER_OWNER, "2026-04-01T10:00:00")
    mine = run(**ANNA, periods=[A], absences=[ours, theirs])
    other = run(**ANNA, periods=[A], absences=[ours, theirs], owner=OTHER_OWNER)
    assert [d.absence_id for d in mine.plan.deletes] == ["aw-2"]
    assert other.plan.writes == 0 and other.report.conflicts == []


def test_d_settle_deletions_pass_the_deletion_guard() -> None:
    """Every owned absence lost at once is not a Personio glitch: each period keeps the
    winner's absence, so the guard (D-Guard) holds none of it back."""
    periods = [period(f"p{i}", "p1", "2026-04-06", "2026-04-06") for i in range(10)]
    absences = []
    for i in range(10):
        day = ("2026-04-06T00:00:00", "2026-04-06T23:59:59")
        absences.append(
            owned(f"t{i}", f"p{i}", "u1", *day, owner=OTHER_OWNER, created="2026-04-01T09:00:00")
        )
        absences.append(owned(f"o{i}", f"p{i}", "u1", *day, created="2026-04-01T10:00:00"))
    outcome = run(**ANNA, periods=periods, absences=absences)
    assert outcome.report.held is None
    assert sorted(d.absence_id for d in outcome.plan.deletes) == [f"o{i}" for i in range(10)]
    assert outcome.report.actions.conflicts == 10


def test_d_settle_never_touches_a_hand_made_absence_on_the_same_days() -> None:
    mine = hand_made("hm", "u1", *SPAN)
    ours = copy("aw-o", OWNER, "2026-04-01T10:00:01")
    theirs = copy("aw-t", OTHER_OWNER, "2026-04-01T10:00:00")
    outcome = run(**ANNA, periods=[A], absences=[mine, ours, theirs])
    assert [d.absence_id for d in outcome.plan.deletes] == ["aw-o"]


# --- any interleaving of two owners' runs settles --------------------------------------

PERIODS = [period(f"p{i}", "p1", f"2026-04-{6 + i:02}", f"2026-04-{6 + i:02}") for i in range(3)]
HAND_MADE = hand_made("hand", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59")


@dataclass
class Owner:
    """One owner's runs, each split into its read and its writes (another owner's steps
    can fall in between: the race of two installations)."""

    key: str
    plan: Plan | None = None
    runs: int = 0
    reports: list[SyncReport] = field(default_factory=list)

    def step(self, store: AworkStore) -> None:
        if self.plan is None:  # read and plan
            outcome = run(**ANNA, periods=PERIODS, absences=store.listing(), owner=self.key)
            self.plan = outcome.plan
            self.reports.append(outcome.report)
        else:  # write what was planned
            store.apply([*self.plan.deletes, *self.plan.updates, *self.plan.creates])
            self.plan = None
            self.runs += 1


def per_period(store: AworkStore) -> Counter[str]:
    markers = (parse_marker(a.external_provider) for a in store.absences.values())
    return Counter(m[1] for m in markers if m is not None)


def play(store: AworkStore, owners: dict[str, Owner], steps: list[str], ticks: list[bool]) -> None:
    for index, who in enumerate(steps):
        if ticks[index % len(ticks)]:  # sometimes two creates share one createdOn
            store.clock += timedelta(seconds=1)
        owners[who].step(store)


def holder_of(store: AworkStore) -> dict[str, str]:
    markers = (parse_marker(a.external_provider) for a in store.absences.values())
    return {m[1]: m[0] for m in markers if m is not None}


@settings(max_examples=300, deadline=None)
@given(
    race=st.lists(st.sampled_from("AB"), max_size=10),
    last=st.permutations("AABB"),
    ticks=st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_d_settle_any_interleaving_ends_with_one_absence_per_period_after_one_more_run_each(
    race: list[str], last: list[str], ticks: list[bool]
) -> None:
    """Any interleaving of the two owners' reads and writes (each owner's own runs in
    order), each owner then finishing at least one run; then one more run each, again
    interleaved in any way: exactly one absence per period, the hand-made absence
    untouched, and every conflict a last run reports names the period's holder."""
    store = AworkStore()
    store.add(HAND_MADE)
    owners = {"A": Owner(OWNER), "B": Owner(OTHER_OWNER)}
    play(store, owners, race, ticks)
    for who, owner in owners.items():
        pending = 1 if owner.plan is not None else 2 if owner.runs == 0 else 0
        play(store, owners, [who] * pending, ticks)
    play(store, owners, list(last), ticks)
    assert per_period(store) == Counter({p.id: 1 for p in PERIODS})
    assert store.absences["hand"] == HAND_MADE
    held = holder_of(store)
    for owner in owners.values():
        assert all(held[c.period_id] == c.owner for c in owner.reports[-1].conflicts)
