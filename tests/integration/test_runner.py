"""run_sync end to end: engine + both clients + both fakes over real HTTP (R1-R16, R19).

Each test has its own Sandbox on free ports, seeded with the demo company (or a
generated one) at a fixed `today`, and checks three things where they apply: the
report, what awork holds afterwards (read from the fake's state, not from the
client), and which requests the fakes saw (their journals).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import (
    DEMO,
    OTHER_OWNER,
    OWNER,
    TODAY,
    Row,
    awork_writes,
    clear_journals,
    day_period,
    expected_rows,
    make_spec,
    marker_prefix,
    others,
    owned_rows,
    requests_of,
    sandbox_for,
    sync,
)

from personio_sync.fakes import Sandbox, demo_seed_path, generate_company
from personio_sync.runner import Credentials, Endpoints, Tuning, delete_owned

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contract.schemas import validate_awork

ALICE = "5c3d0000-0000-4000-8000-000000000001"
BOB = "5c3d0000-0000-4000-8000-000000000002"
CAROL = "5c3d0000-0000-4000-8000-000000000003"
FRANK = "5c3d0000-0000-4000-8000-000000000006"
VACATION = "7d0a8c1e-0001-4a6b-9c1d-000000000001"
SICK = "7d0a8c1e-0001-4a6b-9c1d-000000000002"
DENTIST = "5c3d0000-0000-4000-8000-0000000000f1"


def period(n: int) -> str:
    return f"3f1e0000-0000-4000-8000-{n:012x}"


def mark(n: int, owner: str = OWNER) -> str:
    return marker_prefix(owner) + period(n)


def row(n: int, user: str, start: str, end: str, text: str, half: str = "") -> Row:
    """An expected awork absence of period n; `half` is "start" or "end" (the flag set)."""
    return Row(user, start + "Z", end + "Z", half == "start", half == "end", text, mark(n))


# The demo company at 2026-07-21, written out by hand from the seed and R2/R3/R9/R10.
DEMO_BY_PERIOD = {
    1: row(1, ALICE, "2026-07-28T00:00:00", "2026-08-01T23:59:59", "Vacation"),
    2: row(2, ALICE, "2026-08-10T00:00:00", "2026-08-10T12:00:00", "Vacation", "start"),
    4: row(4, BOB, "2026-07-18T00:00:00", "2026-07-19T23:59:59", "Sick leave"),
    5: row(5, BOB, "2026-07-01T00:00:00", "2026-07-10T23:59:59", "Vacation"),
    6: row(6, BOB, "2026-08-20T12:00:00", "2026-08-20T23:59:59", "Vacation", "end"),
    7: row(7, CAROL, "2026-08-30T12:00:00", "2026-09-01T23:59:59", "Vacation", "start"),
    11: row(11, CAROL, "2026-12-18T00:00:00", "2027-01-17T23:59:59", "Parental leave"),
}
DEMO_ROWS = sorted(DEMO_BY_PERIOD.values())
# Rows for periods that only count with a spec option.
PENDING_ROW = row(8, CAROL, "2026-09-19T00:00:00", "2026-09-23T23:59:59", "Vacation")
DOCTOR_ROW = row(10, CAROL, "2026-07-26T00:00:00", "2026-07-26T23:59:59", "Doctor's appointment")


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    with sandbox_for(demo_seed_path()) as sandbox:
        yield sandbox


def endpoints(sandbox: Sandbox) -> Endpoints:
    return Endpoints(sandbox.personio_url, sandbox.awork_url)


# --- the demo company ---------------------------------------------------------------------


async def test_r7_r9_r10_demo_company_report_and_awork_state(demo: Sandbox) -> None:
    hand_made = others(demo)

    report = await sync(demo)

    assert report.to_json() == {
        "window": {"from": "2026-07-07", "to": "2027-01-17"},
        "dryRun": False,
        "users": {
            "matched": 3,
            "personioOnly": ["dave@acme.example", "erin@acme.example"],
            "aworkOnly": ["frank@acme.example"],
            "ambiguous": [],
        },
        "actions": {
            "created": 7,
            "updated": 0,
            "deleted": 0,
            "unchanged": 0,
            "skipped": 3,
            "failed": 0,
        },
        "failures": [],
    }
    assert report.users.matched == ["alice@acme.example", "bob@acme.example", "carol@acme.example"]
    assert report.users.without_email == ["1006"]
    assert report.skipped_reasons == {"hourly": 1, "unmatchedUser": 2}
    assert owned_rows(demo) == DEMO_ROWS
    assert expected_rows(demo) == DEMO_ROWS  # the oracle agrees with the hand-written table
    assert others(demo) == hand_made
    for entry in awork_writes(demo):  # what went over the wire is a valid AbsenceForm
        assert entry.method == "POST" and entry.status == 200
        validate_awork("AbsenceForm", entry.body, request=True)


async def test_r14_second_run_writes_nothing_and_reads_each_list_once(demo: Sandbox) -> None:
    await sync(demo)
    clear_journals(demo)

    report = await sync(demo)

    acts = report.actions
    assert (acts.created, acts.updated, acts.deleted, acts.unchanged) == (0, 0, 0, 7)
    window = {"ends_at.date_time.gte": "2026-07-07T00:00:00"}
    window["starts_from.date_time.lte"] = "2027-01-17T23:59:59"
    assert requests_of(demo.personio.journal.entries()) == sorted(
        [
            ("POST", "/v2/auth/token", ()),
            ("GET", "/v2/persons", (("limit", "50"),)),
            ("GET", "/v2/absence-types", (("limit", "100"),)),
            ("GET", "/v2/absence-periods", tuple(sorted({**window, "limit": "100"}.items()))),
        ]
    )
    owned = f"startswith(externalProvider,'{marker_prefix(OWNER)}')"
    assert requests_of(demo.awork.journal.entries()) == sorted(
        [
            ("GET", "/api/v1/users", (("page", "1"), ("pageSize", "1000"))),
            ("GET", "/api/v1/apiusers", ()),
            ("GET", "/api/v1/absences", (("filterby", owned), ("page", "1"), ("pageSize", "1000"))),
        ]
    )


async def test_r5_no_holiday_endpoint_is_ever_called(demo: Sandbox) -> None:
    await sync(demo)
    await sync(demo, make_spec(includePending=True, hourlyAbsences="FullDay"))

    paths = {e.path for e in demo.personio.journal.entries()}
    assert paths == {"/v2/auth/token", "/v2/persons", "/v2/absence-types", "/v2/absence-periods"}
    assert not any(
        "holiday" in e.path or "holiday" in str(e.query) for e in demo.awork.journal.entries()
    )


async def test_r2_window_edges_over_http(demo: Sandbox) -> None:
    """Server-side filter, client and engine agree on the edges: whole absences, never clipped."""
    edges = {
        "edge-last-day-is-window-start": (date(2026, 7, 3), 5),  # 07-03 .. 07-07
        "edge-ends-the-day-before": (date(2026, 7, 2), 5),  # 07-02 .. 07-06: outside
        "edge-first-day-is-window-end": (date(2027, 1, 17), 1),
        "edge-starts-the-day-after": (date(2027, 1, 18), 1),  # outside
        "edge-crosses-the-future-edge": (date(2027, 1, 10), 14),  # 01-10 .. 01-23, whole
    }
    for period_id, (first, days) in edges.items():
        demo.personio_state.put_period(day_period(period_id, "1001", VACATION, first, days))

    await sync(demo)

    synced = {
        r.marker.rsplit(":", 1)[-1]: (r.start_on, r.end_on) for r in owned_rows(demo) if r.marker
    }
    assert synced["edge-last-day-is-window-start"] == (
        "2026-07-03T00:00:00Z",
        "2026-07-07T23:59:59Z",
    )
    assert synced["edge-first-day-is-window-end"] == (
        "2027-01-17T00:00:00Z",
        "2027-01-17T23:59:59Z",
    )
    assert synced["edge-crosses-the-future-edge"] == (
        "2027-01-10T00:00:00Z",
        "2027-01-23T23:59:59Z",
    )
    assert "edge-ends-the-day-before" not in synced and "edge-starts-the-day-after" not in synced
    assert owned_rows(demo) == expected_rows(demo)


# --- generated companies ------------------------------------------------------------------


@pytest.mark.parametrize(("people", "seed"), [(8, 1), (15, 2), (25, 3)])
async def test_r13_generated_company_converges_to_the_rules(people: int, seed: int) -> None:
    company = generate_company(people, today=TODAY, seed=seed)
    credentials = company_credentials(company)
    with sandbox_for(company) as sandbox:
        hand_made = others(sandbox)
        expected = expected_rows(sandbox)

        first = await sync(sandbox, credentials=credentials)
        clear_journals(sandbox)
        second = await sync(sandbox, credentials=credentials)

        assert owned_rows(sandbox) == expected
        assert first.actions.created == len(expected) and first.actions.failed == 0
        assert second.actions.unchanged == len(expected)
        assert awork_writes(sandbox) == []
        assert others(sandbox) == hand_made
        assert "shared@example.com" in first.users.ambiguous
        assert first.users.without_email == ["99990003"]


@pytest.mark.parametrize("relative_links", [False, True], ids=["absolute", "relative"])
async def test_r14_paged_lists_are_read_once_per_page_at_the_largest_size(
    relative_links: bool,
) -> None:
    company = generate_company(60, today=TODAY, seed=4, absences_per_person=3)
    credentials = company_credentials(company)
    with sandbox_for(company) as sandbox:
        sandbox.personio.set_knobs(relative_links=relative_links)
        await sync(sandbox, credentials=credentials, concurrency=16)
        clear_journals(sandbox)
        await sync(sandbox, credentials=credentials)

        reads = [e for e in sandbox.personio.journal.entries() if e.method == "GET"]
        persons = [e for e in reads if e.path == "/v2/persons"]
        periods = [e for e in reads if e.path == "/v2/absence-periods"]
        assert len(persons) == 2 and {e.query["limit"] for e in persons} == {"50"}
        assert len(periods) >= 2 and {e.query["limit"] for e in periods} == {"100"}
        for pages in (persons, periods):
            queries = [tuple(sorted(e.query.items())) for e in pages]
            assert len(set(queries)) == len(queries), "a page was read twice"
        assert awork_writes(sandbox) == []
        assert owned_rows(sandbox) == expected_rows(sandbox)


def company_credentials(company: dict[str, Any]) -> Credentials:
    cred = company["personio"]["credentials"][0]
    key = company["awork"]["api_keys"][0]["key"]
    return Credentials(cred["client_id"], cred["client_secret"], key)


# --- Personio changes converge ------------------------------------------------------------


def move_alice(sandbox: Sandbox) -> None:
    sandbox.personio_state.move_period(
        period(1),
        {"date_time": "2026-07-29T00:00:00", "type": None},
        {"date_time": "2026-08-04T00:00:00", "type": "FIRST_HALF"},
    )


def add_absence(sandbox: Sandbox) -> None:
    sandbox.personio_state.put_period(
        day_period("new-period-1", "1002", SICK, TODAY.replace(day=24), 2)
    )


def approve_pending(sandbox: Sandbox) -> None:
    sandbox.personio_state.approve(period(8))


def carol_becomes_frank(sandbox: Sandbox) -> None:
    sandbox.personio_state.set_person_email("1003", "Frank@acme.example ")


CHANGES = [
    pytest.param(move_alice, (0, 1, 0), id="move"),
    pytest.param(lambda s: s.personio_state.cancel(period(4)), (0, 0, 1), id="cancel"),
    pytest.param(lambda s: s.personio_state.reject(period(6)), (0, 0, 1), id="reject"),
    pytest.param(add_absence, (1, 0, 0), id="new-absence"),
    pytest.param(approve_pending, (1, 0, 0), id="approve-pending"),
    pytest.param(carol_becomes_frank, (0, 2, 0), id="email-change"),
]


@pytest.mark.parametrize(("change", "counts"), CHANGES)
async def test_r13_personio_change_converges_with_writes_equal_to_changes(
    demo: Sandbox, change: Any, counts: tuple[int, int, int]
) -> None:
    await sync(demo)
    hand_made = others(demo)
    change(demo)
    clear_journals(demo)

    report = await sync(demo)

    acts = report.actions
    assert (acts.created, acts.updated, acts.deleted) == counts
    assert len(awork_writes(demo)) == sum(counts)
    assert acts.failed == 0
    assert owned_rows(demo) == expected_rows(demo)
    assert others(demo) == hand_made
    clear_journals(demo)
    assert (await sync(demo)).actions.unchanged == len(expected_rows(demo))
    assert awork_writes(demo) == []


async def test_r13_all_changes_at_once_converge_in_one_run(demo: Sandbox) -> None:
    await sync(demo)
    for change in (move_alice, add_absence, approve_pending, carol_becomes_frank):
        change(demo)
    demo.personio_state.cancel(period(4))
    demo.personio_state.reject(period(6))
    clear_journals(demo)

    report = await sync(demo)

    acts = report.actions
    assert (acts.created, acts.updated, acts.deleted) == (2, 3, 2)
    assert len(awork_writes(demo)) == 7
    assert owned_rows(demo) == expected_rows(demo)
    assert "frank@acme.example" in report.users.matched
    assert "frank@acme.example" not in report.users.awork_only


async def test_matching_loss_keeps_absences_instead_of_erasing_them(demo: Sandbox) -> None:
    """A person who stops matching (e-mail changed to nobody) keeps their absences (docs)."""
    await sync(demo)
    before = owned_rows(demo)
    demo.personio_state.set_person_email("1003", "carol@new-domain.example")
    clear_journals(demo)

    report = await sync(demo)

    assert awork_writes(demo) == []
    assert owned_rows(demo) == before
    assert "carol@new-domain.example" in report.users.personio_only
    assert report.skipped_reasons["unmatchedUser"] == 4


# --- hands off, dry run, spec options -----------------------------------------------------


async def test_r12_hand_made_absences_are_never_touched(demo: Sandbox) -> None:
    state = demo.awork_state
    overlapping = [
        {"userId": ALICE, "startOn": "2026-07-28T00:00:00Z", "endOn": "2026-08-01T23:59:59Z"},
        {
            "userId": BOB,
            "startOn": "2026-07-18T00:00:00Z",
            "endOn": "2026-07-19T23:59:59Z",
            "description": "Sick leave",
            "externalProvider": "clockodo-absences",
        },
        {  # looks like ours, but another sync's: hands off too
            "userId": CAROL,
            "startOn": "2026-08-30T12:00:00Z",
            "endOn": "2026-09-01T23:59:59Z",
            "description": "stale",
            "externalProvider": mark(7, OTHER_OWNER),
            "isHalfDayOnStart": True,
        },
        {  # a period id that Personio no longer has, under another owner
            "userId": CAROL,
            "startOn": "2026-07-25T00:00:00Z",
            "endOn": "2026-07-25T23:59:59Z",
            "externalProvider": mark(99, OTHER_OWNER),
        },
        {"userId": FRANK, "startOn": "2026-07-22T00:00:00Z", "endOn": "2026-07-23T23:59:59Z"},
    ]
    for absence in overlapping:
        state.add_absence(absence)
    hand_made = others(demo)
    assert len(hand_made) == 6

    await sync(demo)
    demo.personio_state.cancel(period(1))
    demo.personio_state.reject(period(7))
    await sync(demo)

    assert others(demo) == hand_made
    touched = {e.path.rsplit("/", 1)[-1] for e in awork_writes(demo) if e.method != "POST"}
    assert touched and not touched & set(hand_made)


async def test_r16_dry_run_plans_and_writes_nothing(demo: Sandbox) -> None:
    before = demo.awork_state.dump()["absences"]

    report = await sync(demo, make_spec(dryRun=True))

    assert awork_writes(demo) == []
    assert demo.awork_state.dump()["absences"] == before
    assert report.dry_run and report.to_json()["dryRun"] is True
    assert report.actions.created == 7
    planned = {(p.action, p.personio_id, p.email, p.start, p.end) for p in report.planned}
    morning = ("create", period(2), "alice@acme.example")
    assert (*morning, "2026-08-10T00:00:00Z", "2026-08-10T12:00:00Z") in planned
    assert len(planned) == 7


async def test_r16_dry_run_after_changes_reports_updates_and_deletes(demo: Sandbox) -> None:
    await sync(demo)
    move_alice(demo)
    demo.personio_state.cancel(period(4))
    before = demo.awork_state.dump()["absences"]
    clear_journals(demo)

    report = await sync(demo, make_spec(dryRun=True))

    acts = report.actions
    assert (acts.created, acts.updated, acts.deleted, acts.unchanged) == (0, 1, 1, 5)
    assert awork_writes(demo) == []
    assert demo.awork_state.dump()["absences"] == before
    assert {p.action for p in report.planned} == {"update", "delete"}


async def test_r16_dry_run_sample_is_bounded() -> None:
    company = generate_company(15, today=TODAY, seed=2)
    with sandbox_for(company) as sandbox:
        report = await sync(
            sandbox, make_spec(dryRun=True), credentials=company_credentials(company)
        )

        assert report.actions.created > 20 and len(report.planned) == 20
        assert awork_writes(sandbox) == []


async def test_r8_user_mapping_links_different_emails_over_http(demo: Sandbox) -> None:
    spec = make_spec(
        userMappings=[
            {"personioEmail": "Dave@acme.example", "aworkEmail": "frank@acme.example"},
            {"personioEmail": "nobody@acme.example", "aworkEmail": "alice@acme.example"},
        ]
    )

    report = await sync(demo, spec)

    dave = row(12, FRANK, "2026-08-04T00:00:00", "2026-08-06T23:59:59", "Vacation")
    assert owned_rows(demo) == sorted([*DEMO_ROWS, dave])
    assert "dave@acme.example" in report.users.matched
    assert report.users.personio_only == ["erin@acme.example"]
    assert report.users.awork_only == []
    assert report.users.broken_mappings == [
        "nobody@acme.example -> alice@acme.example (no Personio person with that e-mail)"
    ]


async def test_r1_include_pending_adds_pending_never_rejected(demo: Sandbox) -> None:
    spec = make_spec(includePending=True)

    report = await sync(demo, spec)

    assert report.actions.created == 8
    rows = owned_rows(demo)
    assert rows == expected_rows(demo, spec)
    assert PENDING_ROW in rows
    assert mark(9) not in {r.marker for r in rows}  # REJECTED never counts


async def test_r4_type_filters_by_name_and_id_exclude_wins(demo: Sandbox) -> None:
    await sync(demo)
    spec = make_spec(absenceTypes={"include": ["sick LEAVE", VACATION], "exclude": ["Vacation"]})

    report = await sync(demo, spec)

    assert (report.actions.deleted, report.actions.unchanged) == (6, 1)  # R13: type now excluded
    assert owned_rows(demo) == expected_rows(demo, spec) == [DEMO_BY_PERIOD[4]]


async def test_r9_generic_description_hides_the_type(demo: Sandbox) -> None:
    await sync(demo)
    spec = make_spec(description={"mode": "Generic", "text": "Out of office"})

    report = await sync(demo, spec)

    assert report.actions.updated == 7
    assert {r.description for r in owned_rows(demo)} == {"Out of office"}
    assert owned_rows(demo) == expected_rows(demo, spec)
    bodies = [e.body for e in awork_writes(demo) if e.method == "PUT"]
    assert bodies and all("Sick" not in str(body) for body in bodies)


async def test_r4_hourly_absence_as_full_day(demo: Sandbox) -> None:
    spec = make_spec(hourlyAbsences="FullDay")

    report = await sync(demo, spec)

    assert report.skipped_reasons == {"unmatchedUser": 2}
    assert DOCTOR_ROW in owned_rows(demo)
    assert owned_rows(demo) == expected_rows(demo, spec)


# --- two owners and deletion --------------------------------------------------------------


async def test_r11_two_owners_never_touch_each_others_absences(demo: Sandbox) -> None:
    sick_only = make_spec(absenceTypes={"include": ["Sick leave"]})
    await sync(demo)
    await sync(demo, sick_only, owner=OTHER_OWNER)
    mine, theirs = owned_rows(demo), owned_rows(demo, OTHER_OWNER)
    assert len(mine) == 7 and len(theirs) == 1

    demo.personio_state.cancel(period(4))  # both own a copy of Bob's sick leave
    demo.personio_state.reject(period(1))
    clear_journals(demo)
    report = await sync(demo, make_spec(absenceTypes={"exclude": ["Sick leave"]}))

    assert (report.actions.deleted, report.actions.unchanged) == (2, 5)
    assert owned_rows(demo, OTHER_OWNER) == theirs  # not even its now stale copy
    assert len(awork_writes(demo)) == 2
    clear_journals(demo)
    other = await sync(demo, sick_only, owner=OTHER_OWNER)
    assert other.actions.deleted == 1 and owned_rows(demo, OTHER_OWNER) == []
    assert owned_rows(demo) == expected_rows(
        demo, make_spec(absenceTypes={"exclude": ["Sick leave"]})
    )


async def test_r19_delete_owned_removes_exactly_the_owned_absences(demo: Sandbox) -> None:
    await sync(demo)
    await sync(demo, owner=OTHER_OWNER)
    keep = others(demo)  # the other owner's and the hand-made ones
    assert len(keep) == 8
    clear_journals(demo)

    deleted = await delete_owned(
        DEMO, owner_key=OWNER, endpoints=endpoints(demo), tuning=Tuning(write_concurrency=4)
    )

    assert deleted == 7
    assert owned_rows(demo) == []
    assert others(demo) == keep
    assert [e.method for e in awork_writes(demo)] == ["DELETE"] * 7
    assert demo.personio.journal.entries() == []  # deleting needs no Personio call
    assert await delete_owned(DEMO, owner_key=OWNER, endpoints=endpoints(demo)) == 0
