"""run_sync end to end: engine + both clients + both fakes over real HTTP (R1-R16).

Each test has its own Sandbox on free ports, seeded with the demo company (or a
generated one) at a fixed `today`, and checks three things where they apply: the
report, what awork holds afterwards (read from the fake's state, not from the
client), and which requests the fakes saw (their journals). Changes between runs,
spec options, ownership and deletion: test_runner_changes.py.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from runner_demo import DEMO_REPORT, DEMO_ROWS, VACATION, company_credentials
from runner_helpers import (
    OWNER,
    TODAY,
    awork_writes,
    clear_journals,
    day_period,
    expected_rows,
    make_spec,
    others,
    owned_rows,
    requests_of,
    sandbox_for,
    sync,
)

from personio_sync_testing.fakes import Sandbox, generate_company

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contract.schemas import validate_awork

# --- the demo company ---------------------------------------------------------------------


async def test_r7_r9_r10_demo_company_report_and_awork_state(demo: Sandbox) -> None:
    hand_made = others(demo)

    report = await sync(demo)

    assert report.to_json() == {**DEMO_REPORT, "owner": OWNER}
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
    owned = "startswith(externalProvider,'personio-sync:')"  # every owner's (D-Owner)
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
