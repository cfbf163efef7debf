"""Prometheus metrics (issue #3 item 4): labels are namespace/name only, never an e-mail.

One registry per operator (not the process-global one), so tests can run several
operators in one process and read exactly what each exported.

Per resource only what an alert needs (status_metrics.py, METRICS-1); everything else is
counted per namespace (and outcome, action, state or source), so /metrics grows with the
namespaces, not with the resources (METRICS-4). The page is rendered in a thread
(httpserver.py), never on the event loop the runs share.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from personio_sync.controller.reporting.status_metrics import (
    StatusFigures,
    StatusGauges,
    status_figures,
)
from personio_sync.controller.reporting.vendor_metrics import VendorRequests
from personio_sync.controller.settings import OperatorSettings
from personio_sync.engine.report import SyncReport

__all__ = ["Metrics", "StatusFigures", "status_figures"]

LABELS = ("namespace",)
OUTCOMES = ("success", "partial", "dry_run", "error")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800, 3600)
TARGETED_OUTCOMES = ("synced", "full_sync", "failed")
USER_STATES = ("matched", "personio_only", "awork_only", "ambiguous")
# METRICS-2: 1,000 resources are ≈ 180 KiB of per-resource series (docs/operator.md)
DEFAULT_PER_RESOURCE_LIMIT = OperatorSettings.model_fields["metrics_per_resource_limit"].default


class Metrics:
    """Everything /metrics shows, updated by the workers after each run."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        per_resource_limit: int = DEFAULT_PER_RESOURCE_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: the time the per-namespace aggregates measure from (tests set it)."""
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.status = StatusGauges(per_resource_limit, clock)
        r.register(self.status)
        self.runs = Counter(
            "personio_sync_runs", "Sync runs by outcome, per namespace.", (*LABELS, "outcome"),
            registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "personio_sync_run_duration_seconds",
            "Wall time of completed and failed runs, per namespace.",
            LABELS,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.absences = Counter(
            "personio_sync_absences",
            "awork absences written, by action (created, updated, deleted), per namespace.",
            (*LABELS, "action"),
            registry=r,
        )
        self.vendors = VendorRequests(self.status.per_resource)  # live during a run
        r.register(self.vendors)
        self.users = Gauge(
            "personio_sync_users",
            "Users by matching state in the last completed run of each resource, summed "
            "per namespace.",
            (*LABELS, "state"),
            registry=r,
        )
        self.webhook_events = Counter(
            "personio_sync_webhook_events",
            "Personio webhook deliveries by outcome (accepted, ignored, unauthorized, "
            "unknown_resource, malformed, too_large, not_leader, unavailable, rate_limited, "
            "throttled, timed_out).",
            ("outcome",),  # never the URL's namespace/name: callers choose those freely
            registry=r,
        )
        self.webhook_connections_closed = Counter(
            "personio_sync_webhook_connections_closed",
            "Webhook connections the receiver closed itself (HOOK-9), by reason: "
            "header_timeout, lifetime, evicted (past the cap, for a newer one), refused.",
            ("reason",),
            registry=r,
        )
        self.secret_check_failures = Counter(
            "personio_sync_secret_check_failures",
            "Secret checks (SEC-1) that failed, by reason (unavailable: the API server did "
            "not answer; refused: it answered with an error, such as 403), per namespace.",
            (*LABELS, "reason"),
            registry=r,
        )
        self.in_progress = Gauge(
            "personio_sync_runs_in_progress", "Runs executing right now.", registry=r
        )
        self.change_latency = Histogram(
            "personio_sync_change_latency_seconds",
            "From a Personio change (the webhook's occurred_at, or the quick poll that saw "
            "it) to its awork write by a targeted sync, per namespace.",
            (*LABELS, "source"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.targeted_runs = Counter(
            "personio_sync_targeted_runs",
            "Targeted syncs by outcome (synced, full_sync: handed to a full sync, failed), "
            "per namespace.",
            (*LABELS, "outcome"),
            registry=r,
        )
        self.leader = Gauge(
            "personio_sync_leader",
            "1 while this replica leads (or runs standalone), else 0.",
            registry=r,
        )
        self.leader.set_function(lambda: 1.0)  # standalone until follow_leadership
        self.acquisitions = Counter(
            "personio_sync_leader_acquisitions",
            "Times this replica acquired the leader Lease.",
            registry=r,
        )
        self._users: dict[tuple[str, str], tuple[int, ...]] = {}  # the namespace sums' parts

    def follow_leadership(self, leading: Callable[[], bool]) -> None:
        """personio_sync_leader is read from `leading` at every scrape."""
        self.leader.set_function(lambda: 1.0 if leading() else 0.0)

    def observe_status(self, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """Refresh the status gauges from the resource as just watched."""
        self.status.observe((namespace, name), status_figures(body))

    def observe_report(self, namespace: str, name: str, report: SyncReport, ended: float) -> None:
        outcome = "partial" if report.actions.failed else "dry_run" if report.dry_run else "success"
        self.runs.labels(namespace, outcome).inc()
        self.duration.labels(namespace).observe(report.duration_seconds)
        if not report.dry_run:
            for action in ("created", "updated", "deleted"):
                self.absences.labels(namespace, action).inc(getattr(report.actions, action))
        users = report.users
        counts = (len(users.matched), len(users.personio_only), len(users.awork_only),
                  len(users.ambiguous))  # fmt: skip
        self._count_users((namespace, name), counts)
        self.status.succeeded((namespace, name), ended)

    def observe_error(self, namespace: str, name: str, duration: float) -> None:
        self.runs.labels(namespace, "error").inc()
        self.duration.labels(namespace).observe(duration)

    def observe_targeted(self, namespace: str, name: str, outcome: str) -> None:
        self.targeted_runs.labels(namespace, outcome).inc()

    def observe_change_latency(
        self, namespace: str, name: str, source: str, seconds: float
    ) -> None:
        self.change_latency.labels(namespace, source).observe(seconds)

    def forget(self, namespace: str, name: str) -> None:
        """Drop a deleted resource's series so /metrics does not grow forever; the
        namespace's counters keep what it did (a counter never goes down)."""
        self._count_users((namespace, name), None)
        self.status.forget((namespace, name))
        self.vendors.forget(namespace, name)

    def render(self) -> bytes:
        """The page; safe from any thread (prometheus_client's metrics lock themselves)."""
        return generate_latest(self.registry)

    def _count_users(self, key: tuple[str, str], counts: tuple[int, ...] | None) -> None:
        """The namespace's sums move by what this resource's last run changed."""
        before = self._users.pop(key, None)
        if counts is not None:
            self._users[key] = counts
        elif before is None:
            return  # never reported: nothing to take back
        none = (0,) * len(USER_STATES)
        for state, old, new in zip(USER_STATES, before or none, counts or none, strict=True):
            self.users.labels(key[0], state).inc(new - old)
