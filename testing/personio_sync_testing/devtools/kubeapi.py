"""A small Kubernetes API client for tests and dev tools: httpx plus a kubeconfig.

Tests need a handful of raw API calls (create a namespace, patch a status, read an
object back) without the `kubernetes` package; kopf's own client is internal to kopf.
Both a sync and an async flavour share one credential loader, so the e2e suite, the
operator's tests and hack/demo.py talk to the cluster the same way.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from personio_sync.resource.spec import API_GROUP, API_VERSION, PLURAL

TEST_CONTEXT_HINTS = ("kind", "minikube", "k3d", "test", "local", "envtest")


class KubeApiError(RuntimeError):
    """A non-2xx answer; `status`/`reason` come from the API server's Status object."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message names the entry to fix."""


@dataclass(frozen=True)
class Credentials:
    """How to reach one API server. `repr` hides the token."""

    server: str
    context: str = ""
    token: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    insecure: bool = False
    client_cert: tuple[Path, Path] | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None = None) -> Credentials:
        """Read a kubeconfig (token or client-certificate users; exec plugins are refused)."""
        config = yaml.safe_load(path.read_text()) or {}
        name = context or config.get("current-context") or ""
        ctx = _named(config, "contexts", name, path)["context"]
        cluster = _named(config, "clusters", ctx["cluster"], path)["cluster"]
        user = _named(config, "users", ctx["user"], path).get("user") or {}
        if "exec" in user or "auth-provider" in user:
            raise KubeconfigError(f"{path}: user {ctx['user']!r} needs a plugin; use a token")
        return cls(
            server=cluster["server"].rstrip("/"),
            context=name,
            token=user.get("token"),
            ca_file=_file(cluster, "certificate-authority", path),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            client_cert=_client_cert(user, path),
        )

    def httpx_options(self) -> dict[str, Any]:
        """Keyword arguments for httpx.Client / AsyncClient."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {"base_url": self.server, "headers": headers, "verify": self.ssl_context()}

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.client_cert:
            ctx.load_cert_chain(str(self.client_cert[0]), str(self.client_cert[1]))
        return ctx


def looks_like_test_context(name: str) -> bool:
    """True for context names such as kind-x, minikube, k3d-dev, envtest, docker-local."""
    lowered = name.lower()
    return any(hint in lowered for hint in TEST_CONTEXT_HINTS)


def check_test_context(creds: Credentials, allowed: str | None) -> None:
    """Refuse to run destructive tests against a cluster that is not clearly a test cluster.

    `allowed` is the explicit opt-in: the exact context name the user accepts.
    """
    if looks_like_test_context(creds.context) or (allowed and allowed == creds.context):
        return
    raise KubeconfigError(
        f"refusing to run tests against context {creds.context!r} ({creds.server}): its name "
        f"contains none of {', '.join(TEST_CONTEXT_HINTS)}. If it really is a test cluster, "
        f"set PERSONIO_SYNC_E2E_ALLOW_CONTEXT={creds.context}"
    )


def _named(config: dict[str, Any], kind: str, name: str, path: Path) -> dict[str, Any]:
    for entry in config.get(kind) or []:
        if entry.get("name") == name:
            return dict(entry)
    raise KubeconfigError(f"{path}: no entry {name!r} in {kind}")


def _file(entry: dict[str, Any], key: str, path: Path) -> Path | None:
    """`key` as a path (relative to the kubeconfig) or `key-data` written to a temp file."""
    if entry.get(key):
        return (path.parent / str(entry[key])).resolve()
    data = entry.get(f"{key}-data")
    if not data:
        return None
    fd, name = tempfile.mkstemp(prefix="personio-sync-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64decode(data))
    return Path(name)


def _client_cert(user: dict[str, Any], path: Path) -> tuple[Path, Path] | None:
    cert = _file(user, "client-certificate", path)
    key = _file(user, "client-key", path)
    return (cert, key) if cert and key else None


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        reason, message = str(body.get("reason", "")), str(body.get("message", response.text))
    except ValueError:
        reason, message = "", response.text
    raise KubeApiError(response.status_code, reason or response.reason_phrase, message)


def _decode(response: httpx.Response) -> dict[str, Any]:
    _raise_for_status(response)
    return dict(response.json()) if response.content else {}


MERGE_PATCH = "application/merge-patch+json"


def _request_args(
    body: dict[str, Any] | None, patch_type: str | None, params: dict[str, str] | None
) -> dict[str, Any]:
    args: dict[str, Any] = {"params": params}
    if body is not None:
        args["json"] = body
    if patch_type:
        args["headers"] = {"Content-Type": patch_type}
    return args


def psync_path(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    """API path of PersonioSyncs in `namespace` (or one of them, or its status)."""
    path = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


class KubeApi:
    """Synchronous raw API access: `api.get("/api/v1/namespaces")` → decoded JSON."""

    def __init__(self, creds: Credentials, timeout: float = 30.0) -> None:
        self.creds = creds
        self._client = httpx.Client(timeout=timeout, **creds.httpx_options())

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        patch_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self._client.request(method, path, **_request_args(body, patch_type, params))
        return _decode(response)

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        return self.request("POST", path, body, params=params or None)

    def patch(
        self, path: str, body: dict[str, Any], patch_type: str = MERGE_PATCH
    ) -> dict[str, Any]:
        return self.request("PATCH", path, body, patch_type=patch_type)

    def delete(self, path: str) -> dict[str, Any]:
        return self.request("DELETE", path)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncKubeApi:
    """The same calls as KubeApi, awaitable (for tests that also run the operator)."""

    def __init__(self, creds: Credentials, timeout: float = 30.0) -> None:
        self.creds = creds
        self._client = httpx.AsyncClient(timeout=timeout, **creds.httpx_options())

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        patch_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        args = _request_args(body, patch_type, params)
        return _decode(await self._client.request(method, path, **args))

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        return await self.request("POST", path, body, params=params or None)

    async def patch(
        self, path: str, body: dict[str, Any], patch_type: str = MERGE_PATCH
    ) -> dict[str, Any]:
        return await self.request("PATCH", path, body, patch_type=patch_type)

    async def delete(self, path: str) -> dict[str, Any]:
        return await self.request("DELETE", path)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncKubeApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
