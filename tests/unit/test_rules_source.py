"""R1-R5: which Personio periods count, over which window, as which calendar dates."""

from __future__ import annotations

import ast
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from engine_builders import (
    HOURLY,
    SICK,
    TODAY,
    VACATION,
    AworkStore,
    body_of,
    period,
    person,
    raw_period,
    run,
    spec,
    user,
    utc,
    writes_of,
)

from personio_sync.engine.model import AbsencePeriod, ApprovalStatus, DateRange
from personio_sync.engine.reconcile import Snapshot
from personio_sync.engine.window import sync_window, today_in
from personio_sync.errors import ConfigError

ANNA = person("p-anna", "anna@example.com")
ANNA_AW = user("u-anna", "anna@example.com")
PEOPLE = {"persons": [ANNA], "users": [ANNA_AW]}


def created_ids(**kw: object) -> list[str]:
    outcome = run(**PEOPLE, **kw)  # type: ignore[arg-type]
    return sorted(c.period_id for c in outcome.plan.creates)


# R1 — source set ---------------------------------------------------------------------------


def test_r1_approved_period_is_transferred() -> None:
    assert created_ids(periods=[period("a", "p-anna", "2026-04-02", "2026-04-03")]) == ["a"]


def test_r1_pending_is_not_transferred_by_default() -> None:
    pending = period("a", "p-anna", "2026-04-02", "2026-04-03", status=ApprovalStatus.PENDING)
    outcome = run(**PEOPLE, periods=[pending])
    assert outcome.plan.writes == 0
    assert outcome.report.actions.skipped == 0  # not in the source set, not "skipped"


def test_r1_include_pending_adds_pending_periods() -> None:
    pending = period("a", "p-anna", "2026-04-02", "2026-04-03", status=ApprovalStatus.PENDING)
    assert created_ids(the_spec=spec(includePending=True), periods=[pending]) == ["a"]


@pytest.mark.parametrize("include_pending", [False, True])
def test_r1_rejected_never_counts(include_pending: bool) -> None:
    rejected = period("a", "p-anna", "2026-04-02", "2026-04-03", status=ApprovalStatus.REJECTED)
    the_spec = spec(includePending=include_pending)
    assert created_ids(the_spec=the_spec, periods=[rejected]) == []


def test_r1_periods_outside_the_window_are_not_transferred() -> None:
    periods = [
        period("past", "p-anna", "2026-01-05", "2026-01-09"),
        period("future", "p-anna", "2026-12-01", "2026-12-04"),
        period("in", "p-anna", "2026-05-04", "2026-05-08"),
    ]
    assert created_ids(periods=periods) == ["in"]


# R2 — window ------------------------------------------------------------------------------


def test_r2_window_defaults_are_14_days_back_and_180_ahead() -> None:
    assert run().report.window == DateRange(date(2026, 3, 18), date(2026, 9, 28))


def test_r2_window_example_from_the_rules() -> None:
    """today 2026-07-21 → window starts 2026-07-07; 07-05…07-10 keeps its real start."""
    p = period("a", "p-anna", "2026-07-05", "2026-07-10")
    outcome = run(**PEOPLE, periods=[p], today=date(2026, 7, 21))
    assert outcome.report.window.start == date(2026, 7, 7)
    body = body_of(outcome, "a")
    assert (body.start_on, body.end_on) == (utc("2026-07-05T00:00:00"), utc("2026-07-10T23:59:59"))


def test_r2_absence_past_the_future_edge_is_transferred_whole() -> None:
    p = period("a", "p-anna", "2026-09-25", "2026-10-09")  # window ends 2026-09-28
    body = body_of(run(**PEOPLE, periods=[p]), "a")
    assert body.end_on == utc("2026-10-09T23:59:59")


