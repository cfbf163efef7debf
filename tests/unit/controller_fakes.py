"""An in-memory API server, stub runs and the one way tests build a Context.

For the Worker and Supervisor tests: run on looptime, `ctx.now()` moves with the loop's
fast-forwarded clock, so "due in an hour" is an hour of loop time and no real second.
The worker's runs are its collaborators: `Stubs` hands it ones that note when they ran
and write a successful status, instead of patching the runs module.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import Cluster, User

from personio_sync.clients.kube import KubeClient
from personio_sync.controller.context import PERSONIO_SYNCS, Context
from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.shard_leases import ShardLeases
from personio_sync.controller.view import ResourceView
from personio_sync.errors import KubeConflict, KubeError
from personio_sync.reasons import Reason


def mock_kube(
    handler: Any, token: str | None = "t", fence: Callable[[str, str], None] | None = None
) -> KubeClient:
    """The operator's real client, on an httpx2 transport that plays the API server."""
    config = KubeConfig.from_one(
        cluster=Cluster(server="https://kube.test", insecure=True),
        user=User(token=token) if token else None,
    ).get()
    assert config is not None
    transport = httpx2.MockTransport(handler)
    return KubeClient(config, PERSONIO_SYNCS, transport=transport, fence=fence)


EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the wall clock at loop time 0
INTERVAL = timedelta(hours=1)


def now() -> float:
    return asyncio.get_running_loop().time()


def wall_clock() -> datetime:
    """`ctx.now()`: EPOCH plus the loop time, in whole seconds like status times."""
    return EPOCH + timedelta(seconds=int(now()))


async def until(check: Callable[[], bool], *, within: float = 60.0, step: float = 0.1) -> None:
    """Poll `check` on the loop's clock until it holds; fails once `within` seconds of
    loop time have passed (a deadline, not a sleep that hopes for the state)."""
    deadline = now() + within
    while not check():
        assert now() < deadline, f"not within {within:g} s of loop time"
        await asyncio.sleep(step)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_context(
    kube: Any,
    *,
    now: Callable[[], datetime] = wall_clock,
    events: list[tuple[str, Reason]] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    leadership: Any = None,
    **settings: Any,
) -> Context:
    """A Context on `kube` (the in-memory `Kube`, or a real client on a mock transport);
    Events land in `events` as (kind, reason); keyword arguments are settings."""
    noted = events if events is not None else []

    def event(body: Any, kind: str, reason: Reason, message: str) -> None:
        noted.append((kind, reason))

    return Context(
        settings=OperatorSettings(**settings),
        kube=cast(KubeClient, kube),
        now=now,
        sleep=sleep or asyncio.sleep,
        event=event,
        leadership=cast(ShardLeases | None, leadership),
    )


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
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}  # (namespace, name) → body
        self.secret_gets = 0

    def rotate(self, namespace: str, name: str, version: str, **data: str) -> None:
        """The Secret at a new resourceVersion; `data` its keys (plain text)."""
        meta = {"namespace": namespace, "name": name, "resourceVersion": version}
        self.secrets[(namespace, name)] = {"metadata": meta, "stringData": data}

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """SEC-1: the worker GETs its Secret at every wake-up."""
        self.secret_gets += 1
        found = self.secrets.get((namespace, name))
        return None if found is None else copy.deepcopy(found)

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

    async def merge_status(
        self, namespace: str, name: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self.writes.append((now(), "merge", patch))
        body = copy.deepcopy(self.bodies[(namespace, name)])
        body["status"] = {**(body.get("status") or {}), **patch}
        return self.put(body)


class Stubs:
    """The worker's runs, stubbed: a full run notes when it ran and writes a successful
    status; a clean-up notes when it ran and may fail; the rest do nothing."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.runs: list[tuple[float, str]] = []  # (loop time, resource name)
        self.consents: list[bool] = []
        self.fail_with: BaseException | None = None
        self.cleanups: list[float] = []
        self.cleanup_error: BaseException | None = None

    async def full(
        self, ctx: Context, view: ResourceView, seen: Any, *, allow_mass_delete: bool = False
    ) -> dict[str, Any]:
        self.runs.append((now(), view.name))
        self.consents.append(allow_mass_delete)
        if self.fail_with is not None:
            raise self.fail_with
        ended = ctx.now()
        status = {
            "observedGeneration": view.generation,
            "lastSyncTime": stamp(ended),
            "lastSuccessfulSyncTime": stamp(ended),
            "nextSyncTime": stamp(ended + INTERVAL),
        }
        return await self.kube.replace_status(view.namespace, view.name, status)

    async def clean_up(self, ctx: Context, view: ResourceView, seen: Any, *, slot: Any) -> None:
        self.cleanups.append(now())
        if self.cleanup_error is not None:
            raise self.cleanup_error

    async def nothing(self, ctx: Context, view: ResourceView, seen: Any) -> None:
        return None

    def collaborators(self, **more: Any) -> Collaborators:
        """Collaborators with these stubs; keyword arguments replace more of them."""
        stubs: dict[str, Any] = {
            "full": self.full,
            "clean_up": self.clean_up,
            "after_run": self.nothing,
            "on_delete": self.nothing,
        }
        return Collaborators(**{**stubs, **more})

    @property
    def times(self) -> list[float]:
        return [at for at, _ in self.runs]


LEASE_START = datetime(2026, 7, 21, 8, 0, 0, tzinfo=UTC)


class LeaseClock:
    """Monotonic seconds and the wall time written into Leases, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return LEASE_START + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Leases:
    """The namespace's Leases as the API server keeps them: a resourceVersion per write,
    409 when stale; `down` makes every call fail as an unavailable API server does."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.writes = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise KubeError("Kubernetes API: 503 unavailable", 503)

    def _store(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.writes += 1
        lease = copy.deepcopy(dict(body))
        lease["metadata"] = {**lease["metadata"], "resourceVersion": str(self.version)}
        self.leases[lease["metadata"]["name"]] = lease
        return copy.deepcopy(lease)

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._check()
        return copy.deepcopy(self.leases.get(name))

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check()
        if body["metadata"]["name"] in self.leases:
            raise KubeConflict("already exists", 409)
        return self._store(body)

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        self._check()
        sent = (body.get("metadata") or {}).get("resourceVersion")
        if sent != self.leases[name]["metadata"]["resourceVersion"]:
            raise KubeConflict("the object has been modified", 409)
        return self._store(body)

    async def list_leases(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        self._check()

        def matches(lease: dict[str, Any]) -> bool:
            have = lease["metadata"].get("labels") or {}
            return all(have.get(k) == v for k, v in labels.items())

        return [copy.deepcopy(v) for v in self.leases.values() if matches(v)]

    async def delete_lease(self, namespace: str, name: str) -> None:
        self._check()
        self.leases.pop(name, None)

    def holders(self) -> Counter[str]:
        return Counter(
            lease["spec"]["holderIdentity"]
            for name, lease in self.leases.items()
            if "-shard-" in name and lease["spec"]["holderIdentity"]
        )
