"""Benchmark: how long a Personio change takes to reach awork, and what it costs.

Org M (500 people) is loaded into the fakes, synced once, then for each mode the
script makes `--changes` changes in Personio at random moments over `--spread`
seconds (70 % moved by some days, 30 % removed) and watches fake awork until each one
shows there. Modes:

- webhooks: the fake Personio delivers `absence-period.*` events to the operator's
  receiver, which the operator registered itself (`spec.webhook.register`); removals
  are cancellations (the period is deleted);
- polling: webhooks off, `spec.quickInterval` set (`--quick-interval`); removals are
  rejections, since a deleted period never shows in an `updated_at` query (the next
  full sync catches those);
- hourly: neither; a change waits for the next hourly full sync. Waiting an hour per
  change is no benchmark, so this row is modelled: a change lands at a uniform moment
  of the hour and waits for the next run, plus the measured duration of that run.

The operator runs as a process (`personio-sync run`) against a local kube-apiserver,
as in `make demo`; the fakes run in their own process with the vendors' rate limits
and 80 ms latency per request during the measurement (the first sync runs without
them, to save three minutes). "requests/change" counts every API request the fakes
served during the mode (quick polls included) divided by the changes made.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from personio_sync_testing.devtools.controlplane import down, up
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.processes import free_port
from personio_sync_testing.fakes.sandbox import spawn_sandbox
from personio_sync_testing.harness import secret_manifest, sync_manifest

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE, NAME = "bench", "org"
WEBHOOK_TOKEN = "bench-webhook-token-0123456789abcdef"  # fake, like the sandbox's credentials
ORGS = {"S": 50, "M": 500}


@dataclass
class Change:
    period_id: str
    made_at: float
    landed: Callable[[dict[str, dict[str, Any]]], bool]  # owned awork absences by period id
    landed_at: float | None = None


@dataclass
class ModeResult:
    mode: str
    latencies: list[float] = field(default_factory=list)
    missed: int = 0
    requests: int = 0
    changes: int = 0
    modelled: bool = False


# -- the fakes -------------------------------------------------------------------------


def start_sandbox(seed: Path, workdir: Path) -> tuple[subprocess.Popen[str], str, str]:
    return spawn_sandbox(["--seed", str(seed)], stderr=(workdir / "sandbox.log").open("w"))


def admin_root(url: str) -> str:
    return url.removesuffix("/api/v1").rstrip("/")


def set_limits(http: httpx.Client, personio: str, awork: str, *, on: bool) -> None:
    knobs = {"rate_limits": on, "latency_ms": 80.0 if on else 0.0}
    for url in (personio, awork):
        http.put(f"{admin_root(url)}/_admin/knobs", json=knobs).raise_for_status()


def grant_webhooks(http: httpx.Client, personio: str, client_id: str, secret: str) -> None:
    """The operator registers its own webhook (spec.webhook), which needs this scope."""
    scopes = [
        "personio:persons:read",
        "personio:absences:read",
        "personio:webhooks:read",
        "personio:webhooks:write",
    ]
    credential = {"client_id": client_id, "client_secret": secret, "scopes": scopes}
    http.put(f"{admin_root(personio)}/_admin/credentials", json=credential).raise_for_status()


def served_requests(http: httpx.Client, personio: str, awork: str) -> int:
    total = 0
    for url in (personio, awork):
        total += len(http.get(f"{admin_root(url)}/_admin/journal").json())
        http.delete(f"{admin_root(url)}/_admin/journal").raise_for_status()
    return total


def owned_absences(http: httpx.Client, awork: str) -> dict[str, dict[str, Any]]:
    state = http.get(f"{admin_root(awork)}/_admin/state").json()
    owned: dict[str, dict[str, Any]] = {}
    for absence in state["absences"]:
        marker = absence.get("externalProvider") or ""
        if marker.startswith("personio-sync:"):
            owned[marker.rsplit(":", 1)[1]] = absence
    return owned


# -- changes in Personio -----------------------------------------------------------------


def _shift(stamp: str, days: int) -> str:
    day, _, rest = stamp.partition("T")
    return f"{date.fromisoformat(day) + timedelta(days=days)}T{rest}"


def personio_periods(http: httpx.Client, personio: str) -> dict[str, dict[str, Any]]:
    state = http.get(f"{admin_root(personio)}/_admin/state").json()
    return {p["id"]: p for p in state["absence_periods"]}


def make_change(
    http: httpx.Client,
    personio: str,
    rng: random.Random,
    candidates: dict[str, dict[str, Any]],
    removal: str,
) -> Change:
    """Move (70 %) or remove (30 %) a synced, day-based period not changed before.

    `removal` is "cancel" (the period is deleted in Personio: only a webhook or the next
    full sync can tell) or "reject" (its status changes, which bumps `updated_at`)."""
    period_id = rng.choice(sorted(candidates))
    state = candidates.pop(period_id)
    root = admin_root(personio)
    if rng.random() < 0.7:
        days = rng.choice((1, 2, 7))
        moved = {
            key: {**state[key], "date_time": _shift(state[key]["date_time"], days)}
            for key in ("starts_from", "ends_at")
        }
        http.post(f"{root}/_admin/absence-periods/{period_id}/move", json=moved).raise_for_status()
        start = str(moved["starts_from"]["date_time"])[:10]
        return Change(
            period_id,
            time.time(),
            lambda owned: period_id in owned and owned[period_id]["startOn"][:10] == start,
        )
    if removal == "cancel":
        http.delete(f"{root}/_admin/absence-periods/{period_id}").raise_for_status()
    else:
        http.post(f"{root}/_admin/absence-periods/{period_id}/reject").raise_for_status()
    return Change(period_id, time.time(), lambda owned: period_id not in owned)


# -- the operator and its resource ----------------------------------------------------------


def start_operator(
    kubeconfig: Path, personio: str, awork: str, workdir: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PERSONIO_SYNC_")},
        "KUBECONFIG": str(kubeconfig),
        "PERSONIO_API_URL": personio,
        "AWORK_API_URL": awork,
        "PERSONIO_SYNC_HTTP_HOST": "127.0.0.1",
        "PERSONIO_SYNC_HTTP_PORT": str(free_port()),
        **env,
    }
    log = (workdir / "operator.log").open("ab")
    cmd = [sys.executable, "-m", "personio_sync.cli", "run", "--namespace", NAMESPACE]
    return subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT)


def resource(kubectl: Kubectl) -> dict[str, Any]:
    return dict(json.loads(kubectl("get", "psync", NAME, "-n", NAMESPACE, "-o", "json")))


def patch(kubectl: Kubectl, spec: dict[str, Any]) -> None:
    body = json.dumps({"spec": spec})
    kubectl("patch", "psync", NAME, "-n", NAMESPACE, "--type=merge", "-p", body)


def wait_for(
    kubectl: Kubectl, check: Callable[[dict[str, Any]], bool], timeout: float = 300
) -> None:
    """Poll the resource's status until `check` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(resource(kubectl).get("status") or {}):
            return
        time.sleep(1)
    raise SystemExit(f"the status did not get there within {timeout:.0f} s")


