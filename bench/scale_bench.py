"""Benchmark: many PersonioSyncs on one installation, on the local API server.

N resources of small companies (dry runs, so their plans never meet in awork: the
figures are the operator's cost per run, not awork's) spread over several namespaces,
one Secret per namespace. Each namespace is a company of its own by default, with its
own Personio credentials and awork key (so its own awork budget, FAIR-1), as a
provider's are; `--shared-workspace` puts every resource on one workspace and one key.
One fake process serves every company by credential; its one awork workspace counts
every key's requests in its rate-limit headers, so it is given the budget of as many
workspaces as there are namespaces (awork's 1,000 a minute and 50 a second each). With
`--replicas K` the operator runs as K sharded replicas (SHARD-1). Printed:

- creation: time until every resource is Ready, time to first sync p50/p95 (from the
  resource's creationTimestamp to its lastSyncTime);
- a round of N runs asked for at once (`sync-now` on every resource): its time, the
  operator's CPU per run (all replicas), and the API server requests per run by kind
  (Secret GETs, status PATCHes, Event POSTs), from the API server's own counters;
- the largest replica's RSS after the round and its peak (what the chart's memory limit
  must hold, docs/operator.md), and the largest replica's /metrics page;
- with replicas: a second round during which one replica is killed (`kill -9`): how
  long until its shards are held by the others, until every resource has run;
- schedule lag: how late each resource's next scheduled run (`spec.interval`) started
  after its nextSyncTime, p50/p95 (`--no-lag` skips it: it waits one interval).
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from lightkube import Client
from lightkube.resources.coordination_v1 import Lease
from lightkube.types import PatchType
from scale_probes import (
    api_requests,
    cpu_seconds,
    percentile,
    pid_of,
    rss_mib,
    runs_total,
    stamp,
    wait,
)

from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED
from personio_sync.controller.shard_leases import LEASE_SET, ROLE
from personio_sync.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL
from personio_sync_testing.devtools.controlplane import LocalControlPlane
from personio_sync_testing.devtools.kube import (
    PersonioSync,
    create_namespace,
    kube_config,
    sync_client,
)
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.fakes.generate import (
    AWORK_API_KEY,
    PERSONIO_CLIENT_ID,
    PERSONIO_CLIENT_SECRET,
    generate_company,
)
from personio_sync_testing.fakes.sandbox import spawn_sandbox
from personio_sync_testing.harness import OperatorProcess, is_ready, secret_manifest

ROOT = Path(__file__).resolve().parent.parent
TODAY = date.today()  # the operator syncs around the real today
LEASES, LEASE_NAMESPACE = "shards", "personio-sync-system"


def credentials(index: int, shared: bool) -> dict[str, str]:
    """Namespace `index`'s company: its own Personio client and awork key, unless shared."""
    tag = "" if shared else f"-{index}"
    return {
        "personioClientId": PERSONIO_CLIENT_ID + tag,
        "personioClientSecret": PERSONIO_CLIENT_SECRET + tag,
        "aworkApiKey": AWORK_API_KEY + tag,
    }


def seed(people: int, namespaces: int, shared: bool) -> dict[str, Any]:
    """One company whose data every namespace's credentials read (the fakes key by them)."""
    company = generate_company(people, today=TODAY, seed=7)
    api_user = company["awork"]["api_keys"][0]["api_user_id"]
    for i in range(0 if shared else namespaces):
        creds = credentials(i, shared)
        company["personio"]["credentials"].append(
            {"client_id": creds["personioClientId"], "client_secret": creds["personioClientSecret"]}
        )
        company["awork"]["api_keys"].append({"key": creds["aworkApiKey"], "api_user_id": api_user})
    return company


def resource(namespace: str, name: str, interval: str) -> PersonioSync:
    return PersonioSync(
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"secretRef": {"name": "creds"}, "dryRun": True, "interval": interval},
        }
    )


def listed(kube: Client) -> list[dict[str, Any]]:
    return [dict(item) for item in kube.list(PersonioSync, namespace="*")]


def sync_now(kube: Client, value: str) -> None:
    for body in listed(kube):
        meta = body["metadata"]
        kube.patch(
            PersonioSync, meta["name"], {"metadata": {"annotations": {SYNC_NOW: value}}},
            namespace=meta["namespace"], patch_type=PatchType.MERGE,
        )  # fmt: skip


def handled(kube: Client, value: str) -> int:
    return sum(
        (b["metadata"].get("annotations") or {}).get(SYNC_NOW_HANDLED) == value
        for b in listed(kube)
    )


