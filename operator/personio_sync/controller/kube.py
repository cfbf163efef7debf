"""The few Kubernetes API calls kopf does not make for us: Secrets, status, finalizer, Lease.

kopf watches and posts events; the sync workers run outside kopf's handler cycle, so
they read Secrets and write status themselves over httpx, with the same credentials
kopf resolves at login (the same login functions, called again on a 401). No `kubernetes`
package: a handful of endpoints do not justify it. A client built with a `fence` calls
it before every write, so a replica that lost the leader Lease writes nothing.

The control plane is not the vendor: a dropped connection, a timeout or a 5xx/429 from
the API server (etcd down answers 500/504) is a `KubeUnavailable`, never a bare httpx
error, so callers can tell "Kubernetes is away" from "our bug". The client logs one line
when the API server stops answering and one when it answers again, not one per call.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import kopf

from personio_sync.errors import clip
from personio_sync.resource.spec import API_GROUP, API_VERSION, PLURAL

log = logging.getLogger("personio_sync.controller")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"

Login = Callable[[], Awaitable[kopf.ConnectionInfo]]
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0  # an API server back after a restart is noticed within this


class KubeError(Exception):
    """An API server answer we cannot work with; the message names the call, never a token."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class KubeConflict(KubeError):
    """409: the object changed under us (optimistic concurrency); re-read and retry."""


class KubeUnavailable(KubeError):
    """The API server (or etcd behind it) did not answer usefully: retry later (status 0:
    no answer at all)."""


def _unavailable_status(code: int) -> bool:
    return code >= 500 or code == 429


