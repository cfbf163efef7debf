"""The e2e suite's safety guard and kubeconfig reading (no cluster needed).

The guard is what keeps `pytest` from creating namespaces in a production cluster that
happens to be the developer's current context.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from personio_sync_testing.devtools.kubeapi import (
    Credentials,
    KubeconfigError,
    check_test_context,
    looks_like_test_context,
)
from personio_sync_testing.devtools.polling import Timeout, eventually, eventually_async


@pytest.mark.parametrize(
    "name", ["kind-dev", "minikube", "k3d-ci", "my-test", "docker-desktop-local", "envtest"]
)
def test_test_cluster_names_are_recognised(name: str) -> None:
    assert looks_like_test_context(name)


@pytest.mark.parametrize("name", ["prod", "gke_acme_europe-west3_main", "arn:aws:eks:eu:1:x"])
def test_other_clusters_are_refused_without_explicit_opt_in(name: str) -> None:
    creds = Credentials(server="https://k8s.example", context=name, token="t")
    with pytest.raises(KubeconfigError, match="PERSONIO_SYNC_E2E_ALLOW_CONTEXT="):
        check_test_context(creds, allowed=None)
    with pytest.raises(KubeconfigError):
        check_test_context(creds, allowed="some-other-context")
    check_test_context(creds, allowed=name)  # the exact name is the explicit opt-in


def write_kubeconfig(tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any]) -> Path:
    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "kind-x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "kind-x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def test_kubeconfig_with_token_and_ca_data(tmp_path: Path) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    path = write_kubeconfig(tmp_path, {"token": "s3cr3t"}, {"certificate-authority-data": ca})
    creds = Credentials.from_kubeconfig(path)
    assert (creds.server, creds.context, creds.token) == (
        "https://127.0.0.1:6443",
        "kind-x",
        "s3cr3t",
    )
    assert creds.ca_file is not None and creds.ca_file.read_bytes().startswith(b"-----BEGIN")
    assert "s3cr3t" not in repr(creds)


def test_kubeconfig_relative_ca_path_and_insecure(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path,
        {"token": "t"},
        {"certificate-authority": "ca.crt", "insecure-skip-tls-verify": True},
    )
    creds = Credentials.from_kubeconfig(path)
    assert creds.ca_file == tmp_path / "ca.crt"
    assert creds.insecure and creds.ssl_context() is False


def test_kubeconfig_with_exec_plugin_is_refused(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path, {"exec": {"command": "aws"}}, {})
    with pytest.raises(KubeconfigError, match="plugin"):
        Credentials.from_kubeconfig(path)


def test_kubeconfig_unknown_context(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path, {"token": "t"}, {})
    with pytest.raises(KubeconfigError, match="no entry 'nope' in contexts"):
        Credentials.from_kubeconfig(path, context="nope")


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
