"""KUBE-5: one Kubernetes configuration for the operator's client and kopf's login.

In a pod the service account (where the kubelet says the API server is), else the
kubeconfig, exec plugins (EKS, GKE, AKS) included; kopf gets the plugin's token with an
expiration, and the operator's client refreshes a rotated token for each request alone,
so concurrent workers keep working while it changes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
import yaml
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, User

from personio_sync.clients.kube import KubeClient, load_config
from personio_sync.controller.context import PERSONIO_SYNCS
from personio_sync.controller.startup.login import RELOGIN_AFTER, connection_info

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CA_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="  # passed on as is: kopf decodes it

PLUGIN = """
import json, pathlib, sys
counter = pathlib.Path(sys.argv[1])
runs = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(runs))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",
                  "kind": "ExecCredential", "status": {"token": f"plugin-token-{runs}"}}))
"""


def service_account(tmp_path: Path) -> Path:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("sa-token")
    (account / "namespace").write_text("personio-sync")
    (account / "ca.crt").write_text("not read until a request")
    return account


@pytest.mark.parametrize(
    ("host", "server"),
    [("10.96.0.1", "https://10.96.0.1:443"), ("fd00::1", "https://[fd00::1]:443")],
)
def test_kube_5_in_a_pod_the_api_server_is_where_the_kubelet_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, server: str
) -> None:
    """Not kubernetes.default.svc: a pod on the host network cannot resolve it."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    config = load_config(service_account=service_account(tmp_path))
    assert config.cluster.server == server
    assert config.user is not None and config.user.token_file is not None
    assert config.namespace == "personio-sync"


def exec_kubeconfig(tmp_path: Path, *, ca: bool = True) -> Path:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    command = {"command": sys.executable, "args": [str(plugin), str(tmp_path / "runs")]}
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", **command}}
    tls = {"certificate-authority-data": CA_DATA} if ca else {"insecure-skip-tls-verify": True}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "cloud",
        "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example:6443", **tls}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "cloud", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_kube_5_kopf_logs_in_with_the_exec_plugins_token_and_an_expiration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(exec_kubeconfig(tmp_path)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = load_config(service_account=tmp_path / "no-service-account")

    info = await connection_info(config, now=lambda: NOW)
    assert info.server == "https://k8s.example:6443" and info.ca_data == CA_DATA
    assert info.as_http_headers() == {"Authorization": "Bearer plugin-token-1"}
    assert info.expiration == NOW + RELOGIN_AFTER  # kopf logs in again before it ends

    again = await connection_info(config, now=lambda: NOW)  # kopf's re-login runs it anew
    assert again.token == "plugin-token-2"


async def test_kube_5_a_static_token_never_expires_for_kopf() -> None:
    config = one_config(User(token="static"))
    info = await connection_info(config, now=lambda: NOW)
    assert info.token == "static" and info.expiration is None


def one_config(user: User) -> SingleConfig:
    config = KubeConfig.from_one(
        cluster=Cluster(server="https://kube.test", insecure=True), user=user
    ).get()
    assert config is not None
    return config


class RotatingServer:
    """Accepts only the current token; counts what each request carried."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.seen: list[str] = []

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        sent = request.headers.get("Authorization", "")
        self.seen.append(sent)
        await asyncio.sleep(0)  # let the concurrent requests interleave
        if sent != f"Bearer {self.token}":
            return httpx2.Response(401, json={"kind": "Status", "code": 401})
        return httpx2.Response(200, json={"metadata": {"name": "creds"}, "data": {}})


async def test_kube_5_a_rotated_token_file_is_reread_while_workers_share_the_client(
    tmp_path: Path,
) -> None:
    """The kubelet rotates the service-account token: 20 concurrent reads all succeed,
    and the client stays usable (no shared connection closed under the others)."""
    token_file = tmp_path / "token"
    token_file.write_text("old")
    server = RotatingServer("old")
    kube = KubeClient(
        one_config(User(token_file=str(token_file))),
        PERSONIO_SYNCS,
        transport=httpx2.MockTransport(server),
    )
    assert await kube.get_secret("hr", "creds") is not None
    token_file.write_text("new")
    server.token = "new"
    found = await asyncio.gather(*(kube.get_secret("hr", "creds") for _ in range(20)))
    assert all(f is not None and f["metadata"]["name"] == "creds" for f in found)
    assert await kube.get_secret("hr", "creds") is not None
    assert server.seen[-1] == "Bearer new"
    await kube.close()


async def test_kube_5_the_operators_client_runs_the_exec_plugin_again_on_a_401(
    tmp_path: Path,
) -> None:
    config = KubeConfig.from_file(exec_kubeconfig(tmp_path, ca=False)).get()
    assert config is not None
    server = RotatingServer("plugin-token-1")
    kube = KubeClient(config, PERSONIO_SYNCS, transport=httpx2.MockTransport(server))
    assert await kube.get_secret("hr", "creds") is not None
    server.token = "plugin-token-2"  # the first token expired
    assert await kube.get_secret("hr", "creds") is not None
    assert server.seen == [
        "Bearer plugin-token-1",
        "Bearer plugin-token-1",
        "Bearer plugin-token-2",
    ]
    assert json.loads((tmp_path / "runs").read_text()) == 2
    await kube.close()
