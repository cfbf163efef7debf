"""Every kopf handler of the operator, in one place (style #2: handlers only translate).

kopf watches PersonioSyncs and the Secrets they reference and hands each event to
the supervisor; the workers do the rest. An index maps Secrets to the resources that
reference them, so the Secret watch reacts only to those (no polling, R17).
kopf keeps its own bookkeeping in annotations: `.status` is ours alone.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf

from personio_sync.controller.context import Context
from personio_sync.controller.httpserver import HealthServer
from personio_sync.controller.kube import KubeClient
from personio_sync.controller.metrics import Metrics
from personio_sync.controller.peering import PeeringConfig, PeeringGate
from personio_sync.controller.supervisor import Supervisor
from personio_sync.settings import OperatorSettings
from personio_sync.spec import API_GROUP, API_VERSION, PLURAL

registry = kopf.OperatorRegistry()


@dataclass
class Runtime:
    """What on.startup builds and the other handlers use (kept in kopf's memo)."""

    ctx: Context
    supervisor: Supervisor
    server: HealthServer


def runtime(memo: Any) -> Runtime:
    return cast(Runtime, memo.runtime)


def connection(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    """In a pod the service account, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    info = kopf.login_with_service_account(settings=settings)
    if info is not None:
        return dataclasses.replace(info, server=in_cluster_server(os.environ) or info.server)
    return kopf.login_with_kubeconfig(settings=settings)


def in_cluster_server(environ: Mapping[str, str]) -> str | None:
    """The API server the kubelet names in every container, as client-go reads it.

    kopf's service-account login always uses https://kubernetes.default.svc, a cluster
    DNS name that a pod on the host network, or one without cluster DNS, cannot resolve.
    This is Kubernetes' in-cluster contract, not operator configuration (R22), so it is
    read here rather than through the settings object.
    """
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Annotations for kopf's state (the CRD prunes unknown status fields anyway)."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=API_GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=API_GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{API_GROUP}/kopf"
    settings.posting.level = logging.WARNING
    # Events name personio-sync, not kopf, as their source (`kubectl describe`'s "From").
    settings.posting.reporting_component = "personio-sync"
    settings.posting.reporting_instance = socket.gethostname()  # the pod's name in a pod
    settings.posting.event_name_prefix = "personio-sync-"
    # The CRD is installed before the operator (chart, demo, tests), and the chart grants
    # no list on namespaces or CRDs: without this kopf retries 403s for ~a minute first.
    settings.scanning.disabled = True
    # Watches that end on the server's side reconnect cleanly instead of hanging.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30


@kopf.on.login(registry=registry)
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
    return connection(settings)


@kopf.on.startup(registry=registry)
async def start(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    configure_kopf(settings)
    ours: OperatorSettings = memo.settings

    async def relogin() -> kopf.ConnectionInfo:
        info = connection(settings)
        if info is None:
            raise kopf.LoginError("no service account and no kubeconfig to log in with")
        return info

    metrics = Metrics()
    kube = KubeClient(relogin)
    peering: PeeringConfig | None = memo.peering
    ctx = Context(
        settings=ours,
        kube=kube,
        metrics=metrics,
        slots=asyncio.Semaphore(ours.max_concurrent_syncs),
        gate=PeeringGate(kube, peering) if peering else None,
    )
    server = HealthServer(metrics, healthy=lambda: ctx.started)
    await server.start(ours.http_host, ours.http_port)
    memo.runtime = Runtime(ctx=ctx, supervisor=Supervisor(ctx), server=server)
    ctx.started = True


@kopf.on.cleanup(registry=registry)
async def stop(memo: Any, **_: Any) -> None:
    rt = runtime(memo)
    await rt.supervisor.stop()
    await rt.server.stop()
    await rt.ctx.kube.close()


@kopf.index(API_GROUP, API_VERSION, PLURAL, registry=registry)
def secret_refs(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str | None, str], str]:
    """(namespace, Secret name) → names of the PersonioSyncs that reference it."""
    secret = (spec.get("secretRef") or {}).get("name")
    return {(namespace, str(secret)): name} if secret else {}


def _referenced(namespace: str | None, name: str, **kwargs: Any) -> bool:
    refs: kopf.Index[Any, Any] = kwargs["secret_refs"]
    return (namespace, name) in refs


@kopf.on.event(API_GROUP, API_VERSION, PLURAL, registry=registry)
async def resource_event(event: kopf.RawEvent, body: kopf.Body, memo: Any, **_: Any) -> None:
    # A deep copy: kopf updates its body views in place as newer events arrive.
    runtime(memo).supervisor.observe(event.get("type"), copy.deepcopy(dict(body)))


@kopf.on.event("v1", "secrets", when=_referenced, registry=registry)
async def secret_event(
    event: kopf.RawEvent,
    namespace: str | None,
    name: str,
    meta: kopf.Meta,
    memo: Any,
    **kwargs: Any,
) -> None:
    refs: kopf.Index[Any, Any] = kwargs["secret_refs"]
    version = None if event.get("type") == "DELETED" else meta.get("resourceVersion")
    owners = [str(owner) for owner in refs.get((namespace, name), [])]
    runtime(memo).supervisor.secret_seen(str(namespace), name, owners, version)
