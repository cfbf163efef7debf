"""The Kubernetes API calls kopf does not make for us: Secrets, status, finalizer, Lease.

kopf watches and posts events; the sync workers run outside kopf's handler cycle, so
they read Secrets and write status themselves, through lightkube (docs/kubernetes-client.md):
its configuration (service account in a pod, else KUBECONFIG or ~/.kube/config, exec
plugins included) is the one kopf logs in with (controller/login.py). Token refresh is
lightkube's httpx2 auth flow: a 401 re-reads the service-account token file or re-runs
the exec plugin for that request alone, so concurrent workers never see a client torn
down under them. A client built with a `fence` calls it with the resource's namespace
and name before every write of that resource, so a replica that lost the Lease of the
resource's shard writes nothing to it (SHARD-4).

The control plane is not the vendor: a dropped connection, a timeout or a 5xx/429 from
the API server (etcd down answers 500/504) is a `KubeUnavailable`, never a library
error, so callers can tell "Kubernetes is away" from "our bug". The client logs one line
when the API server stops answering and one when it answers again, not one per call.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx2
from lightkube import AsyncClient
from lightkube.config.client_adapter import user_auth
from lightkube.config.kubeconfig import SERVICE_ACCOUNT, KubeConfig, SingleConfig
from lightkube.config.models import User
from lightkube.core.exceptions import ConfigError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Secret
from lightkube.types import PatchType

from personio_sync.errors import KubeConflict, KubeError, KubeUnavailable, clip

log = logging.getLogger("personio_sync.kube")

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0  # an API server back after a restart is noticed within this


@dataclass(frozen=True)
class CustomResource:
    """The namespaced custom resource whose status and metadata the client writes."""

    group: str
    version: str
    kind: str
    plural: str


def load_config(
    context: str | None = None, *, service_account: str | os.PathLike[str] = SERVICE_ACCOUNT
) -> SingleConfig:
    """In a pod its service account (the API server where KUBERNETES_SERVICE_HOST/PORT
    say, as client-go reads it: a pod on the host network cannot resolve
    kubernetes.default.svc), else the kubeconfig named by KUBECONFIG or ~/.kube/config,
    in its current context unless one is named."""
    config = KubeConfig.from_env(service_account=service_account).get(context)
    if config is None:  # only without a context and without a default: not reached
        raise ConfigError("the kubeconfig names no context")
    return config


async def authorization(config: SingleConfig) -> str | None:
    """The Authorization header lightkube sends with this configuration, fetched afresh
    (an exec plugin runs now; a token file is read now): for kopf's login."""
    auth = user_auth(config.user) if config.user is not None else None
    if auth is None:
        return None
    flow = auth.async_auth_flow(httpx2.Request("GET", config.cluster.server))
    try:
        request = await anext(flow)
    finally:
        await flow.aclose()
    return request.headers.get("Authorization")


def _unavailable_status(code: int) -> bool:
    return code >= 500 or code == 429


def _status_error(exc: BaseException) -> httpx2.HTTPStatusError | None:
    """The error answer behind `exc`: lightkube raises KeyError while translating an error
    answer that has no Content-Type (a proxy's bare 502), with the answer as context."""
    context = exc if isinstance(exc, httpx2.HTTPStatusError) else exc.__context__
    return context if isinstance(context, httpx2.HTTPStatusError) else None