def wait_synced_since(kubectl: Kubectl, since: str | None, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = resource(kubectl)
        last = (body.get("status") or {}).get("lastSuccessfulSyncTime")
        if last and last != since:
            return body
        time.sleep(1)
    raise SystemExit(f"no successful sync within {timeout:.0f} s")


# -- one mode ----------------------------------------------------------------------------


def measure(
    mode: str,
    args: argparse.Namespace,
    http: httpx.Client,
    personio: str,
    awork: str,
    rng: random.Random,
) -> ModeResult:
    removal = "reject" if mode == "polling" else "cancel"  # polling cannot see a deletion
    periods = personio_periods(http, personio)
    candidates = {
        i: periods[i] for i in owned_absences(http, awork) if periods.get(i, {}).get("ends_at")
    }
    served_requests(http, personio, awork)  # start counting from here
    moments = sorted(rng.uniform(0, args.spread) for _ in range(args.changes))
    started = time.time()
    pending: list[Change] = []
    done: list[Change] = []
    deadline = started + args.spread + args.drain
    while time.time() < deadline and (moments or pending):
        now = time.time()
        while moments and moments[0] <= now - started:
            moments.pop(0)
            pending.append(make_change(http, personio, rng, candidates, removal))
        if pending:
            owned = owned_absences(http, awork)
            seen = time.time()
            for change in list(pending):
                if change.landed(owned):
                    change.landed_at = seen
                    pending.remove(change)
                    done.append(change)
        time.sleep(0.5)
    result = ModeResult(mode, changes=args.changes - len(moments))
    result.latencies = [c.landed_at - c.made_at for c in done if c.landed_at is not None]
    result.missed = len(pending) + len(moments)
    result.requests = served_requests(http, personio, awork)
    return result


def modelled_hourly(run_seconds: float) -> ModeResult:
    """Uniform arrival within the hour, then the measured duration of one full run."""
    rng = random.Random(7)
    latencies = [rng.uniform(0, 3600) + run_seconds for _ in range(10_000)]
    return ModeResult("hourly (modelled)", latencies=latencies, changes=0, modelled=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def row(result: ModeResult) -> str:
    if not result.latencies:
        return f"| {result.mode} | n/a | n/a | n/a | {result.missed} | n/a |"
    per_change = "n/a" if result.modelled else f"{result.requests / max(1, result.changes):.1f}"
    return (
        f"| {result.mode} | {statistics.median(result.latencies):.1f} s | "
        f"{percentile(result.latencies, 0.95):.1f} s | {max(result.latencies):.1f} s | "
        f"{result.missed} | {per_change} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--org", default="M", choices=sorted(ORGS))
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--spread", type=float, default=240.0, help="seconds over which to change")
    parser.add_argument("--drain", type=float, default=150.0, help="seconds to wait afterwards")
    parser.add_argument("--quick-interval", default="1m")
    parser.add_argument("--modes", default="webhooks,polling,hourly")
    parser.add_argument("--logs", type=Path, help="keep the operator's and fakes' logs here")
    args = parser.parse_args()
    modes = args.modes.split(",")

    from personio_sync_testing.fakes.generate import (
        AWORK_API_KEY,
        PERSONIO_CLIENT_ID,
        PERSONIO_CLIENT_SECRET,
        generate_company,
    )

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop what was started
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        workdir = Path(tmp)
        seed = workdir / "seed.json"
        company = generate_company(ORGS[args.org], today=date.today(), seed=42)
        # Last touched a month ago, as a real company's periods are: a quick poll then
        # finds the changes made during the run, not every period seeded a minute ago.
        month_ago = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
        for period in company["personio"]["absence_periods"]:
            period["created_at"] = period["updated_at"] = month_ago
        seed.write_text(json.dumps(company))
        kubeconfig, _ = up(workdir / "cluster")
        kubectl = Kubectl(kubeconfig)
        sandbox, personio, awork = start_sandbox(seed, workdir)
        operator: subprocess.Popen[bytes] | None = None
        results: list[ModeResult] = []
        try:
            with httpx.Client(timeout=60) as http:  # before the operator's first token
                grant_webhooks(http, personio, PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET)
            kubectl("apply", "-f", str(ROOT / "crds" / "personiosync.yaml"))
            kubectl("wait", "--for=condition=Established", "crd/personiosyncs.personio-sync.dev")
            kubectl("create", "namespace", NAMESPACE)
            creds = {
                "personioClientId": PERSONIO_CLIENT_ID,
                "personioClientSecret": PERSONIO_CLIENT_SECRET,
                "aworkApiKey": AWORK_API_KEY,
                "personioWebhookToken": WEBHOOK_TOKEN,
            }
            kubectl("apply", "-f", "-", input=secret_manifest(NAMESPACE, creds))
            kubectl("apply", "-f", "-", input=sync_manifest(NAMESPACE, NAME, interval="1h"))
            hook_port = free_port()
            base = f"http://127.0.0.1:{hook_port}/webhooks/personio"  # the receiver on (HOOK-15)
            env = {
                "PERSONIO_SYNC_WEBHOOK_PORT": str(hook_port),
                "PERSONIO_SYNC_WEBHOOK_BASE_URL": base,
            }
            operator = start_operator(kubeconfig, personio, awork, workdir, env)
            first = time.monotonic()
            wait_synced_since(kubectl, None, timeout=900)
            print(f"first sync of Org {args.org}: {time.monotonic() - first:.0f} s (no limits)")
            with httpx.Client(timeout=60) as http:
                set_limits(http, personio, awork, on=True)
                if "webhooks" in modes:
                    patch(kubectl, {"webhook": {"register": True}})  # at <base>/<ns>/<name>
                    wait_for(
                        kubectl, lambda s: (s.get("webhook") or {}).get("state") == "Registered"
                    )
                    results.append(measure("webhooks", args, http, personio, awork, rng))
                    patch(kubectl, {"webhook": None})
                    wait_for(kubectl, lambda s: not s.get("webhook"))
                if "polling" in modes:
                    patch(kubectl, {"quickInterval": args.quick_interval})
                    results.append(measure("polling", args, http, personio, awork, rng))
                    patch(kubectl, {"quickInterval": None})
                if "hourly" in modes:
                    last_run = (resource(kubectl).get("status") or {}).get("lastRun") or {}
                    results.append(modelled_hourly(float(last_run.get("durationSeconds", 0.0))))
        finally:
            for proc in (operator, sandbox):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
            down(workdir / "cluster")
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in ("operator.log", "sandbox.log"):
                    shutil.copy(workdir / log, args.logs / log)
    print(f"Org {args.org}, {args.changes} changes over {args.spread:.0f} s, rate limits on")
    print("| mode | p50 | p95 | max | not landed | requests/change |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(row(result))


if __name__ == "__main__":
    main()
