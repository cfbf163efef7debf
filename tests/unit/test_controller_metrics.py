"""Metrics carry namespace/name labels only, never an e-mail; per resource only what the
alerts need (METRICS-1), and deleted resources are forgotten."""

from __future__ import annotations

from datetime import date
from typing import Any

from personio_sync.controller.reporting.metrics import TARGETED_OUTCOMES, Metrics
from personio_sync.engine.model import DateRange
from personio_sync.engine.report import ActionCounts, SyncReport, UserReport


def run_report() -> SyncReport:
    return SyncReport(
        window=DateRange(date(2026, 7, 7), date(2027, 1, 17)),
        dry_run=False,
        users=UserReport(matched=["alice@acme.example"], personio_only=["dave@acme.example"]),
        actions=ActionCounts(created=3, updated=1, deleted=2),
        duration_seconds=4.0,
    )


class Stats:
    total_requests = 12
    rate_limited = 2


class NoLimits:
    total_requests = 3
    rate_limited = 0


def test_run_metrics_and_no_email_in_labels() -> None:
    metrics = Metrics()
    metrics.observe_report("team", "sync", run_report(), ended=1_800_000_000.0)
    metrics.vendors.add("team", "sync", "awork", Stats())
    text = metrics.render().decode()
    assert 'personio_sync_runs_total{namespace="team",outcome="success"} 1.0' in text
    assert 'personio_sync_absences_total{action="deleted",namespace="team"} 2.0' in text
    assert (
        'personio_sync_api_rate_limited_total{name="sync",namespace="team",vendor="awork"} 2.0'
        in text
    )
    assert 'personio_sync_api_requests_total{namespace="team",vendor="awork"} 12.0' in text
    assert 'personio_sync_users{namespace="team",state="personio_only"} 1.0' in text
    assert "@" not in text


def feed(metrics: Metrics, namespace: str, name: str) -> None:
    """Every series a resource can have of its own (status gauges while failing, held and
    in conflict; 429s), and everything counted for its namespace."""
    metrics.observe_status(namespace, name, failing_held_in_conflict())
    metrics.observe_report(namespace, name, run_report(), ended=1.0)
    metrics.observe_error(namespace, name, 1.0)
    for vendor in ("personio", "awork"):
        metrics.vendors.add(namespace, name, vendor, Stats())
    for outcome in TARGETED_OUTCOMES:
        metrics.observe_targeted(namespace, name, outcome)
    for source in ("webhook", "poll"):
        metrics.observe_change_latency(namespace, name, source, 3.0)


def failing_held_in_conflict() -> dict[str, Any]:
    synced = {"type": "Synced", "status": "False", "reason": "ItemsFailed",
              "lastTransitionTime": "2026-11-30T06:00:00Z"}  # fmt: skip
    status = {"lastSuccessfulSyncTime": "2026-11-30T05:00:00Z", "conditions": [synced],
              "lastRun": {"heldDeletes": 7, "conflicts": 3}}  # fmt: skip
    return {"spec": {"interval": "30m"}, "status": status}


def series_of(metrics: Metrics, name: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(metric, labels) of every sample that names the resource `name`."""
    return {
        (family.name, tuple(sorted(sample.labels.items())))
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.labels.get("name") == name
    }


PER_RESOURCE = {
    "personio_sync_interval_seconds",
    "personio_sync_last_success_timestamp_seconds",
    "personio_sync_failing_since_timestamp_seconds",
    "personio_sync_held_deletions",
    "personio_sync_conflicts",
    "personio_sync_api_rate_limited",
}


def test_metrics_1_only_the_alerts_gauges_are_per_resource() -> None:
    metrics = Metrics()
    feed(metrics, "team", "sync")
    assert {metric for metric, _ in series_of(metrics, "sync")} == PER_RESOURCE


def test_metrics_1_a_healthy_resource_has_two_series_of_its_own() -> None:
    """No held deletions, no conflicts, no 429s, not failing: interval and last success."""
    metrics = Metrics()
    healthy = failing_held_in_conflict()
    healthy["status"]["conditions"][0].update(status="True", reason="Synced")
    healthy["status"]["lastRun"] = {"heldDeletes": 0, "conflicts": 0}
    metrics.observe_status("team", "sync", healthy)
    metrics.vendors.add("team", "sync", "awork", NoLimits())
    assert {metric for metric, _ in series_of(metrics, "sync")} == {
        "personio_sync_interval_seconds", "personio_sync_last_success_timestamp_seconds"
    }  # fmt: skip


def test_metrics_4_a_deleted_resource_loses_its_series_not_its_namespace_counts() -> None:
    metrics = Metrics()
    feed(metrics, "team", "sync")
    feed(metrics, "team", "other")
    kept = series_of(metrics, "other")
    metrics.forget("team", "sync")
    assert series_of(metrics, "sync") == set()
    assert series_of(metrics, "other") == kept  # only the deleted resource's
    # The namespace's sum of users no longer counts the deleted resource's.
    users = {"namespace": "team", "state": "matched"}
    assert metrics.registry.get_sample_value("personio_sync_users", users) == 1
    metrics.forget("team", "other")
    assert metrics.registry.get_sample_value("personio_sync_users", users) == 0
    metrics.forget("team", "never-reported")  # nothing to take back
    assert metrics.registry.get_sample_value("personio_sync_users", users) == 0
    runs = {"namespace": "team", "outcome": "success"}  # a counter never goes down
    assert metrics.registry.get_sample_value("personio_sync_runs_total", runs) == 2
