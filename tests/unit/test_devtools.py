"""The e2e suite's safety guard and kubeconfig reading (no cluster needed).

The guard is what keeps `pytest` from creating namespaces in a production cluster that
happens to be the developer's current context.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from personio_sync_testing.devtools.kube import (
    KubeconfigError,
    check_test_context,
    kube_config,
    looks_like_test_context,
)
from personio_sync_testing.devtools.polling import Timeout, eventually, eventually_async


@pytest.mark.parametrize(
    "name", ["kind-dev", "minikube", "k3d-ci", "my-test", "docker-desktop-local", "envtest"]
)
def test_test_cluster_names_are_recognised(name: str) -> None:
    assert looks_like_test_context(name)


@pytest.mark.parametrize("name", ["prod", "gke_acme_europe-west3_main", "arn:aws:eks:eu:1:x"])
def test_other_clusters_are_refused_without_explicit_opt_in(tmp_path: Path, name: str) -> None:
    config = kube_config(write_kubeconfig(tmp_path, {"token": "t"}, {}, context=name))
    with pytest.raises(KubeconfigError, match="PERSONIO_SYNC_E2E_ALLOW_CONTEXT="):
        check_test_context(config, allowed=None)
    with pytest.raises(KubeconfigError):
        check_test_context(config, allowed="some-other-context")
    check_test_context(config, allowed=name)  # the exact name is the explicit opt-in


def write_kubeconfig(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any], context: str = "kind-x"
) -> Path:
    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "current-context": context,
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def test_kubeconfig_relative_ca_path_is_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path, {"token": "t"}, {"certificate-authority": "ca.crt"})
    config = kube_config(path)
    assert config.context_name == "kind-x" and config.cluster.server == "https://127.0.0.1:6443"
    assert config.cluster.certificate_auth is not None
    assert config.abs_file(config.cluster.certificate_auth) == tmp_path / "ca.crt"


def test_kubeconfig_with_exec_plugin_is_accepted(tmp_path: Path) -> None:
    """Tests reach EKS/GKE/AKS test clusters as the operator does (lightkube runs it)."""
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}}
    config = kube_config(write_kubeconfig(tmp_path, exec_user, {}))
    assert config.user is not None and config.user.exec is not None


def test_kubeconfig_unknown_context(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path, {"token": "t"}, {})
    with pytest.raises(KubeconfigError, match="nope"):
        kube_config(path, context="nope")


def test_eventually_returns_the_value_or_reports_the_last_failure() -> None:
    calls = iter([None, 0, 42])
    assert eventually(lambda: next(calls), within=5, interval=0) == 42

    def never() -> int:
        raise KeyError("status")

    with pytest.raises(Timeout, match=r"ready not met within 0\.05s; last: KeyError"):
        eventually(never, within=0.05, interval=0.01, what="ready")


@pytest.mark.looptime
async def test_eventually_async_polls_plain_and_coroutine_checks_on_the_loop_clock() -> None:
    loop = asyncio.get_running_loop()
    plain = iter([None, 0, 7])
    assert await eventually_async(lambda: next(plain), within=5, interval=1) == 7
    assert loop.time() == pytest.approx(2.0, abs=0.01)  # two waits of one interval

    async def slowly_ready() -> str:
        await asyncio.sleep(1)
        raise KeyError("status")

    with pytest.raises(Timeout, match=r"synced not met within 10s; last: KeyError"):
        await eventually_async(slowly_ready, within=10, interval=1, what="synced")
    assert loop.time() == pytest.approx(2.0 + 10.0, abs=1.01)