def _decoded(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw  # already PEM


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    """TLS settings from a kopf ConnectionInfo (kubeconfig or service account)."""
    if info.insecure:
        return False
    ca_path = os.fsdecode(info.ca_path) if info.ca_path else None
    ca_data = _decoded(info.ca_data).decode() if info.ca_data else None
    context = ssl.create_default_context(cafile=ca_path, cadata=ca_data)
    cert, key = info.certificate_path, info.private_key_path
    if info.certificate_data or info.private_key_data:
        with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain needs files
            cert = cert or _write(tmp, "cert.pem", info.certificate_data)
            key = key or _write(tmp, "key.pem", info.private_key_data)
            if cert:
                context.load_cert_chain(os.fsdecode(cert), os.fsdecode(key) if key else None)
    elif cert:
        context.load_cert_chain(os.fsdecode(cert), os.fsdecode(key) if key else None)
    return context


def _write(directory: str, name: str, data: str | bytes | None) -> str | None:
    if not data:
        return None
    path = os.path.join(directory, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
        handle.write(_decoded(data))
    return path


def auth_headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    if info.token:
        return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"}
    if info.username and info.password:
        pair = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


class KubeClient:
    """Typed-enough access to the handful of endpoints the workers need."""

    def __init__(
        self,
        login: Login,
        *,
        timeout: float = 10.0,  # etcd down makes the API server hang: notice it soon
        transport: httpx.AsyncBaseTransport | None = None,  # tests inject one
        fence: Callable[[], None] | None = None,
    ) -> None:
        self._login = login
        self._timeout = timeout
        self._transport = transport
        self._fence = fence
        self._http: httpx.AsyncClient | None = None
        self.available = True  # as of the last call; flips are logged once each

    async def _client(self, refresh: bool = False) -> httpx.AsyncClient:
        if self._http is None or refresh:
            info = await self._login()
            if self._http is not None:
                await self._http.aclose()
            self._http = httpx.AsyncClient(
                base_url=info.server.rstrip("/"),
                verify=ssl_context(info),
                headers=auth_headers(info),
                timeout=self._timeout,
                transport=self._transport,
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        where = f"Kubernetes API {method} {path.split('?')[0]}"
        try:
            http = await self._client()
            response = await http.request(method, path, **kwargs)
            if response.status_code == 401:  # token rotated (service account): log in again
                http = await self._client(refresh=True)
                response = await http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:  # refused, reset, timed out: no answer at all
            self._mark(available=False, why=type(exc).__name__)
            raise KubeUnavailable(f"{where}: no answer ({type(exc).__name__})", 0) from exc
        if _unavailable_status(response.status_code):
            self._mark(available=False, why=f"HTTP {response.status_code}")
            raise KubeUnavailable(
                f"{where}: {response.status_code} {clip(response.text, 300)}",
                response.status_code,
            )
        self._mark(available=True, why="")
        return response

    def _mark(self, *, available: bool, why: str) -> None:
        """One log line per change of state, however many calls fail or succeed."""
        if available == self.available:
            return
        self.available = available
        if available:
            log.info("Kubernetes API server reachable again")
        else:
            log.warning("Kubernetes API server unreachable (%s); retrying quietly", why)

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        response = await self._send(method, path, **kwargs)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            kind = KubeConflict if response.status_code == 409 else KubeError
            raise kind(
                f"Kubernetes API {method} {path.split('?')[0]}: {response.status_code} "
                f"{clip(response.text, 300)}",
                response.status_code,
            )
        try:
            body: dict[str, Any] = response.json()
        except ValueError:  # cut short by a server going down mid-answer
            raise KubeUnavailable(f"Kubernetes API {method}: unreadable answer", 0) from None
        return body

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json("GET", f"/api/v1/namespaces/{_q(namespace)}/secrets/{_q(name)}")

    async def get_namespace(self, name: str) -> dict[str, Any] | None:
        return await self._json("GET", f"/api/v1/namespaces/{_q(name)}")

    async def get_resource(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json("GET", _resource_path(namespace, name))

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._json("GET", f"{LEASES.format(namespace=_q(namespace))}/{_q(name)}")

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST; 409 (KubeConflict) when another replica created it first."""
        path = LEASES.format(namespace=_q(namespace))
        return await self._required("POST", path, json=dict(body))

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT guarded by body's resourceVersion: 409 (KubeConflict) if it changed meanwhile."""
        path = f"{LEASES.format(namespace=_q(namespace))}/{_q(name)}"
        return await self._required("PUT", path, json=dict(body))

    async def _required(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        found = await self._json(method, path, **kwargs)
        if found is None:
            raise KubeError(f"Kubernetes API {method} {path}: 404", 404)
        return found

    async def replace_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Write the whole status: ours alone, so no merge with stale keys (None: gone)."""
        ops = [{"op": "add", "path": "/status", "value": dict(status)}]
        return await self._patch(_resource_path(namespace, name) + "/status", ops, JSON_PATCH)

    async def merge_status(
        self, namespace: str, name: str, partial: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        body = {"status": dict(partial)}
        return await self._patch(_resource_path(namespace, name) + "/status", body, MERGE_PATCH)

    async def patch_resource(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the resource itself (metadata: finalizers, annotations)."""
        return await self._patch(_resource_path(namespace, name), dict(patch), MERGE_PATCH)

    async def _patch(self, path: str, body: object, content_type: str) -> dict[str, Any] | None:
        if self._fence is not None:
            self._fence()
        return await self._json("PATCH", path, json=body, headers={"Content-Type": content_type})


async def until_answered(
    call: Callable[[], Awaitable[T]],
    *,
    sleep: Sleep = asyncio.sleep,
    first: float = RETRY_FIRST_SECONDS,
    cap: float = RETRY_MAX_SECONDS,
) -> T:
    """`call()`, retried with back-off while the API server is unavailable (KUBE-2).

    Only `KubeUnavailable` is retried: a 4xx is a definite answer. There is no attempt
    limit: the caller's task is cancelled at shutdown (or by the run deadline), which
    ends the wait; the client logs the outage once, so the retries here are silent."""
    delay = first
    while True:
        try:
            return await call()
        except KubeUnavailable:
            await sleep(delay)
            delay = min(cap, delay * 2)


def _q(part: str) -> str:
    return quote(part, safe="")


def _resource_path(namespace: str, name: str) -> str:
    return f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{_q(namespace)}/{PLURAL}/{_q(name)}"


def finalizer_patch(
    body: Mapping[str, Any], finalizer: str, present: bool
) -> dict[str, Any] | None:
    """Merge patch adding or removing one finalizer (None: nothing to do).

    A merge patch replaces the whole list, so it carries the resourceVersion it was
    computed from: the API server answers 409 if another writer changed it meanwhile."""
    meta = body.get("metadata") or {}
    current = list(meta.get("finalizers") or [])
    if present == (finalizer in current):
        return None
    wanted = [*current, finalizer] if present else [f for f in current if f != finalizer]
    return {"metadata": {"resourceVersion": meta.get("resourceVersion"), "finalizers": wanted}}


def annotation_patch(values: Mapping[str, str]) -> dict[str, Any]:
    return {"metadata": {"annotations": dict(values)}}
