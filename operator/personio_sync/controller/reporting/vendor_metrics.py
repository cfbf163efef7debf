"""Requests and 429s per vendor on /metrics while a run is still going (issue 20).

A first sync of a large company runs for an hour at awork's rate limit. Counted only
when the run ends, its requests and 429s would show up in one step an hour late, and an
alert on "rate limited for 15 minutes" could never see a run that is throttled now. So
the counters are collected at scrape time: the totals of finished runs plus what the
clients of the runs in flight have counted so far (their `stats`, which they update as
they go).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, Metric

LABELS = ("namespace", "name", "vendor")
VENDORS = ("personio", "awork")
Key = tuple[str, str, str]  # namespace, name, vendor


class VendorCounts(Protocol):
    """What the clients' `stats` attribute offers (personio_sync.clients)."""

    @property
    def total_requests(self) -> int: ...

    rate_limited: int


class VendorRequests:
    """A Prometheus collector of `personio_sync_api_requests_total` and
    `personio_sync_api_rate_limited_total`."""

    def __init__(self) -> None:
        self._done: dict[Key, tuple[int, int]] = {}
        self._live: dict[int, tuple[Key, VendorCounts]] = {}
        self._next = 0

    def add(self, namespace: str, name: str, vendor: str, stats: VendorCounts) -> None:
        """Fold a finished client's counts into the totals."""
        key = (namespace, name, vendor)
        requests, limited = self._done.get(key, (0, 0))
        self._done[key] = (requests + stats.total_requests, limited + stats.rate_limited)

    @contextlib.contextmanager
    def counting(
        self, namespace: str, name: str, stats: Mapping[str, VendorCounts]
    ) -> Iterator[None]:
        """While the block runs, each vendor's `stats` count live; then into the totals."""
        tokens = []
        for vendor, counts in stats.items():
            self._next += 1
            self._live[self._next] = ((namespace, name, vendor), counts)
            tokens.append(self._next)
        try:
            yield
        finally:
            for token in tokens:
                found = self._live.pop(token, None)  # None: the resource was forgotten
                if found is not None:
                    self.add(*found[0], found[1])

    def forget(self, namespace: str, name: str) -> None:
        for vendor in VENDORS:
            self._done.pop((namespace, name, vendor), None)
        for token, (key, _) in list(self._live.items()):
            if key[:2] == (namespace, name):
                del self._live[token]

    def describe(self) -> Iterable[Metric]:
        return list(self._families({}))

    def collect(self) -> Iterable[Metric]:
        totals = dict(self._done)
        for key, counts in self._live.values():
            requests, limited = totals.get(key, (0, 0))
            totals[key] = (requests + counts.total_requests, limited + counts.rate_limited)
        return list(self._families(totals))

    @staticmethod
    def _families(totals: Mapping[Key, tuple[int, int]]) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "personio_sync_api_requests",
            "HTTP requests sent to a vendor API (retries count once per attempt), "
            "counted as they are sent.",
            labels=LABELS,
        )
        limited = CounterMetricFamily(
            "personio_sync_api_rate_limited",
            "429 answers received from a vendor API, counted as they arrive.",
            labels=LABELS,
        )
        for key, (sent, refused) in sorted(totals.items()):
            requests.add_metric(key, sent)
            limited.add_metric(key, refused)
        yield requests
        yield limited