@pytest.mark.parametrize(
    ("first", "last", "inside"),
    [
        ("2026-03-10", "2026-03-18", True),  # ends on the first window day
        ("2026-03-10", "2026-03-17", False),  # ends the day before
        ("2026-09-28", "2026-09-30", True),  # starts on the last window day
        ("2026-09-29", "2026-09-30", False),  # starts the day after
    ],
)
def test_r2_window_ends_are_inclusive(first: str, last: str, inside: bool) -> None:
    assert created_ids(periods=[period("a", "p-anna", first, last)]) == (["a"] if inside else [])


def test_r2_window_follows_spec_days() -> None:
    the_spec = spec(window={"pastDays": 0, "futureDays": 7})
    assert run(the_spec).report.window == DateRange(date(2026, 4, 1), date(2026, 4, 8))
    periods = [period("a", "p-anna", "2026-03-31", "2026-03-31")]
    assert created_ids(the_spec=the_spec, periods=periods) == []


def test_r2_sync_window_arithmetic() -> None:
    assert sync_window(date(2026, 7, 21), 14, 180) == DateRange(date(2026, 7, 7), date(2027, 1, 17))


@pytest.mark.parametrize(
    ("zone", "instant", "expected"),
    [
        ("Europe/Berlin", "2026-07-20T21:59:59", "2026-07-20"),  # 23:59:59 CEST
        ("Europe/Berlin", "2026-07-20T22:00:00", "2026-07-21"),  # 00:00 CEST
        ("Europe/Berlin", "2026-01-20T22:59:59", "2026-01-20"),  # 23:59:59 CET
        ("Europe/Berlin", "2026-01-20T23:00:00", "2026-01-21"),  # 00:00 CET
        ("Europe/Berlin", "2026-03-28T23:30:00", "2026-03-29"),  # DST starts that night
        ("Europe/Berlin", "2026-10-24T22:30:00", "2026-10-25"),  # DST ends that night
        ("UTC", "2026-07-20T23:59:59", "2026-07-20"),
        ("America/Los_Angeles", "2026-07-21T06:59:00", "2026-07-20"),  # west: still yesterday
        ("America/Los_Angeles", "2026-07-21T07:00:00", "2026-07-21"),
        ("Pacific/Auckland", "2026-07-20T11:59:00", "2026-07-20"),  # east: already tomorrow
        ("Pacific/Auckland", "2026-07-20T12:00:00", "2026-07-21"),
    ],
)
def test_r2_today_in_time_zone_near_midnight(zone: str, instant: str, expected: str) -> None:
    now = datetime.fromisoformat(instant).replace(tzinfo=UTC)
    assert today_in(zone, now) == date.fromisoformat(expected)


def test_r2_today_in_accepts_any_aware_instant() -> None:
    now = datetime(2026, 7, 21, 0, 30, tzinfo=timezone(timedelta(hours=2)))  # = 22:30Z on 20th
    assert today_in("UTC", now) == date(2026, 7, 20)
    assert today_in("Europe/Berlin", now) == date(2026, 7, 21)


def test_r2_today_in_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        today_in("Europe/Berlin", datetime(2026, 7, 21, 12, 0))


# R3 — calendar dates, exclusive ends, open ends ------------------------------------------


def test_r3_exclusive_end_one_day_absence_on_2_april() -> None:
    p = raw_period("a", "p-anna", "2026-04-02T00:00:00", "2026-04-03T00:00:00")
    body = body_of(run(**PEOPLE, periods=[p]), "a")
    assert (body.start_on, body.end_on) == (utc("2026-04-02T00:00:00"), utc("2026-04-02T23:59:59"))


def test_r3_exclusive_end_multi_day() -> None:
    p = raw_period("a", "p-anna", "2026-04-06T00:00:00", "2026-04-11T00:00:00")
    body = body_of(run(**PEOPLE, periods=[p]), "a")
    assert body.end_on == utc("2026-04-10T23:59:59")


def test_r3_open_ended_absence_runs_to_the_window_end() -> None:
    p = raw_period("a", "p-anna", "2026-05-04T00:00:00", None)
    body = body_of(run(**PEOPLE, periods=[p]), "a")
    assert (body.start_on, body.end_on) == (utc("2026-05-04T00:00:00"), utc("2026-09-28T23:59:59"))


