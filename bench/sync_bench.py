"""Benchmark: first, steady-state and incremental syncs of Org S / M / L against the fakes.

The fakes run in their own process (`personio-sync sandbox`) with realistic latency
and the vendors' rate limits; each sync runs in a child process so its peak RSS is
the sync's alone. `--time-scale` shrinks the rate-limit windows and latency (a
simulated minute lasts 60/scale s), so an hour-long first sync at Org L takes
minutes; every time printed is simulated time (real seconds x scale).

The lower bound is what the rate limits alone allow for the requests the run made:
awork 1,000 requests/min and 50/s per workspace, Personio's per-endpoint buckets
(absence-periods 10/s, persons 30/s), ignoring that writes must wait for reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ORGS = {"S": 50, "M": 500, "L": 5000}
# Simulated time only where a real-time run would take an hour; the reset header's
# whole seconds cost up to 1 real second per rate-limit window, so keep windows long.
DEFAULT_SCALE = {"S": 1.0, "M": 1.0, "L": 5.0}
PERSONIO_RPS = {"GET /v2/absence-periods": 10.0, "GET /v2/persons": 30.0}
AWORK_PER_MINUTE, AWORK_PER_SECOND = 1000, 50
TODAY = date(2026, 7, 21)


def awork_bound(requests: int) -> float:
    """Fastest time for `requests` under 1,000/min fixed windows and 50/s."""
    if requests == 0:
        return 0.0
    full_windows = math.ceil(requests / AWORK_PER_MINUTE) - 1
    tail = requests - full_windows * AWORK_PER_MINUTE
    return max(requests / AWORK_PER_SECOND, full_windows * 60.0 + tail / AWORK_PER_SECOND)


def personio_bound(requests: dict[str, int]) -> float:
    """Each endpoint has its own bucket (burst = one second's worth), so they overlap."""
    times = [max(0.0, requests.get(ep, 0) - rps) / rps for ep, rps in PERSONIO_RPS.items()]
    return max(times, default=0.0)


# -- child: one process that runs the three syncs and measures itself ------------------


async def _one_sync(args: argparse.Namespace, spec: Any) -> dict[str, Any]:
    from personio_sync.clients import AworkClient, PersonioClient
    from personio_sync.engine.marker import owner_key
    from personio_sync.resource.spec_policy import policy_of
    from personio_sync.sync.runner import Clients, Credentials, run_sync
    from personio_sync_testing.fakes.generate import (
        AWORK_API_KEY,
        PERSONIO_CLIENT_ID,
        PERSONIO_CLIENT_SECRET,
    )

    creds = Credentials(PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET, AWORK_API_KEY)
    scale = args.time_scale  # the clients' own waits shrink with the fakes' simulated time
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as p_http, httpx.AsyncClient(timeout=60) as a_http:
        clients = Clients(
            PersonioClient(
                p_http, args.personio, PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET,
                rate_limit_wait=1.0 / scale, backoff_base=0.5 / scale,
            ),
            AworkClient(
                a_http, args.awork, AWORK_API_KEY,
                second_window=1.0 / scale, rate_limit_wait=1.0 / scale, backoff_base=0.5 / scale,
            ),
        )  # fmt: skip
        report = await run_sync(
            policy_of(spec),
            creds,
            owner_key=owner_key("bench", "org"),
            today=TODAY,
            clients=clients,
        )
    wall = (time.monotonic() - started) * args.time_scale
    personio_req, awork_req = clients.personio.stats.requests, clients.awork.stats.requests
    bound = max(personio_bound(personio_req), awork_bound(sum(awork_req.values())))
    acts = report.actions
    return {
        "wall": wall,
        "bound": bound,
        "writes": acts.created + acts.updated + acts.deleted,
        "created": acts.created,
        "updated": acts.updated,
        "deleted": acts.deleted,
        "failed": acts.failed,
        "requests": {**personio_req, **{f"awork {k}": v for k, v in awork_req.items()}},
        "429s": clients.personio.stats.rate_limited + clients.awork.stats.rate_limited,
    }


def _change_one_percent(args: argparse.Namespace) -> int:
    """Move 1 % of the synced Personio periods by a day; each must become one update."""
    with httpx.Client(timeout=120) as http:
        root = args.awork.removesuffix("/api/v1")
        owned = http.get(f"{root}/_admin/state").json()["absences"]
        ids = sorted(
            a["externalProvider"].rsplit(":", 1)[1]
            for a in owned
            if (a.get("externalProvider") or "").startswith("personio-sync:")
        )
        state = http.get(f"{args.personio}/_admin/state").json()
        periods = {p["id"]: p for p in state["absence_periods"]}
        chosen = [i for i in ids if i in periods and periods[i]["ends_at"]][::100][
            : max(1, len(ids) // 100)
        ]
        for period_id in chosen:
            period = periods[period_id]
            moved = {
                key: {**period[key], "date_time": _plus_day(period[key]["date_time"])}
                for key in ("starts_from", "ends_at")
            }
            http.post(
                f"{args.personio}/_admin/absence-periods/{period_id}/move", json=moved
            ).raise_for_status()
    return len(chosen)


def _changes_in_subprocess(args: argparse.Namespace) -> int:
    """The admin state of Org L is hundreds of MB of JSON: read it in another process so
    the child's peak RSS stays the sync's own."""
    out = subprocess.run(
        [sys.executable, __file__, "--change", "--personio", args.personio, "--awork", args.awork],
        stdout=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip())


def _plus_day(stamp: str) -> str:
    day, _, rest = stamp.partition("T")
    return f"{date.fromisoformat(day) + timedelta(days=1)}T{rest}"


def child(args: argparse.Namespace) -> None:
    from personio_sync.resource.spec import PersonioSyncSpec

    spec = PersonioSyncSpec.model_validate({"secretRef": {"name": "bench"}})
    results: dict[str, Any] = {}
    # Runs are an hour apart in production: each starts with a fresh awork minute window.
    pause = 61.0 / args.time_scale
    results["first"] = asyncio.run(_one_sync(args, spec))
    time.sleep(pause)
    results["steady"] = asyncio.run(_one_sync(args, spec))
    results["changes"] = _changes_in_subprocess(args)
    time.sleep(pause)
    results["incremental"] = asyncio.run(_one_sync(args, spec))
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results))


