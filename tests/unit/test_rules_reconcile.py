"""R13-R16: converge, idempotence and crash safety, per-item failure, dry run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from engine_builders import (
    OTHER_OWNER,
    SICK,
    TODAY,
    VACATION,
    AworkStore,
    hand_made,
    moved,
    owned,
    period,
    person,
    run,
    spec,
    user,
    utc,
    writes_of,
)

from personio_sync.engine.model import AbsencePeriod, ApprovalStatus, AworkAbsence
from personio_sync.engine.plan import Delete
from personio_sync.engine.reconcile import SAMPLE_SIZE
from personio_sync.resource.spec import PersonioSyncSpec

PERSONS = [person("p1", "anna@example.com"), person("p2", "ben@example.com")]
USERS = [user("u1", "anna@example.com"), user("u2", "ben@example.com")]
PEOPLE = {"persons": PERSONS, "users": USERS}
A = period("a", "p1", "2026-04-06", "2026-04-08")


def synced(p: AbsencePeriod = A, aid: str = "aw1", **kw: object) -> AworkAbsence:
    """The owned absence a previous run wrote for `p` (full days, user u1)."""
    first, last = p.starts_from.date(), (p.ends_at - timedelta(days=1)).date()
    return owned(aid, p.id, "u1", f"{first}T00:00:00", f"{last}T23:59:59", **kw)


def deletes(outcome: object) -> list[tuple[str, str | None, str]]:
    return [(d.absence_id, d.period_id, d.reason) for d in outcome.plan.deletes]


# R13 — converge ---------------------------------------------------------------------------


def test_r13_creates_what_is_missing() -> None:
    outcome = run(**PEOPLE, periods=[A])
    assert [(c.period_id, c.email) for c in outcome.plan.creates] == [("a", "anna@example.com")]


def test_r13_unchanged_absence_is_left_and_counted() -> None:
    outcome = run(**PEOPLE, periods=[A], absences=[synced()])
    assert outcome.plan.writes == 0
    assert outcome.plan.unchanged == outcome.report.actions.unchanged == 1


def test_r13_moved_dates_update_in_place() -> None:
    outcome = run(**PEOPLE, periods=[moved(A, 7)], absences=[synced()])
    [update] = outcome.plan.updates
    assert (update.absence_id, update.period_id) == ("aw1", "a")
    assert (update.body.start_on, update.body.end_on) == (
        utc("2026-04-13T00:00:00"),
        utc("2026-04-15T23:59:59"),
    )
    assert outcome.plan.creates == [] and outcome.plan.deletes == []


def test_r13_person_now_matching_another_user_updates_the_user() -> None:
    persons = [person("p1", "ben@example.com")]  # Anna's record now carries Ben's address
    outcome = run(persons=persons, users=USERS, periods=[A], absences=[synced()])
    assert [(u.absence_id, u.body.user_id) for u in outcome.plan.updates] == [("aw1", "u2")]


def test_r13_description_mode_change_updates() -> None:
    outcome = run(spec(description={"mode": "Generic"}), **PEOPLE, periods=[A], absences=[synced()])
    assert [u.body.description for u in outcome.plan.updates] == ["Absent"]


@pytest.mark.parametrize(
    ("why", "periods", "the_spec"),
    [
        ("deleted in Personio", [], spec()),
        ("rejected", [replace(A, status=ApprovalStatus.REJECTED)], spec()),
        ("back to pending", [replace(A, status=ApprovalStatus.PENDING)], spec()),
        ("type now excluded", [A], spec(absenceTypes={"exclude": [VACATION.name]})),
        ("type not included", [A], spec(absenceTypes={"include": [SICK.id]})),
        ("hourly now skipped", [replace(A, type_id="type-hour")], spec()),
    ],
)
def test_r13_owned_absence_whose_period_left_the_source_is_deleted(
    why: str, periods: list[AbsencePeriod], the_spec: object
) -> None:
    # An empty Personio answer needs consent (D-Guard, tested in test_rules_guard.py).
    outcome = run(
        the_spec, **PEOPLE, periods=periods, absences=[synced()], allow_mass_delete=not periods
    )
    assert deletes(outcome) == [("aw1", "a", "left source")], why
    assert outcome.plan.creates == [] and outcome.plan.updates == []


def test_r13_history_outside_the_window_is_left_alone() -> None:
    old = period("old", "p1", "2026-02-02", "2026-02-06")  # window starts 2026-03-18
    far = period("far", "p1", "2026-12-01", "2026-12-02")  # window ends 2026-09-28
    outcome = run(**PEOPLE, periods=[], absences=[synced(old, "aw-old"), synced(far, "aw-far")])
    assert outcome.plan.writes == 0


def test_r13_owned_absence_reaching_into_the_window_is_deleted() -> None:
    edge = period("edge", "p1", "2026-03-16", "2026-03-18")  # last day is the window's first
    outcome = run(**PEOPLE, periods=[], absences=[synced(edge, "aw-edge")], allow_mass_delete=True)
    assert deletes(outcome) == [("aw-edge", "edge", "left source")]


def test_r13_period_moved_entirely_outside_the_window_loses_its_absence_in_the_window() -> None:
    """Decision (docs/rules.md): the absence no longer describes the period: delete it."""
    outcome = run(**PEOPLE, periods=[moved(A, 365)], absences=[synced()])
    assert deletes(outcome) == [("aw1", "a", "left source")]


def test_r13_period_moved_outside_the_window_keeps_an_absence_also_outside() -> None:
    old = period("old", "p1", "2026-02-02", "2026-02-06")
    outcome = run(**PEOPLE, periods=[moved(old, -7)], absences=[synced(old, "aw-old")])
    assert outcome.plan.writes == 0


def test_r13_unmatched_person_keeps_its_owned_absence() -> None:
    """Decision (docs/rules.md): a matching problem must not erase absences."""
    persons = [person("p1", "anna@new-domain.example")]
    outcome = run(persons=persons, users=USERS, periods=[A], absences=[synced()])
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"unmatchedUser": 1}
    assert outcome.report.actions.unchanged == 1  # the absence stays as it is


def test_r13_ambiguous_person_keeps_its_owned_absence() -> None:
    users = [*USERS, user("u3", "anna@example.com")]
    outcome = run(persons=PERSONS, users=users, periods=[A], absences=[synced()])
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"ambiguousUser": 1}


def test_r13_person_without_email_keeps_its_owned_absence() -> None:
    outcome = run(persons=[person("p1", None)], users=USERS, periods=[A], absences=[synced()])
    assert outcome.plan.writes == 0


# R14 — idempotent, crash-safe ---------------------------------------------------------------


def busy_day() -> dict[str, object]:
    """A mix of everything: creates, updates, deletes, unchanged, skips, hand-made entries."""
    periods = [
        A,
        period("b", "p2", "2026-05-04", "2026-05-04", start_type="SECOND_HALF"),
        period("c", "p1", "2026-06-01", None, type_id=SICK.id),
        period("d", "p2", "2026-07-01", "2026-07-03", status=ApprovalStatus.PENDING),
        period("e", "p2", "2026-03-01", "2026-03-20"),
        period("x", "p-unknown", "2026-04-20", "2026-04-21"),
    ]
    absences = [
        synced(moved(A, -2)),  # to update
        synced(period("gone", "p1", "2026-04-27", "2026-04-28"), "aw-gone"),  # to delete
        synced(period("e", "p2", "2026-03-01", "2026-03-20"), "aw-e1"),  # wrong user: update
        synced(period("e", "p2", "2026-03-01", "2026-03-20"), "aw-e2"),  # duplicate
        hand_made("aw-hand", "u1", "2026-04-06T00:00:00", "2026-04-10T23:59:59"),
    ]
    return {"periods": periods, "absences": absences, **PEOPLE}


def test_r14_second_run_after_applying_makes_zero_writes() -> None:
    scene = busy_day()
    store = AworkStore()
    for absence in scene.pop("absences"):
        store.add(absence)
    first = run(**scene, absences=store.listing())
    assert first.plan.writes == 6  # creates b, c; updates a, e; deletes gone, duplicate of e
    store.apply(writes_of(first.plan))
    second = run(**scene, absences=store.listing())
    assert second.plan.writes == 0
    assert second.plan.unchanged == 4
    assert store.absences["aw-hand"] == hand_made(
        "aw-hand", "u1", "2026-04-06T00:00:00", "2026-04-10T23:59:59"
    )


def test_r14_run_killed_after_any_number_of_writes_converges() -> None:
    scene = busy_day()
    initial = scene.pop("absences")
    uninterrupted = AworkStore()
    for absence in initial:
        uninterrupted.add(absence)
    uninterrupted.apply(writes_of(run(**scene, absences=uninterrupted.listing()).plan))
    expected = {strip_id(a) for a in uninterrupted.absences.values()}

    total = run(**scene, absences=list(initial)).plan.writes
    for killed_after in range(total + 1):
        store = AworkStore()
        for absence in initial:
            store.add(absence)
        store.apply(writes_of(run(**scene, absences=store.listing()).plan)[:killed_after])
        store.apply(writes_of(run(**scene, absences=store.listing()).plan))
        assert {strip_id(a) for a in store.absences.values()} == expected, killed_after
        assert len(store.absences) == len(expected)
        assert run(**scene, absences=store.listing()).plan.writes == 0


def strip_id(absence: AworkAbsence) -> AworkAbsence:
    return replace(absence, id="")


def test_r14_duplicates_keep_one_and_delete_the_rest() -> None:
    absences = [synced(aid="aw3"), synced(aid="aw1"), synced(aid="aw2")]
    outcome = run(**PEOPLE, periods=[A], absences=absences)
    assert deletes(outcome) == [("aw2", "a", "duplicate"), ("aw3", "a", "duplicate")]
    assert outcome.plan.unchanged == 1 and outcome.plan.updates == []


def test_r14_duplicates_keep_the_one_that_already_matches() -> None:
    stale = synced(moved(A, 1), aid="aw1")
    good = synced(aid="aw9")
    outcome = run(**PEOPLE, periods=[A], absences=[stale, good])
    assert deletes(outcome) == [("aw1", "a", "duplicate")]
    assert outcome.plan.updates == []


def test_r14_duplicates_of_which_none_match_keep_one_and_update_it() -> None:
    absences = [synced(moved(A, 1), aid="aw2"), synced(moved(A, 2), aid="aw1")]
    outcome = run(**PEOPLE, periods=[A], absences=absences)
    assert deletes(outcome) == [("aw2", "a", "duplicate")]
    assert [u.absence_id for u in outcome.plan.updates] == ["aw1"]


def test_r14_duplicates_of_an_unmatched_persons_period_keep_one() -> None:
    persons = [person("p1", "anna@elsewhere.example")]
    absences = [synced(aid="aw1"), synced(aid="aw2")]
    outcome = run(persons=persons, users=USERS, periods=[A], absences=absences)
    assert deletes(outcome) == [("aw2", "a", "duplicate")]


def test_r14_duplicates_of_a_period_that_left_are_all_deleted() -> None:
    absences = [synced(aid="aw1"), synced(aid="aw2")]
    outcome = run(**PEOPLE, periods=[], absences=absences, allow_mass_delete=True)
    assert deletes(outcome) == [("aw1", "a", "left source"), ("aw2", "a", "left source")]


# R15 — partial failure (engine side) --------------------------------------------------------
# Isolation of a failing write, retries and back-off live in the applier and the clients and
# are tested there. The engine's part: it never carries state between runs, so a write that
# failed is simply planned again next run, and nothing else is.


@pytest.mark.parametrize("failing", ["create", "update", "delete"])
def test_r15_failed_write_is_planned_again_next_run(failing: str) -> None:
    scene = busy_day()
    store = AworkStore()
    for absence in scene.pop("absences"):
        store.add(absence)
    plan = run(**scene, absences=store.listing()).plan
    lost = {"create": plan.creates, "update": plan.updates, "delete": plan.deletes}[failing][0]
    store.apply(w for w in writes_of(plan) if w is not lost)
    retry = run(**scene, absences=store.listing()).plan
    assert writes_of(retry) == [lost]


def test_r15_engine_report_starts_without_failures() -> None:
    report = run(**busy_day()).report
    assert report.actions.failed == 0 and report.failures == []


# R16 — dry run ----------------------------------------------------------------------------


def test_r16_dry_run_reports_the_plan_counts_and_a_sample() -> None:
    outcome = run(spec(dryRun=True), **busy_day())
    report = outcome.report
    assert report.dry_run is True
    assert (report.actions.created, report.actions.updated, report.actions.deleted) == (2, 2, 2)
    assert report.to_json()["actions"]["created"] == 2
    assert [(p.action, p.personio_id) for p in report.planned] == [
        ("create", "b"),
        ("create", "c"),
        ("update", "a"),
        ("update", "e"),
        ("delete", "e"),
        ("delete", "gone"),
    ]
    first = report.planned[0]
    assert (first.email, first.start, first.end) == (
        "ben@example.com",
        "2026-05-04T12:00:00Z",
        "2026-05-04T23:59:59Z",
    )


def test_r16_dry_run_sample_is_bounded() -> None:
    periods = [period(f"v{i:02}", "p1", "2026-04-06", "2026-04-06") for i in range(SAMPLE_SIZE + 5)]
    outcome = run(spec(dryRun=True), **PEOPLE, periods=periods)
    assert len(outcome.plan.creates) == SAMPLE_SIZE + 5
    assert outcome.report.actions.created == SAMPLE_SIZE + 5
    assert len(outcome.report.planned) == SAMPLE_SIZE == 20


def test_r16_real_run_leaves_write_counts_to_the_applier() -> None:
    """Without dryRun the counts are of writes done, which only the applier knows."""
    report = run(**busy_day()).report
    assert report.dry_run is False
    assert (report.actions.created, report.actions.updated, report.actions.deleted) == (0, 0, 0)


def test_r16_dry_run_plan_equals_the_real_plan() -> None:
    dry = run(spec(dryRun=True), **busy_day()).plan
    real = run(spec(), **busy_day()).plan
    assert dry == real
    assert all(isinstance(d, Delete) for d in dry.deletes)


def test_today_is_an_argument() -> None:
    """R2/R13: the same inputs on another day give another window (no clock read)."""
    later = run(**busy_day(), today=TODAY + timedelta(days=30))
    assert later.report.window.start == TODAY + timedelta(days=16)


# UX-7 — a dry run says what each update would change -------------------------------------

HALF = period("a", "p1", "2026-04-06", "2026-04-08", start_type="SECOND_HALF")


@pytest.mark.parametrize(
    ("case", "periods", "persons", "the_spec", "changes"),
    [
        ("moved", [moved(A, 7)], PERSONS, spec(), ("start", "end")),
        ("one more day", [period("a", "p1", "2026-04-06", "2026-04-09")], PERSONS, spec(),
         ("end",)),
        ("starts at midday", [HALF], PERSONS, spec(), ("halfDayOnStart",)),
        ("generic text", [A], PERSONS, spec(description={"mode": "Generic"}), ("description",)),
        ("another user", [A], [person("p1", "ben@example.com")], spec(), ("user",)),
    ],
)  # fmt: skip
def test_ux_7_dry_run_plan_names_the_fields_each_update_would_change(
    case: str,
    periods: list[AbsencePeriod],
    persons: list[object],
    the_spec: PersonioSyncSpec,
    changes: tuple[str, ...],
) -> None:
    dry = the_spec.model_copy(update={"dryRun": True})
    outcome = run(dry, persons=persons, users=USERS, periods=periods, absences=[synced()])
    [planned] = outcome.report.planned
    assert (planned.action, planned.changes) == ("update", changes), case
    assert outcome.plan.updates[0].changes == changes


def test_ux_7_an_adopted_absence_changes_only_its_owner() -> None:
    theirs = synced(owner=OTHER_OWNER)
    outcome = run(spec(dryRun=True), **PEOPLE, periods=[A], absences=[theirs],
                  adopt_from=[OTHER_OWNER])  # fmt: skip
    assert [p.changes for p in outcome.report.planned] == [("owner",)]


def test_ux_7_creates_and_deletes_name_no_fields() -> None:
    outcome = run(spec(dryRun=True), **PEOPLE, periods=[moved(A, 400)], absences=[synced()])
    assert {(p.action, p.changes) for p in outcome.report.planned} == {("delete", ())}
