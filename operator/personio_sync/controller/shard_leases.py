"""Shards held through one Lease each, replicas known by a heartbeat Lease each (SHARD-3..7).

Every replica renews its own heartbeat Lease (`<lease>-replica-<hash of identity>`) and,
once a retry period, lists the installation's Leases: the heartbeats say who is alive
(a record unchanged for its lease duration, on our own clock, is a dead replica), and
the shards' records are observed on the way, so a dead replica's shard Leases are
known to be expired as soon as they are. From the live replicas `sharding.py` says
which shards this replica should hold; it acquires those (free, released or expired:
the rules of leadership.py, one LeaderElector per shard Lease) and releases the ones it
no longer should, once the runs in flight on them have ended (SHARD-5, bounded by
`drain_seconds`), so a rebalance abandons no run.

A replica counts a peer only once its heartbeat has been alive for a lease duration
(SHARD-6): a replica that starts or comes back from a freeze does not take shards from
the others at once, and a burst of replicas starting together settles before shards
move. The fence of a shard is its elector's (renew deadline < lease duration): a frozen
replica holds nothing when it resumes, and a failing fence abandons that shard's runs
alone (SHARD-4). `ACTING_FOR` says which resource the current task acts for, so one
fence installed once into the shared awork pool fences each request by its resource.

With several shards the replicas also hold the single leader Lease of before (`<lease>`,
SHARD-9), one of them at a time: a replica of a release without shards (during a rolling
upgrade) elects its leader through that Lease and syncs everything, so no replica starts
work while that Lease is held by anyone but a replica with a heartbeat, and none writes
while it is held by a replica without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from personio_sync.controller.leadership import (
    DEFAULT_LEASE_NAME,
    LeaderElector,
    LeaseApi,
    LeaseTimings,
    own_identity,
)
from personio_sync.controller.sharding import DEFAULT_SHARDS, shard_of, wanted_shards
from personio_sync.errors import LeadershipLost, clip

log = logging.getLogger("personio_sync.controller")

LEASE_SET = "personio-sync.dev/lease-set"  # label: which installation's Lease this is
ROLE = "personio-sync.dev/lease-role"  # label: "shard" or "replica"


def label_value(name: str) -> str:
    """A label value holds at most 63 characters, a Lease name more (a long release name
    in a long namespace): a longer one is cut and told apart by its hash."""
    if len(name) <= 63:
        return name
    return f"{name[:52]}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


Key = tuple[str, str]  # (namespace, name) of a PersonioSync
DEFAULT_TIMINGS = LeaseTimings()

# The resource the current task acts for (set by its worker): the shared pool's fence
# reads it to fence each awork request by that resource's shard.
ACTING_FOR: ContextVar[Key | None] = ContextVar("personio_sync_acting_for", default=None)


class ShardLeaseApi(LeaseApi, Protocol):
    """LeaseApi plus listing and deleting (KubeClient)."""

    async def list_leases(
        self, namespace: str, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]: ...

    async def delete_lease(self, namespace: str, name: str) -> None: ...


def shard_lease_name(name: str, shard: int, shards: int) -> str:
    """One shard is today's single leader Lease, by its name (SHARD-7)."""
    return name if shards == 1 else f"{name}-shard-{shard}"


def replica_lease_name(name: str, identity: str) -> str:
    """Identities hold '/' and upper case; a Lease name may not."""
    return f"{name}-replica-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


@dataclass
class _Peer:
    """A heartbeat as observed: its version, since when (our clock), and since when alive."""

    version: str
    changed_at: float
    alive_since: float
    duration: float
    holder: str


