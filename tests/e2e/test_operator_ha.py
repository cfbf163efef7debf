"""High availability with kopf peering: one operator syncs, a standby takes over (issue #4).

The peering CRDs are the chart's (`charts/personio-sync/crds/kopf-peering.yaml`). Two
real operator processes share one KopfPeering object; the older one leads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf
import pytest

from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED
from personio_sync.controller.kube import KubeClient
from personio_sync.controller.peering import PeeringConfig, PeeringGate
from personio_sync.controller.testing import (
    OperatorFleet,
    OperatorProcess,
    is_ready,
    secret_manifest,
    sync_manifest,
)
from personio_sync.devtools.kubeapi import KubeApi, psync_path
from personio_sync.devtools.kubectl import Kubectl
from personio_sync.devtools.polling import eventually
from personio_sync.fakes.sandbox import Sandbox
from personio_sync.fakes.seed import demo_seed_path

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PEERING_CRDS = ROOT / "charts" / "personio-sync" / "crds" / "kopf-peering.yaml"
DEMO_CREDS = {
    "personioClientId": "demo-client",
    "personioClientSecret": "demo-secret",
    "aworkApiKey": "demo-awork-key",
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(demo_seed_path()) as sb:
        yield sb


@pytest.fixture
def fleet(kubeconfig: Path, sandbox: Sandbox, tmp_path: Path) -> Iterator[OperatorFleet]:
    operators = OperatorFleet(kubeconfig, sandbox.personio_url, sandbox.awork_url, tmp_path)
    yield operators
    print(operators.stop_all())


@pytest.fixture
def peering(kubectl: Kubectl, kube_api: KubeApi, namespace: str) -> str:
    """A KopfPeering in the test's namespace (what the chart creates per watched namespace)."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(PEERING_CRDS))
    kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev", "--timeout=60s")
    path = f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings"
    kube_api.post(path, {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering",
                         "metadata": {"name": "ha"}})  # fmt: skip
    return "ha"


def peers(kube_api: KubeApi, namespace: str) -> dict[str, Any]:
    body = kube_api.get(f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/ha")
    return dict(body.get("status") or {})


def runs(sandbox: Sandbox) -> int:
    return sandbox.personio.journal.count("GET", "/v2/absence-types")


def request_sync(kubectl: Kubectl, kube_api: KubeApi, namespace: str, value: str) -> None:
    kubectl("annotate", "--overwrite", "psync", "team", "-n", namespace, f"{SYNC_NOW}={value}")

    def acknowledged() -> bool:
        body = kube_api.get(psync_path(namespace, "team"))
        return bool(body["metadata"].get("annotations", {}).get(SYNC_NOW_HANDLED) == value)

    eventually(acknowledged, within=45, interval=0.2, what=f"sync-now={value} handled")


def test_ha_one_operator_leads_and_the_standby_takes_over(
    kubectl: Kubectl,
    kube_api: KubeApi,
    namespace: str,
    sandbox: Sandbox,
    fleet: OperatorFleet,
    peering: str,
) -> None:
    kubectl.apply(secret_manifest(namespace, DEMO_CREDS))
    kubectl.apply(sync_manifest(namespace))
    start: Callable[..., OperatorProcess] = fleet.start
    leader = start(namespace, extra_args=[f"--peering={peering}"])
    eventually(lambda: is_ready(kube_api.get(psync_path(namespace, "team"))), within=45)
    standby = start(namespace, extra_args=[f"--peering={peering}"])
    eventually(lambda: len(peers(kube_api, namespace)) == 2, within=30, what="two peers")
    request_sync(kubectl, kube_api, namespace, "while-both-run")
    assert runs(sandbox) == 2  # the first sync and this one: the standby did nothing
    leader.stop()  # a clean exit removes its heartbeat at once
    request_sync(kubectl, kube_api, namespace, "after-failover")
    assert runs(sandbox) == 3
    assert standby.metrics().count('outcome="success"} 1.0') == 1


def test_ha_peering_gate_reads_kopfs_own_heartbeats(
    kubeconfig: Path,
    namespace: str,
    fleet: OperatorFleet,
    peering: str,
    kube_api: KubeApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our workers' pause rule applied to what a real kopf writes (format and liveness)."""
    fleet.start(namespace, extra_args=[f"--peering={peering}"])
    eventually(lambda: len(peers(kube_api, namespace)) == 1, within=30, what="a heartbeat")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))

    async def may_run(priority: int, where: str) -> bool:
        async def login() -> kopf.ConnectionInfo:
            info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
            assert info is not None
            return info

        kube = KubeClient(login)
        try:
            config = PeeringConfig(peering, "test-peer", priority, clusterwide=False)
            return await PeeringGate(kube, config).may_run(where, datetime.now(UTC))
        finally:
            await kube.close()

    def check(priority: int, where: str = namespace) -> bool:
        # In a thread of its own: this process's main-thread event loop stays untouched.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, may_run(priority, where)).result()

    assert check(-(10**18)) is False  # the running operator outranks us: pause
    assert check(10**18) is True  # we outrank it
    assert check(0, "namespace-without-peering") is True  # nobody there
