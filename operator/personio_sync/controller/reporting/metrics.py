"""Prometheus metrics (issue #3 item 4): labels are namespace/name only, never an e-mail.

One registry per operator (not the process-global one), so tests can run several
operators in one process and read exactly what each exported.

The chart's alerts (issue 20) need per resource what the status says: its interval,
since when its syncs fail, its last success, held deletions and conflicts. Those gauges
are read from the resource as the API server holds it, on every watch event and on every
replica, so they survive restarts and hand-overs and a standby never shows a stale view.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from personio_sync.controller.reporting.vendor_metrics import VendorRequests
from personio_sync.controller.schedule import parse_time
from personio_sync.engine.report import SyncReport
from personio_sync.resource.spec import PersonioSyncSpec, parse_interval

LABELS = ("namespace", "name")
OUTCOMES = ("success", "partial", "dry_run", "error")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800, 3600)
TARGETED_OUTCOMES = ("synced", "full_sync", "failed")
DEFAULT_INTERVAL = PersonioSyncSpec.model_fields["interval"].default
HELD = "MassDeletionHeld"  # Synced=False, but not a failing sync: it has its own alert


@dataclass(frozen=True)
class StatusFigures:
    """What the alerts need from one resource's status (None: no such series)."""

    interval: float | None  # None while suspended: a paused resource raises no alert
    last_success: float | None
    failing_since: float | None  # the Synced condition's lastTransitionTime while False
    settled: bool  # False while a run is in flight: failing_since is the last one seen
    held_deletes: int | None  # None while suspended, as interval
    conflicts: int | None


def status_figures(body: Mapping[str, Any]) -> StatusFigures:
    """Read from the resource, never from memory, so every replica says the same."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    suspended = bool(spec.get("suspend") or status.get("suspended"))
    try:  # an unusable interval is reported on the resource; the default still paces alerts
        interval = parse_interval(str(spec.get("interval") or DEFAULT_INTERVAL))
    except ValueError:
        interval = parse_interval(DEFAULT_INTERVAL)
    conditions = status.get("conditions") or []
    synced: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Synced"), {})
    last_run = status.get("lastRun") or {}
    # While `Syncing` (a run in flight) the status is the last run's and its reason is
    # gone: held deletions in lastRun say it was most likely the guard.
    settled = synced.get("reason") != "Syncing"
    held = synced.get("reason") == HELD or (not settled and bool(last_run.get("heldDeletes")))
    failing = synced.get("status") == "False" and not held
    since = parse_time(synced.get("lastTransitionTime")) if failing else None
    success = parse_time(status.get("lastSuccessfulSyncTime"))
    return StatusFigures(
        interval=None if suspended else interval.total_seconds(),
        last_success=None if success is None else success.timestamp(),
        failing_since=None if since is None or suspended else since.timestamp(),
        settled=settled,
        held_deletes=None if suspended else int(last_run.get("heldDeletes") or 0),
        conflicts=None if suspended else int(last_run.get("conflicts") or 0),
    )


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
        self.vendors = VendorRequests()  # requests and 429s, live during a run
        r.register(self.vendors)
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
        self.interval = Gauge(
            "personio_sync_interval_seconds",
            "spec.interval of each resource that is not suspended.",
            LABELS,
            registry=r,
        )
        self.failing_since = Gauge(
            "personio_sync_failing_since_timestamp_seconds",
            "Unix time the resource's Synced condition turned False (failed runs or items); "
            "only while it is False, and not for held deletions.",
            LABELS,
            registry=r,
        )
        self.held_deletes = Gauge(
            "personio_sync_held_deletions",
            "Deletions the deletion guard held back in the last completed run.",
            LABELS,
            registry=r,
        )
        self.conflicts = Gauge(
            "personio_sync_conflicts",
            "Absences another owner already syncs, left alone in the last completed run.",
            LABELS,
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
        self._settled: set[tuple[str, str]] = set()

    def follow_leadership(self, leading: Callable[[], bool]) -> None:
        """personio_sync_leader is read from `leading` at every scrape."""
        self.leader.set_function(lambda: 1.0 if leading() else 0.0)

    def observe_status(self, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """Refresh the status gauges from the resource as just watched."""
        figures = status_figures(body)
        key = (namespace, name)
        _set(self.interval, key, figures.interval)
        _set(self.last_success, key, figures.last_success)
        if figures.settled or key not in self._settled:
            _set(self.failing_since, key, figures.failing_since)
        if figures.settled:
            self._settled.add(key)
        _set(self.held_deletes, key, figures.held_deletes)
        _set(self.conflicts, key, figures.conflicts)

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

    def forget(self, namespace: str, name: str) -> None:
        """Drop a deleted resource's series so /metrics does not grow forever."""
        labelled: tuple[tuple[Counter | Gauge, tuple[str, ...]], ...] = (
            (self.runs, OUTCOMES),
            (self.absences, ("created", "updated", "deleted")),
            (self.users, ("matched", "personio_only", "awork_only", "ambiguous")),
        )
        for metric, extra in labelled:
            for value in extra:
                _remove(metric, namespace, name, value)
        for outcome in TARGETED_OUTCOMES:
            _remove(self.targeted_runs, namespace, name, outcome)
        for source in ("webhook", "poll"):
            _remove(self.change_latency, namespace, name, source)
        for gauge in (self.interval, self.failing_since, self.held_deletes, self.conflicts):
            _remove(gauge, namespace, name)
        self._settled.discard((namespace, name))
        self.vendors.forget(namespace, name)
        _remove(self.duration, namespace, name)
        _remove(self.last_success, namespace, name)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _set(gauge: Gauge, key: tuple[str, str], value: float | None) -> None:
    """A value, or no series at all (an alert on a missing series cannot fire)."""
    if value is None:
        _remove(gauge, *key)
    else:
        gauge.labels(*key).set(value)


def _remove(metric: Counter | Gauge | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
