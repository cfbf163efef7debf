"""/metrics at thousands of resources (METRICS-1..5): per resource only the alerts'
gauges, per namespace above a limit, and the page rendered in a thread."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.startup.httpserver import HealthServer
from personio_sync_testing.devtools.metrics_load import populate

NOW = 1_796_112_000.0  # 2026-12-01T08:00:00Z
HOUR = 3600.0
KIB = 1024


def status(*, synced: bool = True, since: str = "2026-12-01T06:00:00Z", held: int = 0,
           conflicts: int = 0, interval: str = "1h", suspend: bool = False,
           success: str = "2026-12-01T05:00:00Z") -> dict[str, Any]:  # fmt: skip
    condition = {"type": "Synced", "status": str(synced), "lastTransitionTime": since,
                 "reason": "Synced" if synced else "ItemsFailed"}  # fmt: skip
    return {
        "spec": {"interval": interval, "suspend": suspend},
        "status": {"lastSuccessfulSyncTime": success, "conditions": [condition],
                   "lastRun": {"heldDeletes": held, "conflicts": conflicts}},
    }  # fmt: skip


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == name
    }


class Limited:
    total_requests = 9
    rate_limited = 2


def named(metrics: Metrics) -> set[str]:
    """The sample names that carry a resource's name."""
    return {s.name for f in metrics.registry.collect() for s in f.samples if "name" in s.labels}


def test_metrics_2_per_resource_series_up_to_the_limit_then_per_namespace() -> None:
    metrics = Metrics(per_resource_limit=2, clock=lambda: NOW)
    metrics.observe_status("hr", "a", status())
    metrics.observe_status("hr", "b", status(synced=False))
    assert named(metrics) == {"personio_sync_interval_seconds",
                              "personio_sync_last_success_timestamp_seconds",
                              "personio_sync_failing_since_timestamp_seconds"}  # fmt: skip
    assert not samples(metrics, "personio_sync_failing_intervals")
    metrics.observe_status("ops", "c", status())  # the third: over the limit
    assert named(metrics) == set()
    assert samples(metrics, "personio_sync_failing_intervals") == {(("namespace", "hr"),): 2.0}
    metrics.forget("ops", "c")  # back to two: per resource again
    assert "personio_sync_interval_seconds" in named(metrics)


def test_metrics_2_a_limit_of_0_turns_per_resource_series_off() -> None:
    metrics = Metrics(per_resource_limit=0, clock=lambda: NOW)
    metrics.observe_status("hr", "a", status(synced=False))
    metrics.vendors.add("hr", "a", "awork", Limited())
    assert named(metrics) == set()
    limited = samples(metrics, "personio_sync_api_rate_limited_total")
    assert limited == {(("namespace", "hr"), ("vendor", "awork")): 2.0}


def test_metrics_3_namespace_aggregates_are_what_the_alerts_compare() -> None:
    """The longest failing and overdue time in units of each resource's own interval (the
    alerts fire at 2), resources by state, and held deletions and conflicts summed."""
    metrics = Metrics(per_resource_limit=0, clock=lambda: NOW)
    # hr: failing since 06:00 at a 30m interval (4 intervals) beats one at 1h (2 intervals).
    metrics.observe_status("hr", "short", status(synced=False, interval="30m"))
    metrics.observe_status("hr", "long", status(synced=False))
    # ops: last success at 05:00, 3 intervals ago; a suspended one is not overdue.
    metrics.observe_status("ops", "late", status(held=5, conflicts=1))
    metrics.observe_status("ops", "paused", status(success="2026-11-01T00:00:00Z", suspend=True))
    metrics.observe_status("ops", "held", status(held=7))
    assert samples(metrics, "personio_sync_failing_intervals") == {(("namespace", "hr"),): 4.0}
    assert samples(metrics, "personio_sync_overdue_intervals") == {(("namespace", "ops"),): 3.0}
    assert samples(metrics, "personio_sync_held_deletions") == {(("namespace", "ops"),): 12.0}
    assert samples(metrics, "personio_sync_conflicts") == {(("namespace", "ops"),): 1.0}
    assert samples(metrics, "personio_sync_resources") == {
        (("namespace", "hr"), ("state", "failing")): 2.0,
        (("namespace", "ops"), ("state", "ok")): 2.0,
        (("namespace", "ops"), ("state", "suspended")): 1.0,
    }


def test_metrics_1_held_deletions_and_conflicts_only_while_there_are_any() -> None:
    metrics = Metrics()
    metrics.observe_status("hr", "a", status(held=3))
    assert samples(metrics, "personio_sync_held_deletions") == {
        (("name", "a"), ("namespace", "hr")): 3.0
    }
    metrics.observe_status("hr", "a", status())
    assert samples(metrics, "personio_sync_held_deletions") == {}
    assert samples(metrics, "personio_sync_conflicts") == {}


def page_size(count: int, *, per_resource_limit: int) -> int:
    metrics = Metrics(CollectorRegistry(), per_resource_limit=per_resource_limit)
    populate(metrics, count, namespaces=10)
    return len(metrics.render())


@pytest.mark.parametrize(
    ("mode", "limit", "per_resource_bound"),
    [("off", 0, 3), ("on", 100_000, 250)],  # bytes per resource (docs/operator.md)
)
def test_metrics_4_page_size_per_resource(mode: str, limit: int, per_resource_bound: int) -> None:
    """Per-namespace series cost once per namespace, so the page grows only by what is
    per resource: nothing without per-resource series (3 bytes per resource at most, for
    counters growing by a digit now and then: ≤ 300 KiB at 10,000 by a wide margin), about
    180 bytes with them (two gauges of a healthy resource, more when failing or held)."""
    small = page_size(1000, per_resource_limit=limit)
    large = page_size(2000, per_resource_limit=limit)
    per_resource = (large - small) / 1000
    at_10000 = small + per_resource * 9000
    print(f"\n/metrics {mode}: {small / KIB:.1f} KiB at 1,000, {large / KIB:.1f} KiB at 2,000, "
          f"{per_resource:.1f} B per resource, ≈ {at_10000 / KIB:.0f} KiB at 10,000")  # fmt: skip
    assert per_resource <= per_resource_bound
    if mode == "off":
        assert at_10000 <= 300 * KIB


async def test_metrics_5_the_page_is_rendered_off_the_event_loop() -> None:
    metrics = Metrics()
    metrics.observe_status("hr", "a", status())
    rendered_in: list[int] = []
    render = metrics.render

    def recording() -> bytes:
        rendered_in.append(threading.get_ident())
        return render()

    metrics.render = recording  # type: ignore[method-assign]
    server = HealthServer(metrics, healthy=lambda: True)
    port = await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            page = await client.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await server.stop()
    assert page.status_code == 200
    assert 'personio_sync_interval_seconds{name="a",namespace="hr"} 3600.0' in page.text
    assert rendered_in and rendered_in[0] != threading.get_ident()  # not the loop's thread
