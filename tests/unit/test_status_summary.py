"""UX-7: the run's one-line summary (status.message and the Normal Event) keeps one tense."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from personio_sync.controller.reporting.report_parts import summary
from personio_sync.engine.model import DateRange
from personio_sync.engine.report import ActionCounts, SyncReport, UserReport

REPORT = SyncReport(
    window=DateRange(date(2026, 5, 1), date(2026, 10, 28)),
    dry_run=False,
    users=UserReport(matched=["a@x.de", "b@x.de"], personio_only=["c@x.de"]),
    actions=ActionCounts(created=0, updated=7, deleted=1, failed=0),
)


def test_ux_7_a_dry_run_summary_says_would_for_every_write() -> None:
    assert summary(replace(REPORT, dry_run=True)) == (
        "2 matched, 1 only in Personio, 0 only in awork, 0 ambiguous; "
        "would create 0, would update 7, would delete 1, failed 0 (dry run)"
    )


def test_ux_7_a_real_run_summary_says_what_was_done() -> None:
    assert summary(REPORT) == (
        "2 matched, 1 only in Personio, 0 only in awork, 0 ambiguous; "
        "created 0, updated 7, deleted 1, failed 0"
    )
