"""Benchmark: the /metrics page for N PersonioSyncs, with and without per-resource series.

For N = 1,000 / 5,000 / 10,000 resources over `--namespaces` namespaces, the operator's
own Metrics is fed through the calls the workers make (each resource synced once, both
vendors counted, a targeted sync; one in 20 failing, one in 100 holding deletions or in
conflict: personio_sync_testing.devtools.metrics_load), then rendered as a scrape would.
Printed per N and mode: page size, bytes per resource, and the render time (median of
`--repeat`), which is CPU of one core, in the scrape's thread (METRICS-5). "on" is
per-resource series (PERSONIO_SYNC_METRICS_PER_RESOURCE_LIMIT at or above N), "off" is
per-namespace aggregates only (the limit below N, or 0). The table is in
docs/operator.md (Metrics at scale).
"""

from __future__ import annotations

import argparse
import statistics
import time

from prometheus_client import CollectorRegistry

from personio_sync.controller.reporting.metrics import Metrics
from personio_sync_testing.devtools.metrics_load import populate

SIZES = (1000, 5000, 10000)


def measure(count: int, namespaces: int, *, per_resource: bool, repeat: int) -> tuple[int, float]:
    """(page bytes, median render seconds)."""
    metrics = Metrics(CollectorRegistry(), per_resource_limit=count if per_resource else 0)
    populate(metrics, count, namespaces=namespaces)
    times, page = [], b""
    for _ in range(repeat):
        started = time.perf_counter()
        page = metrics.render()
        times.append(time.perf_counter() - started)
    return len(page), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.namespaces} namespaces, render time: median of {args.repeat}\n")
    print("| N | per-resource series | /metrics | bytes per resource | render time |")
    print("|---|---|---|---|---|")
    for count in SIZES:
        for per_resource in (True, False):
            size, seconds = measure(count, args.namespaces, per_resource=per_resource,
                                    repeat=args.repeat)  # fmt: skip
            print(f"| {count:,} | {'on' if per_resource else 'off'} | {size / 1024:,.0f} KiB "
                  f"| {size / count:,.0f} | {seconds * 1000:,.0f} ms |")  # fmt: skip


if __name__ == "__main__":
    main()
