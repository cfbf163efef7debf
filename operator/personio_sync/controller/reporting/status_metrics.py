"""The gauges the chart's alerts read, per resource or per namespace (ALERT-1, METRICS-1..3).

The alerts need per resource what the status says: its interval, since when its syncs
fail, its last success, held deletions and conflicts. Those figures are read from the
resource as the API server holds it, on every watch event and on every replica, so they
survive restarts and hand-overs and a standby never shows a stale view.

At thousands of resources a series per resource and figure is most of /metrics, so the
figures are kept here and turned into series at scrape time (in the scraping thread):
per resource while the operator knows at most `per_resource_limit` resources, else per
namespace only — counts, sums and the longest failing or overdue time in units of the
resource's own interval, which is what the alerts compare with "two intervals". The
alerts read both forms (charts/personio-sync/templates/prometheusrule.yaml).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from personio_sync.controller.schedule import parse_time
from personio_sync.resource.spec import PersonioSyncSpec, parse_interval

DEFAULT_INTERVAL = PersonioSyncSpec.model_fields["interval"].default
HELD = "MassDeletionHeld"  # Synced=False, but not a failing sync: it has its own alert
STATES = ("ok", "failing", "suspended")
Key = tuple[str, str]  # namespace, name


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


class StatusGauges:
    """A Prometheus collector of the alerts' gauges, from the figures last watched."""

    def __init__(self, per_resource_limit: int, clock: Callable[[], float] = time.time) -> None:
        self.per_resource_limit = per_resource_limit
        self._clock = clock
        self._figures: dict[Key, StatusFigures] = {}
        self._lock = threading.Lock()  # updated on the event loop, read by the scrape thread

    def observe(self, key: Key, figures: StatusFigures) -> None:
        """While a run is in flight, failing_since stays what the last finished run said
        (an alert does not blink at every run); a process that first sees the resource
        mid-run goes by the condition's status."""
        with self._lock:
            known = self._figures.get(key)
            if not figures.settled and known is not None:
                figures = replace(figures, failing_since=known.failing_since)
            self._figures[key] = figures

    def succeeded(self, key: Key, ended: float) -> None:
        """A run just completed: its end is the last success before the status says so."""
        with self._lock:
            known = self._figures.get(key)
            if known is not None:
                self._figures[key] = replace(known, last_success=ended)

    def forget(self, key: Key) -> None:
        with self._lock:
            self._figures.pop(key, None)

    def per_resource(self) -> bool:
        """METRICS-2: per-resource series only up to the limit (0: never)."""
        with self._lock:
            return self._within_limit(len(self._figures))

    def _within_limit(self, count: int) -> bool:
        return self.per_resource_limit > 0 and count <= self.per_resource_limit

    def describe(self) -> Iterable[Metric]:
        return list(_Families().all())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            figures = list(self._figures.items())
        per_resource = self._within_limit(len(figures))
        families = _Families(per_resource)
        counts: dict[Key, int] = {}  # (namespace, state): resources
        for (namespace, _), f in figures:
            failing = f.failing_since is not None
            state = "suspended" if f.interval is None else "failing" if failing else "ok"
            counts[namespace, state] = counts.get((namespace, state), 0) + 1
        for (namespace, state), count in sorted(counts.items()):
            families.resources.add_metric((namespace, state), count)
        if per_resource:
            families.per_resource(figures)
        else:
            families.per_namespace(figures, self._clock())
        return list(families.all())


class _Families:
    """The families of one scrape; all of them always, so every name is on the page."""

    def __init__(self, per_resource: bool = True) -> None:
        resource, namespace = ("namespace", "name"), ("namespace",)
        summed = resource if per_resource else namespace
        self.resources = GaugeMetricFamily(
            "personio_sync_resources",
            "PersonioSyncs by state (ok, failing: Synced is False for a reason other than "
            "held deletions, suspended).",
            labels=("namespace", "state"),
        )
        self.interval = GaugeMetricFamily(
            "personio_sync_interval_seconds",
            "spec.interval of each resource that is not suspended (per-resource series only).",
            labels=resource,
        )
        self.last_success = GaugeMetricFamily(
            "personio_sync_last_success_timestamp_seconds",
            "Unix time the last completed run ended (per-resource series only).",
            labels=resource,
        )
        self.failing_since = GaugeMetricFamily(
            "personio_sync_failing_since_timestamp_seconds",
            "Unix time the resource's Synced condition turned False (failed runs or items); "
            "only while it is False, and not for held deletions (per-resource series only).",
            labels=resource,
        )
        self.held_deletes = GaugeMetricFamily(
            "personio_sync_held_deletions",
            "Deletions the deletion guard held back in the last completed run; only while "
            "there are any (per namespace: their sum, without per-resource series).",
            labels=summed,
        )
        self.conflicts = GaugeMetricFamily(
            "personio_sync_conflicts",
            "Absences another owner already syncs, left alone in the last completed run; "
            "only while there are any (per namespace: their sum, without per-resource "
            "series).",
            labels=summed,
        )
        self.failing_intervals = GaugeMetricFamily(
            "personio_sync_failing_intervals",
            "Without per-resource series: the longest a resource of the namespace has been "
            "failing, in units of its own spec.interval; only while one is failing.",
            labels=namespace,
        )
        self.overdue_intervals = GaugeMetricFamily(
            "personio_sync_overdue_intervals",
            "Without per-resource series: the longest since the last success of a resource "
            "of the namespace that is not failing nor suspended, in units of its own "
            "spec.interval.",
            labels=namespace,
        )

    def all(self) -> Iterator[Metric]:
        yield from (self.resources, self.interval, self.last_success, self.failing_since,
                    self.held_deletes, self.conflicts, self.failing_intervals,
                    self.overdue_intervals)  # fmt: skip

    def per_resource(self, figures: list[tuple[Key, StatusFigures]]) -> None:
        for key, f in figures:
            for family, value in ((self.interval, f.interval),
                                  (self.last_success, f.last_success),
                                  (self.failing_since, f.failing_since)):  # fmt: skip
                if value is not None:
                    family.add_metric(key, value)
            for family, count in ((self.held_deletes, f.held_deletes),
                                  (self.conflicts, f.conflicts)):  # fmt: skip
                if count:  # METRICS-1: only while there are any; the alerts ask for > 0
                    family.add_metric(key, count)

    def per_namespace(self, figures: list[tuple[Key, StatusFigures]], now: float) -> None:
        """METRICS-3: what the alerts compare, per namespace."""
        held: dict[str, int] = {}
        conflicts: dict[str, int] = {}
        failing: dict[str, float] = {}
        overdue: dict[str, float] = {}
        for (namespace, _), f in figures:
            held[namespace] = held.get(namespace, 0) + (f.held_deletes or 0)
            conflicts[namespace] = conflicts.get(namespace, 0) + (f.conflicts or 0)
            if f.interval is None or f.interval <= 0:
                continue
            if f.failing_since is not None:
                late = (now - f.failing_since) / f.interval
                failing[namespace] = max(failing.get(namespace, late), late)
            elif f.last_success is not None:
                late = (now - f.last_success) / f.interval
                overdue[namespace] = max(overdue.get(namespace, late), late)
        for family, sums in ((self.held_deletes, held), (self.conflicts, conflicts)):
            for namespace, total in sorted(sums.items()):
                if total:
                    family.add_metric((namespace,), total)
        for family, longest in ((self.failing_intervals, failing),
                                (self.overdue_intervals, overdue)):  # fmt: skip
            for namespace, value in sorted(longest.items()):
                family.add_metric((namespace,), value)