# -- parent: seed, start the sandbox, run the child, print the table -------------------


def _start_sandbox(seed: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[str], str, str]:
    from personio_sync_testing.fakes.sandbox import spawn_sandbox

    options = [
        "--seed", str(seed), "--rate-limits", "--latency-ms", str(args.latency_ms),
        "--time-scale", str(args.time_scale),
    ]  # fmt: skip
    return spawn_sandbox(options)


def run_org(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from personio_sync_testing.fakes.generate import generate_company

    args = argparse.Namespace(**vars(args))
    args.time_scale = args.time_scale or DEFAULT_SCALE[name]

    company = generate_company(ORGS[name], today=TODAY, seed=42)
    in_window = len(company["personio"]["absence_periods"])
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(company))
        del company
        proc, personio, awork = _start_sandbox(seed, args)
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--personio", personio, "--awork", awork,
                 "--time-scale", str(args.time_scale)],
                stdout=subprocess.PIPE, text=True, check=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result: dict[str, Any] = json.loads(out.stdout)
    result["periods"] = in_window
    result["scale"] = args.time_scale
    return result


def _row(org: str, phase: str, r: dict[str, Any], rss: float, scale: float) -> str:
    reqs = ", ".join(f"{k.replace('GET ', '').replace('awork ', 'aw:')}={v}"
                     for k, v in sorted(r["requests"].items()))  # fmt: skip
    ratio = r["wall"] / r["bound"] if r["bound"] > 0 else float("nan")
    return (
        f"| {org} | {scale:g} | {phase} | {r['writes']} | {r['wall']:.1f} s | {r['bound']:.1f} s | "
        f"{ratio:.2f} | {r['429s']} | {rss:.0f} MB | {reqs} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", default="S,M,L")
    parser.add_argument("--time-scale", type=float, default=None, help="default: per org")
    parser.add_argument("--latency-ms", type=float, default=80.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--change", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--personio", help=argparse.SUPPRESS)
    parser.add_argument("--awork", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.change:
        print(_change_one_percent(args))
        return
    print(f"latency {args.latency_ms:g} ms per request; times are simulated (real x scale)")
    print("| org | scale | sync | writes | wall | bound | ratio | 429s | peak RSS | requests |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for org in args.orgs.split(","):
        r = run_org(org, args)
        for phase in ("first", "steady", "incremental"):
            row = _row(f"{org} ({ORGS[org]})", phase, r[phase], r["peak_rss_mb"], r["scale"])
            print(row, flush=True)
        print(f"<!-- {org}: {r['periods']} periods seeded, {r['changes']} changed -->", flush=True)


if __name__ == "__main__":
    main()
