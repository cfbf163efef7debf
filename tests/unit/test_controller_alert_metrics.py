"""The gauges the chart's alerts read (ALERT-1): taken from the resource's status, so
every replica exports the same view and a restart or hand-over loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from tests.unit.test_controller_leadership import Clock, LeaseStore

from personio_sync.controller.leadership import LeaderElector
from personio_sync.controller.reporting.metrics import Metrics, status_figures

FAILED_AT = "2026-11-30T06:00:00Z"
SUCCEEDED_AT = "2026-11-30T05:00:00Z"


def body(*, synced: str = "False", reason: str = "PersonioUnreachable",
         **spec: Any) -> dict[str, Any]:  # fmt: skip
    status = {
        "lastSuccessfulSyncTime": SUCCEEDED_AT,
        "lastRun": {"heldDeletes": 7, "conflicts": 3},
        "conditions": [
            {"type": "Ready", "status": synced, "reason": reason, "lastTransitionTime": FAILED_AT},
            {"type": "Synced", "status": synced, "reason": reason, "lastTransitionTime": FAILED_AT},
        ],
    }
    meta = {"namespace": "hr", "name": "acme"}
    return {"metadata": meta, "spec": {"interval": "30m", **spec}, "status": status}


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def sample(metrics: Metrics, name: str) -> float | None:
    value = metrics.registry.get_sample_value(name, {"namespace": "hr", "name": "acme"})
    return value


def test_alert_1_failing_resource_exports_interval_failing_since_and_last_success() -> None:
    metrics = Metrics()
    metrics.observe_status("hr", "acme", body())
    assert sample(metrics, "personio_sync_interval_seconds") == 1800
    assert sample(metrics, "personio_sync_failing_since_timestamp_seconds") == stamp(FAILED_AT)
    assert sample(metrics, "personio_sync_last_success_timestamp_seconds") == stamp(SUCCEEDED_AT)
    assert sample(metrics, "personio_sync_held_deletions") == 7
    assert sample(metrics, "personio_sync_conflicts") == 3


def test_alert_1_a_synced_resource_has_no_failing_series() -> None:
    metrics = Metrics()
    metrics.observe_status("hr", "acme", body())
    metrics.observe_status("hr", "acme", body(synced="True", reason="Synced"))
    assert sample(metrics, "personio_sync_failing_since_timestamp_seconds") is None
    assert sample(metrics, "personio_sync_interval_seconds") == 1800


def test_alert_1_held_deletions_are_not_a_failing_sync() -> None:
    """MassDeletionHeld has its own alert; Synced=False for it is not 'failing'."""
    assert status_figures(body(reason="MassDeletionHeld")).failing_since is None
    assert status_figures(body(reason="ItemsFailed")).failing_since == stamp(FAILED_AT)


def test_alert_1_a_run_in_flight_keeps_what_the_last_finished_run_said() -> None:
    """While `Syncing`, the condition's status is the last run's; a failing resource stays
    failing and a healthy one healthy, so an alert does not blink at every run."""
    metrics = Metrics()
    metrics.observe_status("hr", "acme", body(synced="True", reason="Synced"))
    metrics.observe_status("hr", "acme", body(synced="False", reason="Syncing"))
    assert sample(metrics, "personio_sync_failing_since_timestamp_seconds") is None
    metrics.observe_status("hr", "acme", body())
    metrics.observe_status("hr", "acme", body(synced="False", reason="Syncing"))
    assert sample(metrics, "personio_sync_failing_since_timestamp_seconds") == stamp(FAILED_AT)
    # A process that first sees the resource mid-run goes by the condition's status.
    fresh = Metrics()
    mid_run = body(synced="False", reason="Syncing")
    mid_run["status"]["lastRun"] = {}
    fresh.observe_status("hr", "acme", mid_run)
    assert sample(fresh, "personio_sync_failing_since_timestamp_seconds") == stamp(FAILED_AT)


def test_alert_1_a_suspended_resource_raises_no_alert() -> None:
    metrics = Metrics()
    metrics.observe_status("hr", "acme", body())
    metrics.observe_status("hr", "acme", body(suspend=True))
    for name in ("interval_seconds", "failing_since_timestamp_seconds", "held_deletions",
                 "conflicts"):  # fmt: skip
        assert sample(metrics, f"personio_sync_{name}") is None, name
    assert sample(metrics, "personio_sync_last_success_timestamp_seconds") is not None


def test_alert_1_an_unusable_interval_paces_alerts_by_the_default() -> None:
    assert status_figures(body(interval="soon")).interval == 3600
    assert status_figures({"metadata": {}}).interval == 3600


def test_alert_1_a_deleted_resource_leaves_no_status_series() -> None:
    metrics = Metrics()
    metrics.observe_status("hr", "acme", body())
    metrics.forget("hr", "acme")
    assert 'namespace="hr"' not in metrics.render().decode()


async def test_alert_1_leadership_and_its_acquisitions_are_exported() -> None:
    metrics = Metrics(CollectorRegistry())
    assert metrics.registry.get_sample_value("personio_sync_leader") == 1  # standalone
    clock, store = Clock(), LeaseStore()
    elector = LeaderElector(store, namespace="ops", identity="pod-a", clock=clock,
                            wall=clock.wall, on_acquired=metrics.acquisitions.inc)  # fmt: skip
    metrics.follow_leadership(elector.leading)
    assert metrics.registry.get_sample_value("personio_sync_leader") == 0
    await elector.attempt()
    assert metrics.registry.get_sample_value("personio_sync_leader") == 1
    other = LeaderElector(store, namespace="ops", identity="pod-b", clock=clock, wall=clock.wall)
    clock.advance(5)
    await other.attempt()  # sees a's record
    clock.advance(15.1)  # a stopped renewing: b takes over, a learns it has lost
    assert await other.attempt() and not await elector.attempt()
    assert metrics.registry.get_sample_value("personio_sync_leader") == 0
    clock.advance(15.1)  # now b is gone: a leads again, its second acquisition
    await elector.attempt()
    await elector.attempt()
    assert metrics.registry.get_sample_value("personio_sync_leader") == 1
    assert metrics.registry.get_sample_value("personio_sync_leader_acquisitions_total") == 2


class Stats:
    """A client's live counts (clients.RequestStats), as a run in flight updates them."""

    def __init__(self) -> None:
        self.total_requests = 0
        self.rate_limited = 0


