"""Requests and 429s per vendor on /metrics while a run is still going (issue 20).

A first sync of a large company runs for an hour at awork's rate limit. Counted only
when the run ends, its requests and 429s would show up in one step an hour late, and an
alert on "rate limited for 15 minutes" could never see a run that is throttled now. So
the counters are collected at scrape time: the totals of finished runs plus what the
clients of the runs in flight have counted so far (their `stats`, which they update as
they go).

Requests are counted per namespace and vendor (METRICS-4). 429s are what an alert reads:
with per-resource series they are per resource too, but only for a resource that has had
one (most never do); without, per namespace (METRICS-2).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, Metric

VENDORS = ("personio", "awork")
Key = tuple[str, str, str]  # namespace, name, vendor
Counts = tuple[int, int]  # requests, 429s


class VendorCounts(Protocol):
    """What the clients' `stats` attribute offers (personio_sync.clients)."""

    @property
    def total_requests(self) -> int: ...

    rate_limited: int


class VendorRequests:
    """A Prometheus collector of `personio_sync_api_requests_total` and
    `personio_sync_api_rate_limited_total`."""

    def __init__(self, per_resource: Callable[[], bool] = lambda: True) -> None:
        self._per_resource = per_resource
        self._namespaces: dict[tuple[str, str], Counts] = {}  # (namespace, vendor)
        self._limited: dict[Key, int] = {}  # 429s per resource, of finished clients
        self._live: dict[int, tuple[Key, VendorCounts]] = {}
        self._next = 0
        self._lock = threading.Lock()  # updated on the event loop, read by the scrape thread

    def add(self, namespace: str, name: str, vendor: str, stats: VendorCounts) -> None:
        """Fold a finished client's counts into the totals."""
        with self._lock:
            self._fold((namespace, name, vendor), stats, keep=True)

    @contextlib.contextmanager
    def counting(
        self, namespace: str, name: str, stats: Mapping[str, VendorCounts]
    ) -> Iterator[None]:
        """While the block runs, each vendor's `stats` count live; then into the totals."""
        tokens = []
        with self._lock:
            for vendor, counts in stats.items():
                self._next += 1
                self._live[self._next] = ((namespace, name, vendor), counts)
                tokens.append(self._next)
        try:
            yield
        finally:
            with self._lock:
                for token in tokens:
                    found = self._live.pop(token, None)  # None: the resource was forgotten
                    if found is not None:
                        self._fold(*found, keep=True)

    def forget(self, namespace: str, name: str) -> None:
        """The resource's own series go; the namespace's totals keep what it sent."""
        with self._lock:
            for vendor in VENDORS:
                self._limited.pop((namespace, name, vendor), None)
            for token, (key, counts) in list(self._live.items()):
                if key[:2] == (namespace, name):
                    del self._live[token]
                    self._fold(key, counts, keep=False)

    def _fold(self, key: Key, stats: VendorCounts, *, keep: bool) -> None:
        namespace, _, vendor = key
        requests, limited = self._namespaces.get((namespace, vendor), (0, 0))
        self._namespaces[namespace, vendor] = (
            requests + stats.total_requests,
            limited + stats.rate_limited,
        )
        if keep and stats.rate_limited:
            self._limited[key] = self._limited.get(key, 0) + stats.rate_limited

    def describe(self) -> Iterable[Metric]:
        return list(_families({}, {}, per_resource=True))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            namespaces, limited = dict(self._namespaces), dict(self._limited)
            live = [(key, counts.total_requests, counts.rate_limited)
                    for key, counts in self._live.values()]  # fmt: skip
        for (namespace, name, vendor), sent, refused in live:
            requests, refusals = namespaces.get((namespace, vendor), (0, 0))
            namespaces[namespace, vendor] = (requests + sent, refusals + refused)
            if refused:
                key = (namespace, name, vendor)
                limited[key] = limited.get(key, 0) + refused
        return list(_families(namespaces, limited, per_resource=self._per_resource()))


def _families(
    namespaces: Mapping[tuple[str, str], Counts],
    limited: Mapping[Key, int],
    *,
    per_resource: bool,
) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "personio_sync_api_requests",
        "HTTP requests sent to a vendor API (retries count once per attempt), counted as "
        "they are sent, per namespace.",
        labels=("namespace", "vendor"),
    )
    refusals = CounterMetricFamily(
        "personio_sync_api_rate_limited",
        "429 answers received from a vendor API, counted as they arrive: per resource "
        "that had any while per-resource series are on, else per namespace.",
        labels=("namespace", "name", "vendor") if per_resource else ("namespace", "vendor"),
    )
    for key, (sent, refused) in sorted(namespaces.items()):
        requests.add_metric(key, sent)
        if not per_resource:
            refusals.add_metric(key, refused)
    if per_resource:
        for resource, refused in sorted(limited.items()):
            refusals.add_metric(resource, refused)
    yield requests
    yield refusals
