"""HOOK-6: status.lastEvent survives every status the operator writes, and a run's status
carries the newest event even when the run began before it arrived."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from personio_sync.controller.reporting import outcomes as status
from personio_sync.engine.model import DateRange
from personio_sync.engine.report import ActionCounts, SyncReport, UserReport
from personio_sync.errors import AworkTransportError
from personio_sync.resource.status import LastEvent, PersonioSyncStatus

T0 = datetime(2026, 7, 21, 8, 0, 0, tzinfo=UTC)
STAMP = status.Stamp(generation=3, now=T0)
EVENT = LastEvent(time=T0, kind="absence-period.created", outcome="accepted")
WIRE = {"time": "2026-07-21T08:00:00Z", "kind": "absence-period.created", "outcome": "accepted"}


def report() -> SyncReport:
    return SyncReport(
        window=DateRange(date(2026, 7, 7), date(2027, 1, 17)),
        dry_run=False,
        users=UserReport(matched=["a@x.example"]),
        actions=ActionCounts(created=1),
        duration_seconds=1.0,
    )


def test_hook_6_last_event_is_kept_by_runs_errors_and_suspension() -> None:
    previous = {"lastEvent": WIRE}
    ok = status.after_report(previous, report(), stamp=STAMP, next_sync=T0)
    failed = status.after_error(previous, AworkTransportError("down"), stamp=STAMP, next_sync=None)
    paused = status.suspended(previous, stamp=STAMP)
    assert ok["lastEvent"] == failed["lastEvent"] == paused["lastEvent"] == WIRE
    PersonioSyncStatus.model_validate(ok)  # fits the CRD's schema


def test_hook_6_the_newest_event_wins_over_the_runs_older_view() -> None:
    built = status.after_report({}, report(), stamp=STAMP, next_sync=T0)
    assert "lastEvent" not in built
    assert status.with_last_event(built, EVENT)["lastEvent"] == WIRE
    newer = {**built, "lastEvent": {**WIRE, "time": "2026-07-21T09:00:00Z"}}
    assert status.with_last_event(newer, EVENT) == newer
    older = LastEvent(time=T0 - timedelta(hours=1), kind="person.updated", outcome="accepted")
    assert status.with_last_event({**built, "lastEvent": WIRE}, older)["lastEvent"] == WIRE
    assert status.with_last_event(built, None) == built
