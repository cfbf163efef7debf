"""Benchmark: many PersonioSyncs on one operator process, on the local API server.

N resources of one small company (dry runs, so their plans never meet in awork: the
figures are the operator's cost per run, not awork's) spread over several namespaces,
one Secret per namespace. The fakes run in their own process. Printed:

- creation: time until every resource is Ready, time to first sync p50/p95 (from the
  resource's creationTimestamp to its lastSyncTime);
- a round of N runs asked for at once (`sync-now` on every resource): its time, the
  operator's CPU per run, and the API server requests per run by kind (Secret GETs,
  status PATCHes, Event POSTs), from the API server's own request counters;
- the operator's RSS after the round and its peak (what the chart's memory limit must
  hold, docs/operator.md), and the size of its /metrics page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from lightkube import Client
from lightkube.types import PatchType

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
SYNC_NOW = "personio-sync.dev/sync-now"
CREDS = {
    "personioClientId": PERSONIO_CLIENT_ID,
    "personioClientSecret": PERSONIO_CLIENT_SECRET,
    "aworkApiKey": AWORK_API_KEY,
}
# apiserver_request_total{...resource="secrets",...verb="GET"} 12
_REQUEST = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def api_requests(kubectl: Kubectl) -> dict[str, float]:
    """The API server's request counters by kind: what the operator's runs cost it."""
    kinds = {
        "Secret GET": ("secrets", "", "GET"),
        "status PATCH": (PLURAL, "status", "PATCH"),
        "Event POST": ("events", "", "POST"),
    }
    totals = dict.fromkeys(kinds, 0.0)
    for match in _REQUEST.finditer(kubectl("get", "--raw", "/metrics")):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = (labels.get("resource"), labels.get("subresource", ""), labels.get("verb"))
        for kind, wanted in kinds.items():
            if key == wanted:
                totals[kind] += float(match["value"])
    return totals


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS), or the most it has been (VmHWM: what a limit meets)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def runs_total(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("personio_sync_runs_total{")
    )


def wait(what: str, done: Callable[[], bool], timeout: float) -> float:
    """Seconds until `done()`; polls each second."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(1.0)
    return time.monotonic() - started


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def resource(namespace: str, name: str) -> PersonioSync:
    return PersonioSync(
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"secretRef": {"name": "creds"}, "dryRun": True},
        }
    )


def listed(kube: Client) -> list[dict[str, Any]]:
    return [dict(item) for item in kube.list(PersonioSync, namespace="*")]


def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    company = generate_company(args.people, today=TODAY, seed=7)
    seed = workdir / "seed.json"
    seed.write_text(json.dumps(company))
    plane = LocalControlPlane(workdir=workdir / "cluster").start()
    sandbox, personio, awork = spawn_sandbox(["--seed", str(seed)])
    operator: OperatorProcess | None = None
    try:
        kubectl = Kubectl(plane.kubeconfig)
        kube = sync_client(kube_config(plane.kubeconfig))
        kubectl("apply", "-f", str(ROOT / "crds" / "personiosync.yaml"))
        kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{API_GROUP}")
        namespaces = [f"tenant-{i}" for i in range(args.namespaces)]
        for namespace in namespaces:
            create_namespace(kube, namespace)
            kubectl.apply(secret_manifest(namespace, CREDS))
        operator = OperatorProcess(
            plane.kubeconfig, [], personio_url=personio, awork_url=awork,
            log_path=workdir / "operator.log",
        ).start()  # fmt: skip
        pid = operator._popen.pid if operator._popen else 0
        started = time.monotonic()
        for i in range(args.resources):
            kube.create(resource(namespaces[i % len(namespaces)], f"sync-{i}"))
        created = time.monotonic() - started
        ready = created + wait(
            "every resource Ready",
            lambda: sum(map(is_ready, listed(kube))) == args.resources,
            args.timeout,
        )
        first = sorted(
            stamp(b["status"]["lastSyncTime"]) - stamp(b["metadata"]["creationTimestamp"])
            for b in listed(kube)
        )
        cpu0, requests0 = cpu_seconds(pid), api_requests(kubectl)
        runs0 = runs_total(operator.metrics())
        started = time.monotonic()
        for body in listed(kube):
            meta = body["metadata"]
            kube.patch(
                PersonioSync, meta["name"], {"metadata": {"annotations": {SYNC_NOW: "round-1"}}},
                namespace=meta["namespace"], patch_type=PatchType.MERGE,
            )  # fmt: skip

        def round_done() -> bool:
            return runs_total(operator.metrics()) - runs0 >= args.resources

        round_seconds = wait("a round of runs", round_done, args.timeout)
        runs = runs_total(operator.metrics()) - runs0
        cpu = cpu_seconds(pid) - cpu0
        requests = {k: v - requests0[k] for k, v in api_requests(kubectl).items()}
        page = httpx.get(f"{operator.url}/metrics", timeout=30).content
        return {
            "resources": args.resources,
            "namespaces": args.namespaces,
            "ready_seconds": ready,
            "first_sync_p50": statistics.median(first),
            "first_sync_p95": first[min(len(first) - 1, int(len(first) * 0.95))],
            "round_seconds": round_seconds,
            "cpu_ms_per_run": 1000 * cpu / max(runs, 1),
            "requests_per_run": {k: v / max(runs, 1) for k, v in requests.items()},
            "rss_mib": rss_mib(pid),
            "peak_rss_mib": rss_mib(pid, "VmHWM"),
            "metrics_kib": len(page) / 1024,
        }
    finally:
        if operator is not None:
            operator.stop()
        sandbox.terminate()
        sandbox.wait(timeout=30)
        plane.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--people", type=int, default=5, help="people in the company")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    rows = []
    for n in args.resources:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
            rows.append(bench(argparse.Namespace(**{**vars(args), "resources": n}), Path(tmp)))
    print(
        "| N | all Ready | first sync p50 / p95 | round of N runs | CPU per run "
        "| per run: Secret GETs / status PATCHes / Events | RSS / peak | /metrics |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per = r["requests_per_run"]
        print(
            f"| {r['resources']:,} | {r['ready_seconds']:.1f} s "
            f"| {r['first_sync_p50']:.1f} / {r['first_sync_p95']:.1f} s "
            f"| {r['round_seconds']:.1f} s | {r['cpu_ms_per_run']:.0f} ms "
            f"| {per['Secret GET']:.1f} / {per['status PATCH']:.1f} / {per['Event POST']:.1f} "
            f"| {r['rss_mib']:.0f} / {r['peak_rss_mib']:.0f} MiB | {r['metrics_kib']:.0f} KiB |"
        )


if __name__ == "__main__":
    main()
