"""run_sync end to end over HTTP, across runs: Personio changes converge with exactly the
needed writes (R13), hand-made absences are never touched (R12), dry runs write nothing
(R16), spec options (R1, R4, R8, R9), two owners side by side (R11) and deletion (R19).
"""

from __future__ import annotations

from typing import Any

import pytest
from runner_demo import (
    ALICE,
    BOB,
    CAROL,
    DEMO_BY_PERIOD,
    DEMO_ROWS,
    DOCTOR_ROW,
    FRANK,
    PENDING_ROW,
    VACATION,
    add_absence,
    approve_pending,
    carol_becomes_frank,
    company_credentials,
    mark,
    move_alice,
    period,
    row,
)
from runner_helpers import (
    DEMO,
    OTHER_OWNER,
    OWNER,
    TODAY,
    awork_writes,
    clear_journals,
    expected_rows,
    make_spec,
    others,
    owned_rows,
    sandbox_for,
    sync,
)

from personio_sync.sync.runner import Endpoints, Tuning, delete_owned
from personio_sync_testing.fakes import Sandbox, generate_company


def endpoints(sandbox: Sandbox) -> Endpoints:
    return Endpoints(sandbox.personio_url, sandbox.awork_url)


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

    held = await sync(demo, spec)  # 6 of 7: past the deletion guard (D-Guard)
    assert (held.actions.deleted, held.actions.held_deletes) == (0, 6)
    report = await sync(demo, spec, allow_mass_delete=True)

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


async def test_r11_d_owner_second_owner_reports_conflicts_and_writes_nothing(
    demo: Sandbox,
) -> None:
    """Two PersonioSyncs on one workspace: the second never duplicates (D-Owner)."""
    await sync(demo)
    mine = owned_rows(demo)
    clear_journals(demo)

    other = await sync(demo, make_spec(absenceTypes={"include": ["Sick leave"]}), owner=OTHER_OWNER)

    assert [(c.period_id, c.owner) for c in other.conflicts] == [(period(4), OWNER)]
    assert other.actions.conflicts == 1 and other.actions.created == 0
    assert awork_writes(demo) == [] and owned_rows(demo, OTHER_OWNER) == []
    assert owned_rows(demo) == mine


async def test_r11_d_owner_adopt_from_moves_every_absence_in_place(demo: Sandbox) -> None:
    """A rename: the new owner rewrites each marker with a PUT, the old one then conflicts."""
    await sync(demo)
    ids = sorted(a["id"] for a in demo.awork_state.dump()["absences"])
    clear_journals(demo)

    moved = await sync(demo, owner=OTHER_OWNER, adopt_from=[OWNER])

    assert (moved.actions.updated, moved.actions.created, moved.actions.deleted) == (7, 0, 0)
    assert {e.method for e in awork_writes(demo)} == {"PUT"}
    assert sorted(a["id"] for a in demo.awork_state.dump()["absences"]) == ids
    assert owned_rows(demo) == [] and len(owned_rows(demo, OTHER_OWNER)) == 7
    clear_journals(demo)
    old = await sync(demo)
    assert old.actions.conflicts == 7 and awork_writes(demo) == []
    assert {c.owner for c in old.conflicts} == {OTHER_OWNER}


async def test_r19_delete_owned_removes_exactly_the_owned_absences(demo: Sandbox) -> None:
    await sync(demo, owner=OTHER_OWNER)
    await sync(demo, owner=OWNER, adopt_from=[OTHER_OWNER])  # takes all seven over
    for absence in demo.awork_state.dump()["absences"]:  # and the other owner writes anew
        if absence.get("externalProvider"):
            theirs = absence["externalProvider"].replace(OWNER, OTHER_OWNER)
            copy = {k: v for k, v in absence.items() if k != "id"}
            demo.awork_state.add_absence({**copy, "externalProvider": theirs})
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


async def test_d_owner_a_loosened_awork_filter_touches_nothing_foreign(demo: Sandbox) -> None:
    """awork answering every absence to our marker filter must not make any of them ours:
    sync and R19 deletion check the exact marker themselves."""
    await sync(demo, owner=OTHER_OWNER)
    foreign = others(demo)  # the other owner's seven and the hand-made one
    demo.awork.set_knobs(ignore_filters=True)
    clear_journals(demo)

    report = await sync(demo, make_spec(absenceTypes={"include": ["Sick leave"]}))
    deleted = await delete_owned(DEMO, owner_key=OWNER, endpoints=endpoints(demo))

    assert report.actions.conflicts == 1 and deleted == 0
    assert awork_writes(demo) == [] and others(demo) == foreign
