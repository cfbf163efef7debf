"""Benchmark: operator CPU of one no-change run, with a client pair per run vs shared pools.

The fakes run in their own process (`personio-sync sandbox`, no latency, no rate limits),
so the CPU measured (`time.process_time`) is this process's alone: what a no-change run
of a small company costs the operator. A first run creates everything; then `--runs`
no-change runs open their vendor clients as the operator did before issue 18 (one
`httpx.AsyncClient` pair per run, `open_clients` without `http`) and as it does now
(the process's `VendorHttp`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from personio_sync.engine.marker import owner_key
from personio_sync.resource.spec import parse_spec
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.config import Endpoints
from personio_sync.sync.runner import Credentials, open_clients, run_sync
from personio_sync.sync.vendor_http import VendorHttp
from personio_sync_testing.fakes.generate import (
    AWORK_API_KEY,
    PERSONIO_CLIENT_ID,
    PERSONIO_CLIENT_SECRET,
    generate_company,
)
from personio_sync_testing.fakes.sandbox import spawn_sandbox

TODAY = date(2026, 7, 21)
CREDENTIALS = Credentials(PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET, AWORK_API_KEY)


async def _runs(endpoints: Endpoints, runs: int, shared: VendorHttp | None) -> list[float]:
    """CPU seconds of each of `runs` runs; the first (which writes) is not returned."""
    policy = policy_of(parse_spec({"secretRef": {"name": "bench"}}))
    cpu: list[float] = []
    for _ in range(runs + 1):
        started = time.process_time()
        async with open_clients(CREDENTIALS, endpoints, http=shared) as clients:
            await run_sync(
                policy,
                CREDENTIALS,
                owner_key=owner_key("bench", "org"),
                endpoints=endpoints,
                today=TODAY,
                clients=clients,
            )
        cpu.append(time.process_time() - started)
    return cpu[1:]


async def measure(endpoints: Endpoints, runs: int) -> dict[str, list[float]]:
    per_run = await _runs(endpoints, runs, None)
    shared = VendorHttp.open()
    try:
        pooled = await _runs(endpoints, runs, shared)
    finally:
        await shared.aclose()
    return {"a client pair per run": per_run, "shared pools": pooled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10, help="company size (default 10)")
    parser.add_argument("--runs", type=int, default=50, help="no-change runs per variant")
    args = parser.parse_args()
    company = generate_company(args.people, today=TODAY, seed=42)
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(company))
        proc, personio, awork = spawn_sandbox(["--seed", str(seed)])
        try:
            endpoints = Endpoints(personio_url=personio, awork_url=awork)
            results = asyncio.run(measure(endpoints, args.runs))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"no-change runs of a {args.people}-person company, {args.runs} runs each")
    print(f"{'clients':<24} {'CPU/run p50':>12} {'p95':>9}")
    for name, cpu in results.items():
        ms = sorted(c * 1000 for c in cpu)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(f"{name:<24} {statistics.median(ms):>9.1f} ms {p95:>6.1f} ms")


if __name__ == "__main__":
    main()