def test_r3_open_ended_absence_that_started_long_ago_keeps_its_start() -> None:
    p = raw_period("a", "p-anna", "2025-11-03T00:00:00", None)
    body = body_of(run(**PEOPLE, periods=[p]), "a")
    assert (body.start_on, body.end_on) == (utc("2025-11-03T00:00:00"), utc("2026-09-28T23:59:59"))


def test_r3_open_ended_absence_grows_with_the_window() -> None:
    """The end follows the window: the next day's run extends it by one day (one update)."""
    p = raw_period("a", "p-anna", "2026-05-04T00:00:00", None)
    store = AworkStore()
    store.apply(writes_of(run(**PEOPLE, periods=[p]).plan))
    tomorrow = run(**PEOPLE, periods=[p], absences=store.listing(), today=TODAY + timedelta(1))
    assert [u.body.end_on for u in tomorrow.plan.updates] == [utc("2026-09-29T23:59:59")]
    assert not tomorrow.plan.creates and not tomorrow.plan.deletes


@pytest.mark.parametrize(
    ("starts", "ends", "first", "last"),
    [
        # Europe/Berlin switches to summer time on 2026-03-29, back on 2026-10-25.
        ("2026-03-29T00:00:00", "2026-03-30T00:00:00", "2026-03-29", "2026-03-29"),
        ("2026-03-27T00:00:00", "2026-03-31T00:00:00", "2026-03-27", "2026-03-30"),
        ("2026-10-25T00:00:00", "2026-10-26T00:00:00", "2026-10-25", "2026-10-25"),
        ("2026-10-23T00:00:00", "2026-10-27T00:00:00", "2026-10-23", "2026-10-26"),
    ],
)
@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "Pacific/Auckland", "Asia/Kolkata", "America/Los_Angeles", "UTC"]
)
def test_r3_dates_never_shift_across_dst_or_time_zones(
    zone: str, starts: str, ends: str, first: str, last: str
) -> None:
    p = raw_period("a", "p-anna", starts, ends, timezone_id=zone)
    wide = spec(window={"futureDays": 365})  # window 2026-03-18 … 2027-04-01
    body = body_of(run(wide, **PEOPLE, periods=[p]), "a")
    assert body.start_on == utc(f"{first}T00:00:00")
    assert body.end_on == utc(f"{last}T23:59:59")


def test_r3_window_overlap_uses_the_inclusive_end() -> None:
    """Ending at 2026-03-18T00:00 (exclusive) means the last day is 03-17: outside."""
    p = raw_period("a", "p-anna", "2026-03-16T00:00:00", "2026-03-18T00:00:00")
    assert created_ids(periods=[p]) == []


# R4 — types and hourly periods --------------------------------------------------------------


def typed_periods() -> list[AbsencePeriod]:
    return [
        period("vac", "p-anna", "2026-04-06", "2026-04-07", type_id=VACATION.id),
        period("sick", "p-anna", "2026-04-13", "2026-04-14", type_id=SICK.id),
    ]


def test_r4_every_type_by_default() -> None:
    assert created_ids(periods=typed_periods()) == ["sick", "vac"]


@pytest.mark.parametrize("key", ["Paid vacation", "paid VACATION", "type-vac"])
def test_r4_include_by_name_or_id(key: str) -> None:
    the_spec = spec(absenceTypes={"include": [key]})
    assert created_ids(the_spec=the_spec, periods=typed_periods()) == ["vac"]


@pytest.mark.parametrize("key", ["Sick leave", "type-sick"])
def test_r4_exclude_by_name_or_id(key: str) -> None:
    the_spec = spec(absenceTypes={"exclude": [key]})
    assert created_ids(the_spec=the_spec, periods=typed_periods()) == ["vac"]


