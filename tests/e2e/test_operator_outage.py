"""KUBE-1..KUBE-3 end to end: kube-apiserver or etcd restarted in the middle of a run.

This module brings its own API server and etcd (stopping the shared ones would break
the tests running next to it). The fake awork is slowed down so a run lasts seconds;
the control plane part goes down once the run is writing and comes back on the same
port and data once awork holds everything. The run must finish as if nothing happened
and say so in `.status`, and the log must say "unreachable" once and "reachable again"
once, without a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alice import CREDS, TODAY, alice_seed
from lightkube import Client

from personio_sync_testing.devtools.controlplane import LocalControlPlane, Part
from personio_sync_testing.devtools.kube import PersonioSync, create_namespace, sync_client
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import is_ready, secret_manifest, sync_manifest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("PERSONIO_SYNC_E2E_EXISTING_CLUSTER") == "1",
        reason="restarts the API server: only on the local control plane",
    ),
]

PERIODS = 48
CRD_FILE = Path(__file__).resolve().parents[2] / "crds" / "personiosync.yaml"


@pytest.fixture(scope="module")
def control_plane() -> Iterator[LocalControlPlane]:
    with LocalControlPlane() as cp:
        kubectl = cp.kubectl()
        kubectl("apply", "--server-side", "-f", str(CRD_FILE))
        kubectl("wait", "--for=condition=Established", "crd/personiosyncs.personio-sync.dev")
        yield cp


# The shared fixtures, pointed at this module's own control plane.
@pytest.fixture(scope="module")
def kubeconfig(control_plane: LocalControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="module")
def kubectl(control_plane: LocalControlPlane) -> Kubectl:
    return control_plane.kubectl()


@pytest.fixture(scope="module")
def kube_api(control_plane: LocalControlPlane) -> Iterator[Client]:
    with sync_client(control_plane.config()) as api:
        yield api


@pytest.fixture
def namespace(kube_api: Client) -> str:
    name = f"e2e-outage-{os.urandom(3).hex()}"
    create_namespace(kube_api, name)
    return name


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(alice_seed(PERIODS), today=TODAY) as sb:
        yield sb


def wait_for(
    kube_api: Client, ns: str, check: Callable[[dict[str, Any]], bool], within: float = 90
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kube_api.get(PersonioSync, "team", namespace=ns)
        return body if check(body) else None

    return eventually(probe, within=within, interval=0.2, what=f"{ns}/team")


def writing(body: dict[str, Any]) -> bool:
    progress = body.get("status", {}).get("progress", {})
    return 0 < progress.get("done", 0) < PERIODS


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == kind)


@pytest.mark.parametrize("part", ["kube-apiserver", "etcd"])
def test_kube_2_a_run_survives_a_restart_of_the_control_plane(
    part: Part,
    control_plane: LocalControlPlane,
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    sandbox: Sandbox,
    start_operator: Any,
) -> None:
    sandbox.awork.knobs.route_latency_ms = {"/api/v1/absences": 1500}
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace))
    op = start_operator(namespace, env={"PERSONIO_SYNC_PROGRESS_SECONDS": "0.5"})
    syncing = wait_for(kube_api, namespace, writing)
    assert condition(syncing, "Synced")["reason"] == "Syncing"  # KUBE-4

    control_plane.stop_part(part)
    try:  # the vendor work goes on without the API server
        eventually(
            lambda: len(sandbox.awork_state.absences) == PERIODS, within=60, what="all written"
        )
        eventually(lambda: "unreachable" in op.log_path.read_text(), within=60, what="noticed")
    finally:
        control_plane.restart_part(part)

    done = wait_for(kube_api, namespace, is_ready)
    assert done["status"]["lastRun"]["created"] == PERIODS  # one run did it all
    assert condition(done, "Synced")["reason"] == "Synced"
    assert "progress" not in done["status"]
    assert len(sandbox.awork_state.absences) == PERIODS
    eventually(lambda: "reachable again" in op.log_path.read_text(), within=30, what="back")
    log = op.log_path.read_text()
    assert log.count("Kubernetes API server unreachable") == 1, log
    assert log.count("Kubernetes API server reachable again") == 1, log
    assert "InternalError" not in log
    assert "Traceback" not in log, log
    assert "ERROR" not in log, log  # kopf's per-retry lines are quieted too
