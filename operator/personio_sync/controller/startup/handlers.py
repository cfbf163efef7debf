"""Every kopf handler of the operator, in one place (style #2: handlers only translate).

kopf watches PersonioSyncs and hands each event to the supervisor; the workers do the
rest. Secrets are not watched, listed or cached (SEC-1): the operator may only `get` the
one a resource names, and each worker notices a rotation by its resourceVersion.
kopf keeps no bookkeeping on the resources (event handlers only): `.status` is ours alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
from dataclasses import dataclass
from typing import Any, cast

import kopf

from personio_sync.clients.kube import KubeClient, load_config
from personio_sync.controller.context import PERSONIO_SYNCS, Context
from personio_sync.controller.leadership import LeaseTimings
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.supervisor import Supervisor
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.shard_leases import ShardLeases
from personio_sync.controller.startup.httpserver import HealthServer
from personio_sync.controller.startup.login import connection_info
from personio_sync.controller.webhooks.limits import Limits
from personio_sync.controller.webhooks.receiver import WebhookReceiver
from personio_sync.controller.webhooks.recorder import EventRecorder
from personio_sync.controller.webhooks.tokens import WebhookTokens
from personio_sync.errors import KubeError
from personio_sync.resource.spec import API_GROUP, API_VERSION, PLURAL
from personio_sync.sync.vendor_http import VendorHttp

registry = kopf.OperatorRegistry()
log = logging.getLogger("personio_sync.controller")


@dataclass
class Runtime:
    """What on.startup builds and the other handlers use (kept in kopf's memo)."""

    ctx: Context
    supervisor: Supervisor
    server: HealthServer
    webhooks: WebhookReceiver | None  # None: webhooks off, no port bound (HOOK-15)
    recorder: EventRecorder
    election: asyncio.Task[None] | None = None  # the shard Leases' loop (not standalone)
    lease_kube: KubeClient | None = None


def runtime(memo: Any) -> Runtime:
    return cast(Runtime, memo.runtime)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf keeps no state on our resources: the operator registers only `on.event`
    handlers, which store no progress and no diff base and add no finalizer, so kopf's
    persistence settings would be inert; only its Event posting is configured."""
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
    # KUBE-1: ride out an API server or etcd restart (minutes) with quiet retries instead
    # of escalating after kopf's default ~1 minute with a traceback per watch.
    settings.networking.error_backoffs = [1, 1, 2, 3, 5, 8, 10, 10, 10, 10, 10, 10, 15, 15, 15]


async def cluster_instance_id(kube: KubeClient) -> str:
    """The kube-system namespace's UID: stable for the cluster's life, unique per cluster,
    so the same namespace/name in two clusters is two owners (D-Owner)."""
    try:
        namespace = await kube.get_namespace("kube-system")
    except KubeError as exc:
        namespace, why = None, str(exc)
    else:
        why = "it has no uid"
    uid = ((namespace or {}).get("metadata") or {}).get("uid")
    if not uid:
        raise kopf.PermanentError(
            f"cannot read the kube-system namespace to derive the instance id ({why}); set "
            "PERSONIO_SYNC_INSTANCE_ID or grant get on namespaces/kube-system"
        )
    return str(uid)


async def start_receiver(
    ctx: Context,
    supervisor: Supervisor,
    recorder: EventRecorder,
    sock: socket.socket | None = None,
) -> WebhookReceiver | None:
    """HOOK-15: the receiver listens only when webhooks are on (a base URL is set); off,
    no port is bound, so nothing is reachable that no resource can use."""
    ours = ctx.settings
    if not ours.webhooks_enabled:
        log.info("Personio webhooks off (PERSONIO_SYNC_WEBHOOK_BASE_URL is empty)")
        return None
    receiver = WebhookReceiver(
        secret_of=supervisor.secret_of,
        notify=supervisor.note_changes,
        tokens=WebhookTokens(ctx.kube),
        metrics=ctx.metrics,
        leading=lambda namespace, name: ctx.holds((namespace, name)),
        record=recorder,
        limits=Limits.of(ours),
    )
    supervisor.forget.append(receiver.forget)  # its token cache and delivery budget (FAIR-8)
    await receiver.start(ours.http_host, ours.webhook_port, sock=sock)
    return receiver


@kopf.on.login(registry=registry)
async def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf logs in with the configuration the operator's own client uses (login.py)."""
    return await connection_info(load_config())


@kopf.on.startup(registry=registry)
async def start(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    """Builds everything once and wires it: the context, the supervisor and its slots,
    the health server, the webhook receiver (handed the supervisor's lookups; only with a
    webhook base URL, HOOK-15), the Lease."""
    configure_kopf(settings)
    ours: OperatorSettings = memo.settings
    config = load_config()
    lease: str | None = memo.lease  # None: standalone
    metrics = Metrics(per_resource_limit=ours.metrics_per_resource_limit)
    elector, lease_kube = None, None
    if lease is not None:  # its own connection: renewals never queue behind status writes
        lease_kube = KubeClient(config, PERSONIO_SYNCS, timeout=5.0)
        elector = ShardLeases(
            lease_kube,
            namespace=ours.lease_namespace,
            name=lease,
            shards=ours.shards,
            timings=LeaseTimings.scaled(ours.lease_duration_seconds),
            on_acquired=metrics.acquisitions.inc,
        )
    # The awork pool is fenced once, by the shard of the resource each task acts for;
    # status writes by the shard of the resource written (SHARD-4).
    fence = elector.fence if elector else None
    kube = KubeClient(config, PERSONIO_SYNCS, fence=elector.fence_for if elector else None)
    ctx = Context(
        settings=ours,
        kube=kube,
        metrics=metrics,
        instance_id=ours.instance_id or await cluster_instance_id(kube),
        leadership=elector,
        http=VendorHttp.open(fence=fence, runs=ours.max_concurrent_syncs),
    )
    metrics.follow_leadership(ctx.leading)
    ready = asyncio.Event()  # /healthz answers 200 once everything below is up
    server = HealthServer(ctx.metrics, healthy=ready.is_set)
    await server.start(ours.http_host, ours.http_port, sock=memo.get("http_socket"))
    slots = FairSlots(ours.max_concurrent_syncs, per_namespace=ours.max_runs_per_namespace)
    recorder = EventRecorder(ctx.writes, ctx.last_events)
    supervisor = Supervisor(ctx, slots, forget=(recorder.forget,))  # FAIR-8
    receiver = await start_receiver(ctx, supervisor, recorder, memo.get("webhook_socket"))
    rt = Runtime(ctx, supervisor, server, receiver, recorder, lease_kube=lease_kube)
    if elector is not None:
        rt.election = asyncio.create_task(elector.run(), name="shard leases")
    memo.runtime = rt
    ready.set()


@kopf.on.cleanup(registry=registry)
async def stop(memo: Any, **_: Any) -> None:
    """Workers first (no write after this), then hand the Lease over at once."""
    rt = runtime(memo)
    if rt.webhooks is not None:
        await rt.webhooks.stop()
    await rt.recorder.stop()
    await rt.supervisor.stop()
    if rt.election is not None and rt.ctx.leadership is not None:
        rt.election.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rt.election
        await rt.ctx.leadership.release()
    if rt.lease_kube is not None:
        await rt.lease_kube.close()
    await rt.server.stop()
    if rt.ctx.http is not None:
        await rt.ctx.http.aclose()
    await rt.ctx.kube.close()


@kopf.on.event(API_GROUP, API_VERSION, PLURAL, registry=registry)
async def resource_event(event: kopf.RawEvent, body: kopf.Body, memo: Any, **_: Any) -> None:
    # A deep copy: kopf updates its body views in place as newer events arrive.
    runtime(memo).supervisor.observe(event.get("type"), copy.deepcopy(dict(body)))
