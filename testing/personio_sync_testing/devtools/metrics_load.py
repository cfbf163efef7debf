"""N resources' worth of metrics, as a busy operator would hold them (METRICS-4).

The size test (tests/unit/test_metrics_scale.py) and bench/metrics_bench.py feed the
operator's own Metrics through the calls the workers make, so the measured page is the
one a scrape would get: every resource synced once with some users and writes, both
vendors counted, a targeted sync and its latency; one in 20 failing, one in 100 holding
deletions or meeting conflicts.
"""

from __future__ import annotations

from datetime import date

from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.engine.model import DateRange
from personio_sync.engine.report import ActionCounts, SyncReport, UserReport

SUCCEEDED_AT = "2026-12-01T05:00:00Z"
FAILED_AT = "2026-12-01T06:00:00Z"
REPORT = SyncReport(
    window=DateRange(date(2026, 7, 7), date(2027, 1, 17)),
    dry_run=False,
    users=UserReport(
        matched=[f"p{i}@acme.example" for i in range(40)], personio_only=["dave@acme.example"]
    ),
    actions=ActionCounts(created=3, updated=1, deleted=2),
    duration_seconds=4.0,
)


class _Stats:
    def __init__(self, requests: int, limited: int) -> None:
        self.total_requests = requests
        self.rate_limited = limited


def status_body(index: int) -> dict[str, object]:
    """The resource as watched: healthy, or failing (every 20th), held or in conflict."""
    failing = index % 20 == 7
    synced = {"type": "Synced", "status": "False" if failing else "True",
              "reason": "PersonioUnreachable" if failing else "Synced",
              "lastTransitionTime": FAILED_AT}  # fmt: skip
    last_run = {"heldDeletes": 12 if index % 100 == 3 else 0,
                "conflicts": 2 if index % 100 == 5 else 0}  # fmt: skip
    status = {"lastSuccessfulSyncTime": SUCCEEDED_AT, "lastRun": last_run,
              "conditions": [synced]}  # fmt: skip
    return {"spec": {"interval": "1h"}, "status": status}


def populate(metrics: Metrics, count: int, namespaces: int = 10) -> None:
    """`count` resources named sync-<i>, spread round-robin over tenant-<j>."""
    for index in range(count):
        namespace, name = f"tenant-{index % namespaces:02d}", f"sync-{index:05d}"
        metrics.observe_status(namespace, name, status_body(index))
        metrics.observe_report(namespace, name, REPORT, ended=1_796_100_000.0)
        if index % 20 == 7:
            metrics.observe_error(namespace, name, 2.0)
        limited = 1 if index % 50 == 9 else 0
        metrics.vendors.add(namespace, name, "personio", _Stats(30, 0))
        metrics.vendors.add(namespace, name, "awork", _Stats(20, limited))
        metrics.observe_targeted(namespace, name, "synced")
        metrics.observe_change_latency(namespace, name, "webhook", 3.0)
