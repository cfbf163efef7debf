"""The demo company (fakes/data/demo.yaml) at TODAY as the integration tests expect it.

Written out by hand from the seed and R2/R3/R9/R10, so the tests do not depend on the
oracle in runner_helpers alone; plus the Personio changes several tests make to it.
"""

from __future__ import annotations

from typing import Any

from runner_helpers import OWNER, TODAY, Row, day_period, marker_prefix

from personio_sync.sync.runner import Credentials
from personio_sync_testing.fakes import Sandbox

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
# What run_sync reports (and `personio-sync sync --output json` prints) for the first run.
DEMO_REPORT: dict[str, Any] = {
    "reportVersion": 2,
    "window": {"from": "2026-07-07", "to": "2027-01-17"},
    "dryRun": False,
    "users": {
        "matched": 3,
        "personioOnly": 2,
        "aworkOnly": 1,
        "ambiguous": 0,
        "matchedEmails": ["alice@acme.example", "bob@acme.example", "carol@acme.example"],
        "personioOnlyEmails": ["dave@acme.example", "erin@acme.example"],
        "aworkOnlyEmails": ["frank@acme.example"],
        "ambiguousEmails": [],
    },
    "actions": {
        "created": 7,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "skipped": 3,
        "failed": 0,
        "heldDeletes": 0,
        "conflicts": 0,
    },
    "failures": [],
    "conflicts": [],  # and "owner": the run's owner key
}
# Rows for periods that only count with a spec option.
PENDING_ROW = row(8, CAROL, "2026-09-19T00:00:00", "2026-09-23T23:59:59", "Vacation")
DOCTOR_ROW = row(10, CAROL, "2026-07-26T00:00:00", "2026-07-26T23:59:59", "Doctor's appointment")


def company_credentials(company: dict[str, Any]) -> Credentials:
    cred = company["personio"]["credentials"][0]
    key = company["awork"]["api_keys"][0]["key"]
    return Credentials(cred["client_id"], cred["client_secret"], key)


# --- Personio changes to the demo company --------------------------------------------------


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
