"""R9-R12: what one period becomes in awork, the ownership marker, hands off the rest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta

import pytest
from engine_builders import (
    OTHER_OWNER,
    OWNER,
    SICK,
    VACATION,
    body_of,
    hand_made,
    owned,
    period,
    raw_period,
    run,
    spec,
    user,
    utc,
)
from engine_builders import person as make_person

from personio_sync.engine.marker import MAX_LENGTH, make_marker, owner_key, period_id_of
from personio_sync.engine.model import AbsenceBody, AbsencePeriod, HalfType

ANNA = {
    "persons": [make_person("p1", "anna@example.com")],
    "users": [user("u1", "anna@example.com")],
}
UUID = "9bba303f-0fbc-4514-9958-0befa21923fb"


def body_for(p: AbsencePeriod, **kw: object) -> AbsenceBody:
    return body_of(run(**ANNA, periods=[p], **kw), p.id)  # type: ignore[arg-type]


# R9 — one absence per period --------------------------------------------------------------


def test_r9_full_days_as_utc_calendar_instants() -> None:
    body = body_for(period("a", "p1", "2026-04-06", "2026-04-10"))
    assert body == AbsenceBody(
        user_id="u1",
        start_on=utc("2026-04-06T00:00:00"),
        end_on=utc("2026-04-10T23:59:59"),
        is_half_day_on_start=False,
        is_half_day_on_end=False,
        description="Paid vacation",
        external_provider=f"personio-sync:{OWNER}:a",
    )
    assert body.start_on.utcoffset() == timedelta(0) and body.start_on.tzinfo is UTC


def test_r9_one_create_per_period() -> None:
    periods = [period(f"p{i}", "p1", "2026-04-06", "2026-04-06") for i in range(3)]
    outcome = run(**ANNA, periods=periods)
    assert sorted(c.period_id for c in outcome.plan.creates) == ["p0", "p1", "p2"]


def test_r9_description_is_the_type_name() -> None:
    body = body_for(period("a", "p1", "2026-04-06", "2026-04-06", type_id=SICK.id))
    assert body.description == "Sick leave"


def test_r9_generic_description_hides_the_type() -> None:
    p = period("a", "p1", "2026-04-06", "2026-04-06", type_id=SICK.id)
    assert body_for(p, the_spec=spec(description={"mode": "Generic"})).description == "Absent"
    custom = spec(description={"mode": "Generic", "text": "Out of office"})
    assert body_for(p, the_spec=custom).description == "Out of office"


def test_r9_generic_text_is_ignored_in_type_name_mode() -> None:
    p = period("a", "p1", "2026-04-06", "2026-04-06")
    the_spec = spec(description={"mode": "TypeName", "text": "Out of office"})
    assert body_for(p, the_spec=the_spec).description == VACATION.name


def test_r9_d_guard_unknown_type_changes_nothing() -> None:
    """Decision (docs/rules.md, D-Guard): a type missing from the list is incomplete data,
    not a reason to rewrite the text: the owned absence stays, nothing is created."""
    p = period("a", "p1", "2026-04-06", "2026-04-06", type_id="type-gone")
    new = period("b", "p1", "2026-04-08", "2026-04-08", type_id="type-gone")
    existing = owned("aw1", "a", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59")
    outcome = run(**ANNA, periods=[p, new], absences=[existing])
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"unknownType": 2}
    assert outcome.report.actions.unchanged == 1


def test_r9_description_change_updates() -> None:
    p = period("a", "p1", "2026-04-06", "2026-04-06")
    existing = owned("aw1", "a", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59")
    renamed = [replace(VACATION, name="Urlaub")]
    outcome = run(**ANNA, periods=[p], absences=[existing], types=renamed)
    assert [(u.absence_id, u.body.description) for u in outcome.plan.updates] == [("aw1", "Urlaub")]


# R10 — half days: every row of the table, plus the cases it leaves out ----------------------


def half(first: str, last: str, start: HalfType, end: HalfType) -> AbsencePeriod:
    return period("h", "p1", first, last, start_type=start, end_type=end)


@pytest.mark.parametrize(
    ("start", "end"), [("FIRST_HALF", "SECOND_HALF"), (None, None), ("FIRST_HALF", None)]
)
def test_r10_full_days(start: HalfType, end: HalfType) -> None:
    body = body_for(half("2026-04-06", "2026-04-08", start, end))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T00:00:00"), utc("2026-04-08T23:59:59"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (False, False)


def test_r10_half_day_single_morning() -> None:
    body = body_for(half("2026-04-06", "2026-04-06", "FIRST_HALF", "FIRST_HALF"))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T00:00:00"), utc("2026-04-06T12:00:00"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (True, False)


def test_r10_half_day_single_morning_with_null_start_type() -> None:
    body = body_for(half("2026-04-06", "2026-04-06", None, "FIRST_HALF"))
    assert body.end_on == utc("2026-04-06T12:00:00")
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (True, False)


def test_r10_half_day_single_afternoon() -> None:
    body = body_for(half("2026-04-06", "2026-04-06", "SECOND_HALF", "SECOND_HALF"))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T12:00:00"), utc("2026-04-06T23:59:59"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (False, True)


def test_r10_half_day_single_afternoon_with_null_end_type() -> None:
    body = body_for(half("2026-04-06", "2026-04-06", "SECOND_HALF", None))
    assert body.start_on == utc("2026-04-06T12:00:00")
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (False, True)


def test_r10_multi_day_starting_at_midday() -> None:
    body = body_for(half("2026-04-06", "2026-04-08", "SECOND_HALF", "SECOND_HALF"))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T12:00:00"), utc("2026-04-08T23:59:59"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (True, False)


def test_r10_multi_day_ending_at_midday() -> None:
    body = body_for(half("2026-04-06", "2026-04-08", "FIRST_HALF", "FIRST_HALF"))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T00:00:00"), utc("2026-04-08T12:00:00"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (False, True)


def test_r10_multi_day_half_at_both_ends() -> None:
    body = body_for(half("2026-04-06", "2026-04-07", "SECOND_HALF", "FIRST_HALF"))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T12:00:00"), utc("2026-04-07T12:00:00"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (True, True)


def test_r10_single_day_afternoon_start_and_morning_end_is_a_full_day() -> None:
    """Decision (docs/rules.md): contradictory halves on one day become the whole day."""
    body = body_for(half("2026-04-06", "2026-04-06", "SECOND_HALF", "FIRST_HALF"))
    assert (body.start_on, body.end_on) == (utc("2026-04-06T00:00:00"), utc("2026-04-06T23:59:59"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (False, False)


def test_r10_open_ended_period_ignores_an_end_half() -> None:
    p = raw_period("h", "p1", "2026-04-06T00:00:00", None, ends_type="FIRST_HALF")
    body = body_for(p)
    assert body.end_on == utc("2026-09-28T23:59:59")
    assert body.is_half_day_on_end is False


def test_r10_flag_change_updates_the_absence() -> None:
    p = half("2026-04-06", "2026-04-06", "FIRST_HALF", "FIRST_HALF")
    existing = owned("aw1", "h", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59")
    outcome = run(**ANNA, periods=[p], absences=[existing])
    [update] = outcome.plan.updates
    assert update.absence_id == "aw1"
    assert (update.body.end_on, update.body.is_half_day_on_start) == (
        utc("2026-04-06T12:00:00"),
        True,
    )


# R11 — ownership marker -------------------------------------------------------------------


def test_r11_owner_key_is_stable_and_short() -> None:
    key = owner_key("team-berlin", "personio")
    assert key == owner_key("team-berlin", "personio")  # a re-created resource gets the same
    assert len(key) == 12 and int(key, 16) >= 0
    assert key == "adc5fad5b14f"  # pinned: changing the derivation orphans every absence
    assert key != owner_key("team-munich", "personio")
    assert key != owner_key("team-berlin", "personio-2")


def test_r11_owner_key_fits_the_longest_kubernetes_names() -> None:
    key = owner_key("n" * 63, "x" * 253)
    assert len(make_marker(key, UUID)) <= MAX_LENGTH


def test_r11_marker_encodes_operator_owner_and_period() -> None:
    marker = make_marker(OWNER, UUID)
    assert marker == f"personio-sync:{OWNER}:{UUID}"
    assert len(marker) <= MAX_LENGTH == 100
    assert period_id_of(marker, OWNER) == UUID
    assert period_id_of(marker, OTHER_OWNER) is None


def test_r11_marker_refuses_more_than_100_characters() -> None:
    prefix_len = len(make_marker(OWNER, ""))
    assert len(make_marker(OWNER, "x" * (MAX_LENGTH - prefix_len))) == MAX_LENGTH
    with pytest.raises(ValueError, match="too long"):
        make_marker(OWNER, "x" * (MAX_LENGTH - prefix_len + 1))


@pytest.mark.parametrize(
    "marker", [None, "", "clockodo-absences", f"personio-sync:{OWNER}:", f"personio-sync:{OWNER}"]
)
def test_r11_foreign_or_empty_markers_name_no_period(marker: str | None) -> None:
    assert period_id_of(marker, OWNER) is None


def test_r11_every_write_carries_the_marker() -> None:
    outcome = run(**ANNA, periods=[period("a", "p1", "2026-04-06", "2026-04-06")])
    assert [c.body.external_provider for c in outcome.plan.creates] == [f"personio-sync:{OWNER}:a"]


def test_r11_recreated_resource_adopts_its_absences() -> None:
    key = owner_key("team", "personio")
    again = owner_key("team", "personio")
    existing = owned("aw1", "a", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59", owner=key)
    outcome = run(
        **ANNA,
        periods=[period("a", "p1", "2026-04-06", "2026-04-06")],
        absences=[existing],
        owner=again,
    )
    assert outcome.plan.writes == 0 and outcome.plan.unchanged == 1


# R12 — hands off --------------------------------------------------------------------------


def test_r12_hand_made_absence_is_never_touched_even_when_overlapping() -> None:
    manual = hand_made("aw-manual", "u1", "2026-04-06T00:00:00", "2026-04-10T23:59:59")
    outcome = run(
        **ANNA, periods=[period("a", "p1", "2026-04-07", "2026-04-08")], absences=[manual]
    )
    assert [c.period_id for c in outcome.plan.creates] == ["a"]
    assert outcome.plan.updates == [] and outcome.plan.deletes == []


def test_r12_hand_made_absences_alone_plan_nothing() -> None:
    manual = [
        hand_made("m1", "u1", "2026-04-06T00:00:00", "2026-04-10T23:59:59"),
        replace(
            hand_made("m2", "u1", "2026-05-06T00:00:00", "2026-05-06T23:59:59"),
            external_provider="clockodo-absences",
        ),
    ]
    assert run(**ANNA, absences=manual).plan.writes == 0


def test_r12_d_owner_another_owners_absences_are_not_touched_and_not_duplicated() -> None:
    """Decision (docs/rules.md, D-Owner): a period another owner holds is a conflict."""
    theirs = owned(
        "aw-theirs", "a", "u1", "2026-04-01T00:00:00", "2026-04-01T23:59:59", owner=OTHER_OWNER
    )
    theirs_gone = owned(
        "aw-gone", "gone", "u1", "2026-04-02T00:00:00", "2026-04-02T23:59:59", owner=OTHER_OWNER
    )
    outcome = run(
        **ANNA,
        periods=[period("a", "p1", "2026-04-07", "2026-04-08")],
        absences=[theirs, theirs_gone],
    )
    assert outcome.plan.writes == 0
    assert [(c.period_id, c.owner) for c in outcome.report.conflicts] == [("a", OTHER_OWNER)]
    assert outcome.report.actions.conflicts == 1


def test_r12_owner_whose_key_extends_ours_is_someone_else() -> None:
    lookalike = replace(
        owned("aw1", "x", "u1", "2026-04-02T00:00:00", "2026-04-02T23:59:59"),
        external_provider=f"personio-sync:{OWNER}0:x",
    )
    assert run(**ANNA, absences=[lookalike]).plan.writes == 0


def test_r12_type_of_absence_does_not_matter() -> None:
    """Even an absence whose text equals ours is hands off without the marker."""
    twin = replace(
        hand_made("m1", "u1", "2026-04-06T00:00:00", "2026-04-06T23:59:59"),
        description=VACATION.name,
    )
    outcome = run(**ANNA, periods=[period("a", "p1", "2026-04-06", "2026-04-06")], absences=[twin])
    assert len(outcome.plan.creates) == 1 and outcome.plan.deletes == []


def test_r11_period_id_too_long_for_the_marker_is_skipped_not_fatal() -> None:
    """R11/R15: a period whose marker would exceed 100 characters is skipped and counted."""
    long_id = "p" * 90
    outcome = run(
        persons=[make_person("p-anna", "anna@example.com")],
        users=[user("u-anna", "anna@example.com")],
        periods=[period(long_id, "p-anna", "2026-04-08", "2026-04-08")],
    )
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"idTooLongForMarker": 1}
