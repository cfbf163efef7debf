"""Metrics carry namespace/name labels only, never an e-mail, and forget deleted resources."""

from __future__ import annotations

from datetime import date

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


def test_run_metrics_and_no_email_in_labels() -> None:
    metrics = Metrics()
    metrics.observe_report("team", "sync", run_report(), ended=1_800_000_000.0)
    metrics.vendors.add("team", "sync", "awork", Stats())
    text = metrics.render().decode()
    assert 'personio_sync_runs_total{name="sync",namespace="team",outcome="success"} 1.0' in text
    assert 'personio_sync_absences_total{action="deleted",name="sync",namespace="team"} 2.0' in text
    assert (
        'personio_sync_api_rate_limited_total{name="sync",namespace="team",vendor="awork"} 2.0'
        in text
    )
    assert 'personio_sync_users{name="sync",namespace="team",state="personio_only"} 1.0' in text
    assert "personio_sync_last_success_timestamp_seconds" in text
    assert "@" not in text


def feed(metrics: Metrics, namespace: str, name: str) -> None:
    """A series in every labelled metric for one resource: runs, errors, requests of both
    vendors, every targeted outcome, the latency of both sources."""
    metrics.observe_report(namespace, name, run_report(), ended=1.0)
    metrics.observe_error(namespace, name, 1.0)
    for vendor in ("personio", "awork"):
        metrics.vendors.add(namespace, name, vendor, Stats())
    for outcome in TARGETED_OUTCOMES:
        metrics.targeted_runs.labels(namespace, name, outcome).inc()
    for source in ("webhook", "poll"):
        metrics.change_latency.labels(namespace, name, source).observe(3.0)


def series_of(metrics: Metrics, name: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(metric, labels) of every sample that names the resource `name`."""
    return {
        (family.name, tuple(sorted(sample.labels.items())))
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.labels.get("name") == name
    }


def test_deleted_resource_series_are_dropped() -> None:
    metrics = Metrics()
    feed(metrics, "team", "sync")
    feed(metrics, "team", "other")
    labelled = {family.name for family in metrics.registry.collect()
                if any("namespace" in s.labels for s in family.samples)}  # fmt: skip
    fed = {metric for metric, _ in series_of(metrics, "sync")}
    assert fed == labelled, "feed() must give the resource a series in every metric"
    kept = series_of(metrics, "other")
    metrics.forget("team", "sync")
    assert series_of(metrics, "sync") == set()
    assert series_of(metrics, "other") == kept  # only the deleted resource's
