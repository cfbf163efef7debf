"""An in-memory API server, a stub sync and a Context whose clock is the event loop's.

For the Worker and Supervisor tests: run on looptime, `ctx.now()` moves with the loop's
fast-forwarded clock, so "due in an hour" is an hour of loop time and no real second.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import Cluster, User

from personio_sync.clients.kube import KubeClient
from personio_sync.controller.context import PERSONIO_SYNCS, Context
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.settings import OperatorSettings


def mock_kube(handler: Any, token: str | None = "t") -> KubeClient:
    """The operator's real client, on an httpx2 transport that plays the API server."""
    config = KubeConfig.from_one(
        cluster=Cluster(server="https://kube.test", insecure=True),
        user=User(token=token) if token else None,
    ).get()
    assert config is not None
    return KubeClient(config, PERSONIO_SYNCS, transport=httpx2.MockTransport(handler))


EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the wall clock at loop time 0
INTERVAL = timedelta(hours=1)


def now() -> float:
    return asyncio.get_running_loop().time()


def wall_clock() -> datetime:
    """`ctx.now()`: EPOCH plus the loop time, in whole seconds like status times."""
    return EPOCH + timedelta(seconds=int(now()))


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def resource(
    name: str = "team", uid: str = "uid-1", *, status: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    meta = {
        "namespace": "hr", "name": name, "uid": uid, "generation": 1, "resourceVersion": "1",
    }  # fmt: skip
    spec = {"secretRef": {"name": "creds"}, "interval": "1h", **spec}
    return {"metadata": meta, "spec": spec, "status": status or {}}


class Kube:
    """Holds each resource as the API server would and applies the worker's writes."""

    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.bodies = {(b["metadata"]["namespace"], b["metadata"]["name"]): b for b in bodies}
        self.writes: list[tuple[float, str, dict[str, Any]]] = []
        self.secrets: dict[tuple[str, str], str] = {}  # (namespace, name) → resourceVersion

    def rotate(self, namespace: str, name: str, version: str) -> None:
        self.secrets[(namespace, name)] = version

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """SEC-1: the worker GETs its Secret at every wake-up; only the version matters."""
        version = self.secrets.get((namespace, name))
        if version is None:
            return None
        return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Stores a client's change (a watch event would follow): a new resourceVersion."""
        meta = body["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        self.bodies[(meta["namespace"], meta["name"])] = body
        return copy.deepcopy(body)

    async def patch_resource(
        self, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self.writes.append((now(), "patch", patch))
        body = copy.deepcopy(self.bodies[(namespace, name)])
        meta, changes = body["metadata"], patch.get("metadata") or {}
        meta.setdefault("annotations", {}).update(changes.get("annotations") or {})
        if "finalizers" in changes:
            meta["finalizers"] = changes["finalizers"]
        return self.put(body)

    async def replace_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        self.writes.append((now(), "status", status))
        body = copy.deepcopy(self.bodies[(namespace, name)])
        body["status"] = status
        return self.put(body)


class Syncs:
    """Stands in for reconcile.sync: notes when it ran and writes a successful status."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.runs: list[tuple[float, str]] = []  # (loop time, resource name)
        self.consents: list[bool] = []
        self.fail_with: BaseException | None = None

    async def __call__(
        self, ctx: Context, body: Any, seen: Any, *, allow_mass_delete: bool = False
    ) -> dict[str, Any]:
        meta = body["metadata"]
        self.runs.append((now(), meta["name"]))
        self.consents.append(allow_mass_delete)
        if self.fail_with is not None:
            raise self.fail_with
        ended = ctx.now()
        status = {
            "observedGeneration": meta["generation"],
            "lastSyncTime": stamp(ended),
            "lastSuccessfulSyncTime": stamp(ended),
            "nextSyncTime": stamp(ended + INTERVAL),
        }
        return await self.kube.replace_status(meta["namespace"], meta["name"], status)

    @property
    def times(self) -> list[float]:
        return [at for at, _ in self.runs]


def context(kube: Kube, events: list[tuple[str, str]] | None = None) -> Context:
    noted = events if events is not None else []

    def event(body: Any, kind: str, reason: str, message: str) -> None:
        noted.append((kind, reason))

    return Context(
        settings=OperatorSettings(),
        kube=cast(KubeClient, kube),
        metrics=Metrics(),
        slots=FairSlots(2),
        now=wall_clock,
        event=event,
    )
