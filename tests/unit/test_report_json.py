"""`--output json` carries everything the text report shows, as fields a script can read."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date

from personio_sync.cli.report_json import error_json, json_report
from personio_sync.cli.report_text import render_text
from personio_sync.engine.model import DateRange
from personio_sync.engine.report import (
    ActionCounts,
    Failure,
    PlannedAction,
    SyncReport,
    UserReport,
)
from personio_sync.errors import PersonioAuthError

REPORT = SyncReport(
    window=DateRange(date(2026, 5, 1), date(2026, 10, 28)),
    dry_run=True,
    users=UserReport(
        matched=["ana@example.com"],
        personio_only=["ben@example.com"],
        awork_only=["cleo@example.com"],
        ambiguous=["dup@example.com"],
        without_email=["p-77", "p-78"],
        broken_mappings=["eve@example.com -> nobody@example.com"],
    ),
    actions=ActionCounts(created=11, updated=12, deleted=13, unchanged=14, skipped=15, failed=16),
    failures=[Failure("p-9", "ana@example.com", "HTTP 422 startOn invalid")],
    planned=[
        PlannedAction("create", "p-10", "ana@example.com", "2026-05-04", "2026-05-08"),
        PlannedAction(
            "update",
            "p-11",
            "ana@example.com",
            "2026-06-01",
            "2026-06-03",
            ("end", "halfDayOnStart", "description"),
        ),
    ],
    skipped_reasons={"hourly": 17, "unmatchedUser": 18},
    duration_seconds=19.25,
)


def test_every_datum_of_the_text_report_is_in_the_json() -> None:
    text = render_text(REPORT)
    doc = json_report(REPORT)
    data = re.findall(r"[\w.+-]+@[\w.-]+|p-\d+|\d{4}-\d\d-\d\d|\b\d+(?:\.\d)?\b", text)
    data += [*REPORT.skipped_reasons, "HTTP 422 startOn invalid"]
    flat = json.dumps(doc)
    missing = [d for d in data if d not in flat]
    assert not missing, f"shown as text but missing from the JSON: {missing}"
    assert doc["users"]["withoutEmail"] == 2
    assert doc["users"]["brokenMappings"] == REPORT.users.broken_mappings
    assert doc["skippedReasons"] == {"hourly": 17, "unmatchedUser": 18}
    assert doc["planned"][0]["action"] == "create"


def test_the_report_shape_is_kept_and_only_added_to() -> None:
    base, doc = REPORT.to_json(), json_report(REPORT)
    assert {k: doc[k] for k in base if k != "users"} == {
        k: v for k, v in base.items() if k != "users"
    }
    assert base["users"].items() <= doc["users"].items()


def test_an_error_as_json_names_its_reason_and_exit_code() -> None:
    doc = error_json(PersonioAuthError("Personio rejected the client id"), 1)
    assert doc["error"] == {
        "reason": "PersonioCredentialsRejected",
        "message": "Personio rejected the client id",
        "exitCode": 1,
    }


def test_ux_7_an_update_lists_what_would_change_in_json_and_words_in_text() -> None:
    update = json_report(REPORT)["planned"][1]
    assert update["changes"] == ["end", "halfDayOnStart", "description"]
    assert json_report(REPORT)["planned"][0]["changes"] == []
    assert (
        "  would update p-11 ana@example.com 2026-06-01..2026-06-03: "
        "end date, half day at the start, description"
    ) in render_text(REPORT).splitlines()


def test_ux_8_every_user_group_is_a_count_and_its_emails_as_in_status() -> None:
    users = json_report(REPORT)["users"]
    assert json_report(REPORT)["reportVersion"] == 2
    for group in ("matched", "personioOnly", "aworkOnly", "ambiguous"):
        assert users[group] == len(users[f"{group}Emails"]) == 1, group
    assert (users["withoutEmail"], users["withoutEmailIds"]) == (2, ["p-77", "p-78"])


def test_ux_9_the_text_report_names_skip_reasons_in_words() -> None:
    text = render_text(REPORT)
    assert (
        "  skipped because hour-based (spec.hourlyAbsences: Skip): 17; "
        "the person has no awork user: 18"
    ) in text.splitlines()
    assert "unmatchedUser" not in text and "hourly:" not in text
    one = replace(REPORT, users=replace(REPORT.users, without_email=["p-77"]))
    assert "  1 Personio person without a readable e-mail (ids in the JSON report): give " in (
        render_text(one)
    )
