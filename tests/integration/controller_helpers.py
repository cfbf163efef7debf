"""An in-memory API server for a worker or a run with the operator's real Kubernetes
client (on an httpx2 mock transport): one PersonioSync and its Secret, the Secret GETs
counted. Shared by the integration tests that run the controller over the fakes.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx2
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import Cluster, User
from runner_helpers import DEMO

from personio_sync.clients.kube import KubeClient
from personio_sync.controller.context import FINALIZER, PERSONIO_SYNCS

NOW = datetime(2026, 7, 21, 9, 0, tzinfo=UTC)  # the demo's today; the machine's date differs
HOOK_BASE = "https://hooks.example/webhooks/personio"  # PERSONIO_SYNC_WEBHOOK_BASE_URL
HOOK_URL = f"{HOOK_BASE}/hr/acme"  # what the operator registers for hr/acme (HOOK-7)
HOOK_TOKEN = "hook-token-9c2e71-0123456789abcdef-0123"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class ApiServer:
    """One PersonioSync and its Secret, as the API server holds them; counts Secret GETs."""

    def __init__(self) -> None:
        self.secret_gets = 0
        self.secret = {
            "metadata": {"namespace": "hr", "name": "acme-credentials", "resourceVersion": "3"},
            "data": {
                "personioClientId": b64(DEMO.personio_client_id),
                "personioClientSecret": b64(DEMO.personio_client_secret),
                "aworkApiKey": b64(DEMO.awork_api_key),
                "personioWebhookToken": b64(HOOK_TOKEN),
            },
        }
        webhook = {"register": True}
        spec = {"secretRef": {"name": "acme-credentials"}, "webhook": webhook}
        meta = {"namespace": "hr", "name": "acme", "uid": "u-1", "generation": 1,
                "resourceVersion": "10", "finalizers": [FINALIZER]}  # fmt: skip
        self.body: dict[str, Any] = {"metadata": meta, "spec": spec, "status": {}}

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if request.method == "GET" and "/secrets/" in path:
            self.secret_gets += 1
            return httpx2.Response(200, json=self.secret)
        assert request.method == "PATCH" and "/personiosyncs/acme" in path, path
        patch = json.loads(request.content)
        if isinstance(patch, list):  # the whole status (JSON patch)
            self.body["status"] = patch[0]["value"]
        elif path.endswith("/status"):
            self.body["status"] = {**self.body["status"], **patch["status"]}
        else:
            self.body["metadata"].update(patch.get("metadata") or {})
        meta = self.body["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        return httpx2.Response(200, json=self.body)


def kube_on(server: ApiServer) -> KubeClient:
    config = KubeConfig.from_one(
        cluster=Cluster(server="https://kube.test", insecure=True), user=User(token="t")
    ).get()
    assert config is not None
    return KubeClient(config, PERSONIO_SYNCS, transport=httpx2.MockTransport(server))