def test_alert_6_requests_and_429s_count_while_the_run_is_still_going() -> None:
    metrics = Metrics()
    personio, awork = Stats(), Stats()
    labels = {"namespace": "hr", "name": "acme", "vendor": "awork"}

    def limited() -> float | None:
        return metrics.registry.get_sample_value("personio_sync_api_rate_limited_total", labels)

    with metrics.vendors.counting("hr", "acme", {"personio": personio, "awork": awork}):
        awork.total_requests, awork.rate_limited = 40, 3
        assert limited() == 3  # seen at the next scrape, not when the run ends
        awork.total_requests, awork.rate_limited = 90, 5
    assert limited() == 5
    with metrics.vendors.counting("hr", "acme", {"awork": (second := Stats())}):
        second.rate_limited = 2
        assert limited() == 7
    assert limited() == 7
    requests = {"namespace": "hr", "vendor": "awork"}  # METRICS-4: per namespace
    assert metrics.registry.get_sample_value("personio_sync_api_requests_total", requests) == 90
    with metrics.vendors.counting("hr", "acme", {"awork": (last := Stats())}):
        last.total_requests = 10
        metrics.forget("hr", "acme")  # deleted mid-run: nothing comes back afterwards
        last.rate_limited = 4
    assert 'name="acme"' not in metrics.render().decode()
    # The namespace's counter keeps what the deleted resource sent: it never goes down.
    assert metrics.registry.get_sample_value("personio_sync_api_requests_total", requests) == 100