class KubeClient:
    """Typed-enough access to the handful of endpoints the workers need; plain dicts out."""

    def __init__(
        self,
        config: SingleConfig,
        resource: CustomResource,
        *,
        timeout: float = 10.0,  # etcd down makes the API server hang: notice it soon
        transport: httpx2.AsyncBaseTransport | None = None,  # tests inject one
        fence: Callable[[str, str], None] | None = None,  # (namespace, name) of the write
    ) -> None:
        if config.user is None:  # a context without a user (a local proxy): lightkube wants one
            config = config._replace(user=User())
        self._api = AsyncClient(config, timeout=httpx2.Timeout(timeout), transport=transport)
        self._resource = create_namespaced_resource(
            resource.group, resource.version, resource.kind, resource.plural
        )
        self._fence = fence
        self.available = True  # as of the last call; flips are logged once each

    async def close(self) -> None:
        await self._api.close()

    async def _call(self, where: str, call: Callable[[], Awaitable[Any]]) -> dict[str, Any] | None:
        """`call()`'s object as a dict (None: 404), its failures as KubeError kinds."""
        where = f"Kubernetes API {where}"
        try:
            found = await call()
        except (httpx2.HTTPStatusError, KeyError) as exc:
            answer = _status_error(exc)
            if answer is None:
                raise
            self._answered(where, answer.response)
            return None
        except httpx2.HTTPError as exc:  # refused, reset, timed out: no answer at all
            self._mark(available=False, why=type(exc).__name__)
            raise KubeUnavailable(f"{where}: no answer ({type(exc).__name__})", 0) from exc
        except ConfigError as exc:  # the exec plugin or token file failed: we cannot ask
            self._mark(available=False, why="login failed")
            raise KubeUnavailable(f"{where}: login failed ({clip(str(exc), 300)})", 0) from None
        except ValueError:  # cut short by a server going down mid-answer
            self._mark(available=False, why="unreadable answer")
            raise KubeUnavailable(f"{where}: unreadable answer", 0) from None
        self._mark(available=True, why="")
        body: dict[str, Any] = found.to_dict()
        return body

    def _answered(self, where: str, response: httpx2.Response) -> None:
        """Raise for an error answer; return for 404 (the object is not there)."""
        code = response.status_code
        if _unavailable_status(code):
            self._mark(available=False, why=f"HTTP {code}")
            raise KubeUnavailable(f"{where}: {code} {clip(response.text, 300)}", code)
        self._mark(available=True, why="")
        if code == 404:
            return
        kind = KubeConflict if code == 409 else KubeError
        raise kind(f"{where}: {code} {clip(response.text, 300)}", code)

    def _mark(self, *, available: bool, why: str) -> None:
        """One log line per change of state, however many calls fail or succeed."""
        if available == self.available:
            return
        self.available = available
        if available:
            log.info("Kubernetes API server reachable again")
        else:
            log.warning("Kubernetes API server unreachable (%s); retrying quietly", why)

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._call(
            f"GET secrets {namespace}/{name}",
            lambda: self._api.get(Secret, name, namespace=namespace),
        )

    async def get_namespace(self, name: str) -> dict[str, Any] | None:
        return await self._call(f"GET namespaces {name}", lambda: self._api.get(Namespace, name))

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._call(
            f"GET leases {namespace}/{name}",
            lambda: self._api.get(Lease, name, namespace=namespace),
        )

    async def list_leases(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """The Leases carrying all of `labels` (one quorum read)."""

        async def listed() -> _Items:
            found = self._api.list(Lease, namespace=namespace, labels=dict(labels))
            return _Items([lease.to_dict() async for lease in found])

        listing = await self._call(f"LIST leases {namespace}", listed)
        return list((listing or {}).get("items") or [])

    async def delete_lease(self, namespace: str, name: str) -> None:
        """Gone already is fine."""

        async def deleted() -> _Items:
            await self._api.delete(Lease, name, namespace=namespace)
            return _Items([])

        await self._call(f"DELETE leases {namespace}/{name}", deleted)

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST; 409 (KubeConflict) when another replica created it first."""
        lease = _lease(namespace, None, body)
        where = f"POST leases {namespace}"
        return _required(where, await self._call(where, lambda: self._api.create(lease)))

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT guarded by body's resourceVersion: 409 (KubeConflict) if it changed meanwhile."""
        lease = _lease(namespace, name, body)
        where = f"PUT leases {namespace}/{name}"
        return _required(where, await self._call(where, lambda: self._api.replace(lease)))

    async def replace_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Write the whole status: ours alone, so no merge with stale keys (None: gone)."""
        ops = [{"op": "add", "path": "/status", "value": dict(status)}]
        return await self._patch(namespace, name, ops, PatchType.JSON, status=True)

    async def merge_status(
        self, namespace: str, name: str, partial: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        body = {"status": dict(partial)}
        return await self._patch(namespace, name, body, PatchType.MERGE, status=True)

    async def patch_resource(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the resource itself (metadata: finalizers, annotations)."""
        return await self._patch(namespace, name, dict(patch), PatchType.MERGE, status=False)

    async def _patch(
        self, namespace: str, name: str, body: Any, patch_type: PatchType, *, status: bool
    ) -> dict[str, Any] | None:
        if self._fence is not None:
            self._fence(namespace, name)
        res = self._resource.Status if status else self._resource
        where = f"PATCH {self._resource.__name__}{'/status' if status else ''} {namespace}/{name}"
        return await self._call(
            where,
            lambda: self._api.patch(res, name, body, namespace=namespace, patch_type=patch_type),
        )


@dataclass(frozen=True)
class _Items:
    """A list answer in the shape `_call` expects of an object."""

    items: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items}


def _lease(namespace: str, name: str | None, body: Mapping[str, Any]) -> Lease:
    """The typed Lease lightkube sends; it takes namespace and name from the metadata."""
    meta = {**(body.get("metadata") or {}), "namespace": namespace}
    if name is not None:
        meta["name"] = name
    return cast(Lease, Lease.from_dict({**body, "metadata": meta}))


def _required(where: str, found: dict[str, Any] | None) -> dict[str, Any]:
    if found is None:
        raise KubeError(f"Kubernetes API {where}: 404", 404)
    return found


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
