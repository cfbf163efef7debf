"""Fixtures for tests against a real Kubernetes API server.

By default the suite starts its own etcd + kube-apiserver on 127.0.0.1 once per session
(personio_sync_testing.devtools.controlplane) and installs the CRD. An existing cluster is used
only when KUBECONFIG is set AND PERSONIO_SYNC_E2E_EXISTING_CLUSTER=1, and only if its
current context looks like a test cluster (kind, minikube, k3d, test, local, envtest) or
PERSONIO_SYNC_E2E_ALLOW_CONTEXT names it exactly.

No controllers run on the local API server, so a namespace never finishes deleting:
each test gets a fresh random namespace instead, which also keeps tests parallel-safe.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lightkube import AsyncClient, Client
from lightkube.config.kubeconfig import SingleConfig
from lightkube.resources.core_v1 import Namespace

from personio_sync.resource.crd import CRD_NAME
from personio_sync_testing.devtools.binaries import BinariesError, binaries_dir
from personio_sync_testing.devtools.controlplane import LocalControlPlane
from personio_sync_testing.devtools.kube import (
    async_client,
    check_test_context,
    create_namespace,
    kube_config,
    sync_client,
)
from personio_sync_testing.devtools.kubectl import Helm, Kubectl
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import OperatorFleet, OperatorProcess

EXISTING_ENV = "PERSONIO_SYNC_E2E_EXISTING_CLUSTER"
ALLOW_ENV = "PERSONIO_SYNC_E2E_ALLOW_CONTEXT"
ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "personiosync.yaml"
E2E_DIR = Path(__file__).parent
NAMESPACE_LABEL = "personio-sync.dev/e2e"


def _use_existing_cluster() -> bool:
    if os.environ.get(EXISTING_ENV) != "1":
        return False
    if not os.environ.get("KUBECONFIG"):
        raise pytest.UsageError(f"{EXISTING_ENV}=1 needs KUBECONFIG to name the test cluster")
    return True


def mark_tier(items: list[pytest.Item], directory: Path, *marks: str) -> None:
    """Every test under `directory` gets `marks` (the tiers under tests/ share this)."""
    for item in items:
        if directory in item.path.parents:
            for mark in marks:
                item.add_marker(getattr(pytest.mark, mark))


def build_control_plane() -> None:
    """Build missing binaries now: a cold build takes minutes and must not count against
    the first test's timeout."""
    try:
        binaries_dir()
    except BinariesError as exc:
        raise pytest.UsageError(f"cannot start the local API server: {exc}") from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is e2e, so `-m "not e2e"` never starts a cluster."""
    mark_tier(items, E2E_DIR, "e2e")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build missing binaries before any test starts."""
    wanted = any(item.get_closest_marker("e2e") for item in session.items)
    if wanted and not _use_existing_cluster() and not session.config.option.collectonly:
        build_control_plane()


@dataclass(frozen=True)
class Cluster:
    """The API server the e2e tests talk to."""

    kubeconfig: Path
    config: SingleConfig  # for lightkube's clients
    local: bool


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if _use_existing_cluster():
        kubeconfig = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
        config = kube_config(kubeconfig)
        check_test_context(config, os.environ.get(ALLOW_ENV))
        yield from _with_crd(Cluster(kubeconfig, config, local=False))
        return
    with LocalControlPlane() as cp:
        yield from _with_crd(Cluster(cp.kubeconfig, cp.config(), local=True))


def _with_crd(cluster: Cluster) -> Iterator[Cluster]:
    kubectl = Kubectl(cluster.kubeconfig)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    yield cluster


@pytest.fixture(scope="session")
def kubeconfig(cluster: Cluster) -> Path:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    """`kubectl("get", "psync", "-n", ns)` → stdout; raises CommandError with stderr."""
    return Kubectl(cluster.kubeconfig)


@pytest.fixture(scope="session")
def helm(cluster: Cluster) -> Helm:
    return Helm(cluster.kubeconfig, binaries_dir() / "helm")


@pytest.fixture(scope="session")
def kube_api(cluster: Cluster) -> Iterator[Client]:
    """lightkube's sync client: `kube_api.get(PersonioSync, "team", namespace=ns)`."""
    with sync_client(cluster.config) as api:
        yield api


@pytest.fixture
async def async_kube_api(cluster: Cluster) -> AsyncIterator[AsyncClient]:
    async with async_client(cluster.config) as api:
        yield api


@pytest.fixture
def namespace(request: pytest.FixtureRequest, cluster: Cluster, kube_api: Client) -> Iterator[str]:
    """A fresh namespace per test, named after it; never waited for on the way out."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"e2e-{slug}-{secrets.token_hex(3)}"
    create_namespace(kube_api, name, labels={NAMESPACE_LABEL: "true"})
    yield name
    if not cluster.local:
        # A real cluster finishes the deletion on its own; the local one never would.
        kube_api.delete(Namespace, name)


@pytest.fixture
def start_operator(
    request: pytest.FixtureRequest, kubeconfig: Path, sandbox: Sandbox, tmp_path: Path
) -> Iterator[Callable[..., OperatorProcess]]:
    """Operators as real processes against the test module's own `sandbox` fixture.

    Once they are stopped, none of the module's `CREDENTIAL_VALUES` (if it names any)
    may appear in their logs (R21).
    """
    fleet = OperatorFleet(kubeconfig, sandbox.personio_url, sandbox.awork_url, tmp_path)
    yield fleet.start
    print(fleet.stop_all())
    logs = fleet.full_logs()
    leaked = [v for v in getattr(request.module, "CREDENTIAL_VALUES", ()) if v in logs]
    assert not leaked, "R21: a credential reached the operator's log"