def shard_holders(kube: Client) -> list[str]:
    leases = kube.list(Lease, namespace=LEASE_NAMESPACE, labels={LEASE_SET: LEASES, ROLE: "shard"})
    return [str((lease.spec and lease.spec.holderIdentity) or "") for lease in leases]


def start_replicas(
    count: int, plane: LocalControlPlane, urls: dict[str, str], workdir: Path, settings: list[str]
) -> list[OperatorProcess]:
    """One standalone operator, or `count` replicas sharing the shard Leases; `settings`
    are `PERSONIO_SYNC_…=value` for every one of them."""

    def replica(i: int) -> OperatorProcess:
        env = dict(setting.split("=", 1) for setting in settings)
        if count > 1:
            env |= {"POD_NAMESPACE": LEASE_NAMESPACE, "POD_ID": f"replica-{i}"}
        args = [f"--peering={LEASES}"] if count > 1 else None
        return OperatorProcess(
            plane.kubeconfig, [], **urls, log_path=workdir / f"operator-{i}.log",
            env=env, extra_args=args,
        ).start()  # fmt: skip

    return [replica(i) for i in range(count)]


def kill_phase(
    kube: Client, operators: list[OperatorProcess], n: int, timeout: float
) -> dict[str, float]:
    """A round with `kill -9` of replica 0 a third of the way through."""
    sync_now(kube, "round-2")
    every = max(1.0, n / 2000)
    wait("a third of round 2", lambda: handled(kube, "round-2") >= n // 3, timeout, every)
    victim = operators.pop(0)
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.stop()

    def reowned() -> bool:
        holders = shard_holders(kube)
        return bool(holders) and all(h and not h.startswith("replica-0/") for h in holders)

    reown = wait("the killed replica's shards re-owned", reowned, timeout, 0.5)
    wait("round 2 done", lambda: handled(kube, "round-2") == n, timeout, every)
    return {"reowned_seconds": reown, "round2_seconds": time.monotonic() - killed}


def schedule_lag(kube: Client, n: int, timeout: float) -> tuple[float, float]:
    """How late each resource's next scheduled run started after its nextSyncTime. Status
    times have whole seconds, so a lag is known to about a second."""
    before = {
        (b["metadata"]["namespace"], b["metadata"]["name"]): b["status"] for b in listed(kube)
    }
    lags: dict[tuple[str, str], float] = {}

    def all_ran() -> bool:
        for b in listed(kube):
            key = (b["metadata"]["namespace"], b["metadata"]["name"])
            status, old = b.get("status") or {}, before[key]
            if key in lags or status.get("lastSyncTime") == old["lastSyncTime"]:
                continue
            took = float((status.get("lastRun") or {}).get("durationSeconds") or 0.0)
            started = stamp(status["lastSyncTime"]) - took
            lags[key] = max(0.0, started - stamp(old["nextSyncTime"]))
        return len(lags) == n

    latest = max(stamp(status["nextSyncTime"]) for status in before.values())
    wait("every scheduled run", all_ran, latest - time.time() + timeout, max(5.0, n / 1000))
    values = list(lags.values())
    return statistics.median(values), percentile(values, 0.95)


def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    n, shared = args.resources, args.shared_workspace
    (workdir / "seed.json").write_text(json.dumps(seed(args.people, args.namespaces, shared)))
    plane = LocalControlPlane(workdir=workdir / "cluster").start()
    sandbox, personio, awork = spawn_sandbox(["--seed", str(workdir / "seed.json")])
    operators: list[OperatorProcess] = []
    try:
        kubectl = Kubectl(plane.kubeconfig)
        kube = sync_client(kube_config(plane.kubeconfig))
        kubectl("apply", "-f", str(ROOT / "crds" / "personiosync.yaml"))
        kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{API_GROUP}")
        create_namespace(kube, LEASE_NAMESPACE)
        namespaces = [f"tenant-{i}" for i in range(args.namespaces)]
        for i, namespace in enumerate(namespaces):
            create_namespace(kube, namespace)
            kubectl.apply(secret_manifest(namespace, credentials(i, shared)))
        if not shared:  # one fake workspace serves every key: give it all their budgets
            budget = {"per_minute": 1000 * args.namespaces, "per_second": 50 * args.namespaces}
            admin = awork.removesuffix("/api/v1").rstrip("/") + "/_admin/knobs"
            httpx.put(admin, json=budget, timeout=10).raise_for_status()
        urls = {"personio_url": personio, "awork_url": awork}
        operators = start_replicas(args.replicas, plane, urls, workdir, args.setting)
        every = max(1.0, n / 2000)  # a LIST of every resource is not free at 10,000
        started = time.monotonic()
        for i in range(n):
            kube.create(resource(namespaces[i % len(namespaces)], f"sync-{i}", args.interval))
        created = time.monotonic() - started
        ready = created + wait(
            "every resource Ready",
            lambda: sum(map(is_ready, listed(kube))) == n,
            args.timeout,
            every,
        )
        first = [
            stamp(b["status"]["lastSyncTime"]) - stamp(b["metadata"]["creationTimestamp"])
            for b in listed(kube)
        ]
        pids = [pid_of(op) for op in operators]
        cpu0, requests0 = sum(map(cpu_seconds, pids)), api_requests(kubectl)
        runs0 = runs_total(operators)
        sync_now(kube, "round-1")
        round_seconds = wait(
            "a round of runs", lambda: runs_total(operators) - runs0 >= n, args.timeout, every
        )
        runs = runs_total(operators) - runs0
        cpu = sum(map(cpu_seconds, pids)) - cpu0
        requests = {k: v - requests0[k] for k, v in api_requests(kubectl).items()}
        pages = [httpx.get(f"{op.url}/metrics", timeout=30).content for op in operators]
        row: dict[str, Any] = {
            "resources": n,
            "replicas": args.replicas,
            "ready_seconds": ready,
            "first_sync_p50": statistics.median(first),
            "first_sync_p95": percentile(first, 0.95),
            "round_seconds": round_seconds,
            "cpu_ms_per_run": 1000 * cpu / max(runs, 1),
            "requests_per_run": {k: v / max(runs, 1) for k, v in requests.items()},
            "rss_mib": max(rss_mib(pid) for pid in pids),
            "peak_rss_mib": max(rss_mib(pid, "VmHWM") for pid in pids),
            "rss_mib_each": [round(rss_mib(pid)) for pid in pids],
            "metrics_kib": max(len(page) for page in pages) / 1024,
        }
        if args.replicas > 1:
            row |= kill_phase(kube, operators, n, args.timeout)
        if args.lag:
            row["lag_p50"], row["lag_p95"] = schedule_lag(kube, n, args.timeout)
        return row
    finally:
        for op in operators:
            op.stop()
        sandbox.terminate()
        sandbox.wait(timeout=30)
        plane.stop()


def seconds(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.1f} s" if key in row else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1])
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--people", type=int, default=5, help="people in each company")
    parser.add_argument("--shared-workspace", action="store_true",
                        help="every namespace on one company, one awork key")  # fmt: skip
    parser.add_argument("--interval", default="15m", help="spec.interval of every resource")
    parser.add_argument("--no-lag", dest="lag", action="store_false",
                        help="skip the schedule lag (it waits one interval)")  # fmt: skip
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="operator setting for every replica (PERSONIO_SYNC_…)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    rows = []
    for n in args.resources:
        for replicas in args.replicas:
            with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
                run = argparse.Namespace(**{**vars(args), "resources": n, "replicas": replicas})
                rows.append(bench(run, Path(tmp)))
    print(
        "| N | replicas | all Ready | first sync p50 / p95 | round of N runs | CPU per run "
        "| per run: Secret GETs / status PATCHes / Events | RSS / peak per replica "
        "| /metrics | kill -9: shards re-owned / all run | schedule lag p50 / p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = r["requests_per_run"]
        print(
            f"| {r['resources']:,} | {r['replicas']} | {r['ready_seconds']:.1f} s "
            f"| {r['first_sync_p50']:.1f} / {r['first_sync_p95']:.1f} s "
            f"| {r['round_seconds']:.1f} s | {r['cpu_ms_per_run']:.0f} ms "
            f"| {per['Secret GET']:.1f} / {per['status PATCH']:.1f} / {per['Event POST']:.1f} "
            f"| {r['rss_mib']:.0f} / {r['peak_rss_mib']:.0f} MiB | {r['metrics_kib']:.0f} KiB "
            f"| {seconds(r, 'reowned_seconds')} / {seconds(r, 'round2_seconds')} "
            f"| {seconds(r, 'lag_p50')} / {seconds(r, 'lag_p95')} |"
        )
    print(json.dumps({"settings": args.setting, "rows": rows}))


if __name__ == "__main__":
    main()