class ShardLeases:
    """Acquires, renews and releases this replica's shards in `run()`; `holds()`/`fence()`
    answer at any moment. Clocks and sleep are injectable, as in LeaderElector."""

    def __init__(
        self,
        api: ShardLeaseApi,
        *,
        namespace: str,
        name: str = DEFAULT_LEASE_NAME,
        shards: int = DEFAULT_SHARDS,
        identity: str | None = None,
        timings: LeaseTimings = DEFAULT_TIMINGS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_acquired: Callable[[], None] = lambda: None,
        drain_seconds: float = 60.0,
    ) -> None:
        if shards < 1:
            raise ValueError("need at least one shard")
        self._api, self.namespace, self.name, self.shards = api, namespace, name, shards
        self.identity = identity or own_identity()
        self.timings, self._clock, self._sleep = timings, clock, sleep
        self.drain_seconds = drain_seconds
        self._labels = {LEASE_SET: label_value(name)}

        def elector(lease: str, role: str, **counted: Callable[[], None]) -> LeaderElector:
            return LeaderElector(
                api, namespace=namespace, name=lease, identity=self.identity, timings=timings,
                clock=clock, wall=wall, sleep=sleep, labels={**self._labels, ROLE: role},
                **counted,
            )  # fmt: skip

        # personio_sync_leader_acquisitions_total: with one shard every acquisition, as
        # with the leader Lease; with more, rounds that took over a Lease its holder did
        # not release (a rebalance hands shards over between runs and abandons nothing;
        # one replica lost is one count, however many shards it held).
        self._on_acquired, self._took_over = on_acquired, False
        counted = (
            {"on_acquired": on_acquired} if shards == 1 else {"on_taken_over": self._taken_over}
        )
        self.heartbeat = elector(replica_lease_name(name, self.identity), "replica")
        self.electors = [
            elector(shard_lease_name(name, shard, shards), "shard", **counted)
            for shard in range(shards)
        ]
        # Keeps leaders of a release without shards out (SHARD-9); one shard is that Lease.
        self.guard = None if shards == 1 else elector(name, "guard")
        self._by_name = {e.name: e for e in self.electors}
        self._peers: dict[str, _Peer] = {}  # heartbeat Lease name -> what we saw of it
        self._busy = [0] * shards  # runs in flight per shard
        self._draining: dict[int, float] = {}  # shard -> when we decided to give it up
        self._news = asyncio.Event()  # set (and replaced) after every round
        self.wanted: frozenset[int] = frozenset()
        self._problem: str | None = None
        self._tidying: set[asyncio.Task[None]] = set()  # deletes of long-dead heartbeats

    # -- what the workers ask -------------------------------------------------------

    def shard_of(self, key: Key) -> int:
        return shard_of(*key, self.shards)

    def holds(self, key: Key) -> bool:
        """This replica may start work on the resource: it holds its shard's Lease within
        the renew deadline, and is not handing the shard over."""
        shard = self.shard_of(key)
        return self.electors[shard].leading() and shard not in self._draining and self._guarded()

    def fence_for(self, namespace: str, name: str) -> None:
        """Before a write for the resource: raises LeadershipLost unless its shard is held
        (a shard being handed over still is, until its runs end)."""
        shard = shard_of(namespace, name, self.shards)
        if self._foreign_guard():
            raise LeadershipLost(
                f"the lease {self.namespace}/{self.name} is held by {self._guard_holder()}, a "
                "replica without shards; it syncs until it stops (SHARD-9)"
            )
        if not self.electors[shard].leading():
            raise LeadershipLost(
                f"this replica no longer holds the lease {self.namespace}/"
                f"{self.electors[shard].name} of shard {shard}; its new holder runs the sync"
            )

    def fence(self) -> None:
        """The fence of the resource the current task acts for (ACTING_FOR); a write for
        no resource is refused."""
        key = ACTING_FOR.get()
        if key is None:
            raise LeadershipLost("a write outside a resource's worker: refused (SHARD-4)")
        self.fence_for(*key)

    def _guard_holder(self) -> str:
        return "" if self.guard is None else self.guard.holder

    def _known(self, identity: str) -> bool:
        """This replica, or one whose heartbeat we have seen: a replica with shards."""
        return identity == self.identity or any(p.holder == identity for p in self._peers.values())

    def _guarded(self) -> bool:
        """SHARD-9: the leader Lease is held by a replica with shards (free: not yet)."""
        return self.guard is None or (bool(self.guard.holder) and self._known(self.guard.holder))

    def _foreign_guard(self) -> bool:
        """SHARD-9: the leader Lease is held by a replica without shards."""
        holder = self._guard_holder()
        return bool(holder) and not self._known(holder)

    def leading(self) -> bool:
        """Holds at least one shard (personio_sync_leader, the webhook receiver)."""
        return any(e.leading() for e in self.electors)

    def held(self) -> frozenset[int]:
        return frozenset(i for i, e in enumerate(self.electors) if e.leading())

    async def wait_holding(self, key: Key) -> None:
        """Returns once this replica may work on the resource (at once if it may)."""
        while not self.holds(key):
            await self._news.wait()

    @contextlib.contextmanager
    def busy(self, key: Key) -> Iterator[None]:
        """Around a run: its shard is not released while it runs (SHARD-5)."""
        shard = self.shard_of(key)
        self._busy[shard] += 1
        try:
            yield
        finally:
            self._busy[shard] -= 1

    # -- the rounds -------------------------------------------------------------------

    async def _release(self, shard: int) -> None:
        """Give the shard up; it stays draining (no new work starts on it) until the
        release has begun, so no worker sees it held between the decision and the act."""
        try:
            await self.electors[shard].release()
        finally:
            self._draining.pop(shard, None)

    async def run(self) -> None:
        """A round every retry period (sooner when a peer's heartbeat is due to expire)."""
        while True:
            await self.attempt()
            await self._sleep(self._pause())

    async def attempt(self) -> None:
        """Heartbeat, look at the installation's Leases, then acquire, renew and release."""
        started = self._clock()
        await self.heartbeat.attempt()
        if self.guard is not None:
            await self.guard.attempt()
        try:
            async with asyncio.timeout(self.timings.renew_deadline / 2):
                listed = await self._api.list_leases(self.namespace, self._labels)
        except Exception as exc:  # the API server is away: keep the last view, it ages
            self._report(f"{type(exc).__name__}: {clip(str(exc), 200)}")
        else:
            self._report(None)
            self._observe(listed, self._clock())  # as of its answer: a slow one ages nothing
        wanted = self._wanted()
        if wanted != self.wanted:
            log.info("shards wanted by %s: %s", self.identity, sorted(wanted) or "none")
        self.wanted = wanted
        rounds: list[Awaitable[Any]] = []
        for shard, elector in enumerate(self.electors):
            if shard in wanted:
                self._draining.pop(shard, None)
                rounds.append(elector.attempt())
            elif elector.leading():
                since = self._draining.setdefault(shard, started)
                if self._busy[shard] == 0 or started - since >= self.drain_seconds:
                    rounds.append(self._release(shard))
                else:  # keep it fenced open while its runs end
                    rounds.append(elector.attempt())
            else:
                self._draining.pop(shard, None)
        await asyncio.gather(*rounds)
        if self._took_over:
            self._took_over = False
            self._on_acquired()
        self._news.set()
        self._news = asyncio.Event()

    def _wanted(self) -> frozenset[int]:
        """One shard: every replica wants it and its holder keeps it while alive, as with
        the single leader Lease before shards (SHARD-7); else the assignment (SHARD-2)."""
        if self.shards == 1:
            return frozenset({0})
        return wanted_shards(self.live(), self.identity, self.shards)

    def _taken_over(self) -> None:
        self._took_over = True

    def live(self) -> set[str]:
        """Replicas alive now, and for at least a lease duration (SHARD-6); we are one."""
        now = self._clock()
        settle = self.timings.lease_duration
        return {self.identity} | {
            p.holder
            for p in self._peers.values()
            if p.holder and now - p.changed_at < p.duration and now - p.alive_since >= settle
        }

    def _observe(self, leases: list[dict[str, Any]], now: float) -> None:
        seen: set[str] = set()
        for lease in leases:
            meta = lease.get("metadata") or {}
            name, labels = str(meta.get("name", "")), meta.get("labels") or {}
            if name in self._by_name:
                self._by_name[name].observe(lease)
            elif labels.get(ROLE) == "replica" and name != self.heartbeat.name:
                seen.add(name)
                self._note_peer(name, lease, now)
        for gone in set(self._peers) - seen:
            del self._peers[gone]

    def _note_peer(self, name: str, lease: Mapping[str, Any], now: float) -> None:
        spec = lease.get("spec") or {}
        version = str((lease.get("metadata") or {}).get("resourceVersion", ""))
        holder = str(spec.get("holderIdentity") or "")
        duration = float(spec.get("leaseDurationSeconds") or self.timings.lease_duration)
        peer = self._peers.get(name)
        if peer is None:
            self._peers[name] = _Peer(version, now, now, duration, holder)
            return
        if peer.version == version:
            if now - peer.changed_at >= 10 * peer.duration:  # long dead: tidy it away
                peer.changed_at = now  # once per ten lease durations at most
                self._tidying.add(asyncio.create_task(self._forget(name)))
            return
        dead = not peer.holder or now - peer.changed_at >= peer.duration
        alive_since = now if dead or not holder else peer.alive_since
        self._peers[name] = _Peer(version, now, alive_since, duration, holder)

    async def _forget(self, name: str) -> None:
        with contextlib.suppress(Exception):
            await self._api.delete_lease(self.namespace, name)
        self._tidying = {t for t in self._tidying if not t.done()}

    def _pause(self) -> float:
        """The retry period, jittered; or just after a peer's heartbeat expires, so its
        shards are taken over at once (SHARD-3)."""
        jittered = self.timings.retry_period * random.uniform(1.0, 1.2)
        now = self._clock()
        expiries = [p.changed_at + p.duration - now for p in self._peers.values() if p.holder]
        soon = [e for e in expiries if 0 < e < jittered]
        return min(soon) + 0.01 if soon else jittered

    async def release(self) -> None:
        """Graceful shutdown: give every shard up at once, then the heartbeat."""
        guard = [] if self.guard is None else [self.guard.release()]
        await asyncio.gather(*(e.release() for e in self.electors), *guard)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.timings.renew_deadline / 2):
                await self._api.delete_lease(self.namespace, self.heartbeat.name)

    def _report(self, problem: str | None) -> None:
        if problem is not None and problem != self._problem:
            log.warning("leases of %s: cannot list them: %s", self.name, problem)
        self._problem = problem