def test_r4_exclude_wins_over_include() -> None:
    the_spec = spec(
        absenceTypes={"include": ["Paid vacation", "type-sick"], "exclude": ["type-vac"]}
    )
    assert created_ids(the_spec=the_spec, periods=typed_periods()) == ["sick"]


@pytest.mark.parametrize("field", ["include", "exclude"])
def test_r4_r23_type_filter_naming_no_type_is_refused(field: str) -> None:
    """Decision (docs/rules.md): a misspelt include would select nothing and delete every
    owned absence; a misspelt exclude would leak the type it meant to hide. Refuse both."""
    with pytest.raises(ConfigError) as refused:
        run(spec(absenceTypes={field: ["Sabbatical"]}), **PEOPLE, periods=typed_periods())
    assert f"spec.absenceTypes.{field}" in refused.value.message
    assert "'Sabbatical'" in refused.value.message


def test_r4_type_filter_matches_names_case_insensitively_and_ids() -> None:
    by_name = spec(absenceTypes={"include": ["SICK LEAVE"]})
    assert created_ids(the_spec=by_name, periods=typed_periods()) == ["sick"]


def hourly_period() -> AbsencePeriod:
    return raw_period(
        "doc", "p-anna", "2026-04-08T09:00:00", "2026-04-08T11:30:00", type_id=HOURLY.id
    )


def test_r4_hourly_skipped_by_default_and_counted() -> None:
    outcome = run(**PEOPLE, periods=[hourly_period()])
    assert outcome.plan.writes == 0
    assert outcome.report.actions.skipped == 1
    assert outcome.report.skipped_reasons == {"hourly": 1}


def test_r4_hourly_by_time_of_day_even_with_a_day_type() -> None:
    p = raw_period("doc", "p-anna", "2026-04-08T13:00:00", "2026-04-08T17:00:00")
    assert run(**PEOPLE, periods=[p]).report.skipped_reasons == {"hourly": 1}


def test_r4_hourly_by_type_unit_even_at_midnight() -> None:
    p = period("doc", "p-anna", "2026-04-08", "2026-04-08", type_id=HOURLY.id)
    assert run(**PEOPLE, periods=[p]).report.skipped_reasons == {"hourly": 1}


def test_r4_hourly_full_day_becomes_a_whole_day() -> None:
    outcome = run(spec(hourlyAbsences="FullDay"), **PEOPLE, periods=[hourly_period()])
    body = body_of(outcome, "doc")
    assert (body.start_on, body.end_on) == (utc("2026-04-08T00:00:00"), utc("2026-04-08T23:59:59"))
    assert (body.is_half_day_on_start, body.is_half_day_on_end) == (False, False)
    assert body.description == HOURLY.name
    assert outcome.report.actions.skipped == 0


def test_r4_excluded_hourly_type_is_not_counted_as_skipped() -> None:
    outcome = run(
        spec(absenceTypes={"exclude": [HOURLY.name]}), **PEOPLE, periods=[hourly_period()]
    )
    assert outcome.report.actions.skipped == 0


# R5 — no public holidays ------------------------------------------------------------------
# R5 is about the clients (they never call a holiday endpoint) and is pinned there; at engine
# level: the snapshot has no holiday input, and every write comes from an absence period.


def test_r5_engine_has_no_holiday_input() -> None:
    assert {f.name for f in fields(Snapshot)} == {"persons", "types", "periods", "users", "owned"}


def test_r5_every_write_comes_from_a_personio_period() -> None:
    periods = typed_periods()
    outcome = run(**PEOPLE, periods=periods)
    assert {c.period_id for c in outcome.plan.creates} == {p.id for p in periods}


def test_r5_clients_name_no_holiday_endpoint() -> None:
    """No string literal (docstrings aside) in the clients mentions holidays or regions."""
    import personio_sync.clients as clients

    offending = []
    for source in Path(clients.__path__[0]).glob("*.py"):
        tree = ast.parse(source.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and ("holiday" in node.value.lower() or "absenceregion" in node.value.lower())
            ):
                offending.append(f"{source.name}: {node.value!r}")
    assert offending == []
