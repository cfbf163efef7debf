"""Prometheus metrics (issue #3 item 4): labels are namespace/name only, never an e-mail.

One registry per operator (not the process-global one), so tests can run several
operators in one process and read exactly what each exported.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from personio_sync.engine.report import SyncReport

LABELS = ("namespace", "name")
OUTCOMES = ("success", "partial", "dry_run", "error")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800, 3600)
TARGETED_OUTCOMES = ("synced", "full_sync", "failed")


class VendorCounts(Protocol):
    """What the clients' `stats` attribute offers (personio_sync.clients)."""

    @property
    def total_requests(self) -> int: ...

    rate_limited: int


class Metrics:
    """Everything /metrics shows, updated by the workers after each run."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "personio_sync_runs", "Sync runs by outcome.", (*LABELS, "outcome"), registry=r
        )
        self.duration = Histogram(
            "personio_sync_run_duration_seconds",
            "Wall time of completed and failed runs.",
            LABELS,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.absences = Counter(
            "personio_sync_absences",
            "awork absences written, by action (created, updated, deleted).",
            (*LABELS, "action"),
            registry=r,
        )
        self.requests = Counter(
            "personio_sync_api_requests",
            "HTTP requests sent to a vendor API (retries count once per attempt).",
            (*LABELS, "vendor"),
            registry=r,
        )
        self.rate_limited = Counter(
            "personio_sync_api_rate_limited",
            "429 answers received from a vendor API.",
            (*LABELS, "vendor"),
            registry=r,
        )
        self.users = Gauge(
            "personio_sync_users",
            "Users by matching state in the last completed run.",
            (*LABELS, "state"),
            registry=r,
        )
        self.last_success = Gauge(
            "personio_sync_last_success_timestamp_seconds",
            "Unix time the last completed run ended.",
            LABELS,
            registry=r,
        )
        self.webhook_events = Counter(
            "personio_sync_webhook_events",
            "Personio webhook deliveries by outcome (accepted, ignored, unauthorized, "
            "unknown_resource, malformed, too_large, not_leader, unavailable).",
            ("outcome",),  # never the URL's namespace/name: callers choose those freely
            registry=r,
        )
        self.in_progress = Gauge(
            "personio_sync_runs_in_progress", "Runs executing right now.", registry=r
        )
        self.change_latency = Histogram(
            "personio_sync_change_latency_seconds",
            "From a Personio change (the webhook's occurred_at, or the quick poll that saw "
            "it) to its awork write by a targeted sync.",
            (*LABELS, "source"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.targeted_runs = Counter(
            "personio_sync_targeted_runs",
            "Targeted syncs by outcome (synced, full_sync: handed to a full sync, failed).",
            (*LABELS, "outcome"),
            registry=r,
        )

    def observe_report(self, namespace: str, name: str, report: SyncReport, ended: float) -> None:
        labels = (namespace, name)
        outcome = "partial" if report.actions.failed else "dry_run" if report.dry_run else "success"
        self.runs.labels(*labels, outcome).inc()
        self.duration.labels(*labels).observe(report.duration_seconds)
        if not report.dry_run:
            for action in ("created", "updated", "deleted"):
                self.absences.labels(*labels, action).inc(getattr(report.actions, action))
        users = report.users
        for state, count in (
            ("matched", len(users.matched)),
            ("personio_only", len(users.personio_only)),
            ("awork_only", len(users.awork_only)),
            ("ambiguous", len(users.ambiguous)),
        ):
            self.users.labels(*labels, state).set(count)
        self.last_success.labels(*labels).set(ended)

    def observe_error(self, namespace: str, name: str, duration: float) -> None:
        self.runs.labels(namespace, name, "error").inc()
        self.duration.labels(namespace, name).observe(duration)

    def observe_requests(self, namespace: str, name: str, vendor: str, stats: VendorCounts) -> None:
        self.requests.labels(namespace, name, vendor).inc(stats.total_requests)
        self.rate_limited.labels(namespace, name, vendor).inc(stats.rate_limited)

    def forget(self, namespace: str, name: str) -> None:
        """Drop a deleted resource's series so /metrics does not grow forever."""
        labelled: tuple[tuple[Counter | Gauge, tuple[str, ...]], ...] = (
            (self.runs, OUTCOMES),
            (self.absences, ("created", "updated", "deleted")),
            (self.requests, ("personio", "awork")),
            (self.rate_limited, ("personio", "awork")),
            (self.users, ("matched", "personio_only", "awork_only", "ambiguous")),
        )
        for metric, extra in labelled:
            for value in extra:
                _remove(metric, namespace, name, value)
        for outcome in TARGETED_OUTCOMES:
            _remove(self.targeted_runs, namespace, name, outcome)
        for source in ("webhook", "poll"):
            _remove(self.change_latency, namespace, name, source)
        _remove(self.duration, namespace, name)
        _remove(self.last_success, namespace, name)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _remove(metric: Counter | Gauge | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
