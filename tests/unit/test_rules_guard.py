"""D-Guard (docs/rules.md): a vendor glitch must not wipe awork.

Empty or cut-short Personio answers look like mass cancellations; above a threshold
the engine holds the deletions back until the admin allows them once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_builders import owned, period, person, run, spec, user

from personio_sync.engine.guard import DeletionGuard, deletion_limit, describe
from personio_sync.engine.model import AbsencePeriod, AworkAbsence
from personio_sync.errors import PersonioDataIncomplete

PEOPLE = {"persons": [person("p1", "anna@example.com")], "users": [user("u1", "anna@example.com")]}


def periods(count: int) -> list[AbsencePeriod]:
    """`count` one-day periods of Anna's in April 2026 (inside the default window)."""
    return [
        period(f"p{i:03}", "p1", f"2026-04-{1 + i % 28:02}", f"2026-04-{1 + i % 28:02}")
        for i in range(count)
    ]


def synced(p: AbsencePeriod, aid: str) -> AworkAbsence:
    first, last = p.starts_from.date(), (p.ends_at - timedelta(days=1)).date()
    return owned(aid, p.id, "u1", f"{first}T00:00:00", f"{last}T23:59:59")


def state(count: int) -> tuple[list[AbsencePeriod], list[AworkAbsence]]:
    source = periods(count)
    return source, [synced(p, f"aw{i:03}") for i, p in enumerate(source)]


@pytest.mark.parametrize(("owned_count", "limit"), [(0, 5), (10, 5), (20, 5), (24, 6), (100, 25)])
def test_d_guard_limit_is_max_of_five_and_the_share(owned_count: int, limit: int) -> None:
    assert deletion_limit(owned_count, 25) == limit


def test_d_guard_empty_personio_answer_holds_every_deletion() -> None:
    """Even below five: an empty list while we own absences is never taken at its word."""
    _, absences = state(3)
    outcome = run(**PEOPLE, periods=[], absences=absences)
    assert outcome.plan.deletes == []
    assert [d.absence_id for d in outcome.plan.held] == ["aw000", "aw001", "aw002"]
    held = outcome.report.held
    assert held is not None and held.source_empty and held.owned_in_window == 3
    assert outcome.report.actions.held_deletes == 3
    assert "Personio listed no absence periods" in describe(held)


def test_d_guard_cut_short_list_holds_deletions_but_keeps_creates_and_updates() -> None:
    source, absences = state(40)
    new = period("new", "p1", "2026-05-20", "2026-05-20")
    outcome = run(**PEOPLE, periods=[*source[:10], new], absences=absences)
    assert outcome.plan.deletes == [] and len(outcome.plan.held) == 30
    assert [c.period_id for c in outcome.plan.creates] == ["new"]
    held = outcome.report.held
    assert held is not None and (held.count, held.limit, held.source_empty) == (30, 10, False)
    assert outcome.report.to_json()["actions"]["heldDeletes"] == 30


def test_d_guard_deletions_within_the_limit_go_ahead() -> None:
    source, absences = state(40)
    outcome = run(**PEOPLE, periods=source[:30], absences=absences)  # 10 of 40 = 25 %
    assert len(outcome.plan.deletes) == 10 and outcome.plan.held == []
    assert outcome.report.held is None


def test_d_guard_allowed_once_deletes_everything_that_left() -> None:
    source, absences = state(40)
    outcome = run(**PEOPLE, periods=source[:24], absences=absences, allow_mass_delete=True)
    assert len(outcome.plan.deletes) == 16 and outcome.plan.held == []


def test_d_guard_max_percent_is_read_from_the_spec() -> None:
    source, absences = state(40)
    loose = spec(deletionGuard={"maxPercent": 50})
    outcome = run(loose, **PEOPLE, periods=source[:24], absences=absences)  # 16 <= 20
    assert len(outcome.plan.deletes) == 16


def test_d_guard_duplicates_are_never_held() -> None:
    """R14 clean-up loses nothing: the period keeps its one absence."""
    source, absences = state(1)
    copies = [synced(source[0], f"dup{i}") for i in range(8)]
    outcome = run(**PEOPLE, periods=source, absences=absences + copies)
    assert len(outcome.plan.deletes) == 8 and outcome.plan.held == []


def test_d_guard_dry_run_reports_the_held_count_and_not_the_held_deletes() -> None:
    source, absences = state(40)
    outcome = run(spec(dryRun=True), **PEOPLE, periods=source[:10], absences=absences)
    assert outcome.report.actions.deleted == 0 and outcome.report.actions.held_deletes == 30


def test_d_guard_periods_without_any_type_stop_the_run() -> None:
    """An empty absence-types list next to periods is incomplete data: nothing is planned."""
    source, absences = state(3)
    with pytest.raises(PersonioDataIncomplete, match="no absence types"):
        run(**PEOPLE, periods=source, absences=absences, types=[])


def test_d_guard_default_is_a_quarter() -> None:
    assert DeletionGuard().max_percent == spec().deletionGuard.maxPercent == 25
