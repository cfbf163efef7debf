"""One leader among the replicas, through a coordination.k8s.io/v1 Lease, and its fence.

The rules are client-go's leader election: the leader renews the Lease every retry
period; a standby takes it over only when the record it observes has not changed for
the lease duration, measured on its own monotonic clock (never by comparing wall
clocks across machines); every write of the Lease is a PUT or POST guarded by the
resourceVersion it read, so two replicas never both acquire it.

What client-go leaves to its callers, the fence does: a leader counts as leading only
while its last successful renewal (the moment that attempt started) is younger than
the renew deadline, judged by the local monotonic clock. The renew deadline is shorter
than the lease duration, so a leader's fence closes before any standby may take over,
and a process that was frozen (SIGSTOP, a long GC pause, a stalled node) is not
leading when it resumes, before it has said a word to the API server. The sync calls
`fence()` before every write; it raises LeadershipLost and the run is abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from personio_sync.errors import KubeConflict, LeadershipLost, clip

log = logging.getLogger("personio_sync.controller")

DEFAULT_LEASE_NAME = "personio-sync"


def own_identity() -> str:
    """Unique per process, recognisable per pod (the Lease's holderIdentity)."""
    host = os.environ.get("POD_ID") or socket.gethostname()
    return f"{host}/{os.getpid()}/{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LeaseTimings:
    """client-go's defaults for kube-controller-manager; renew_deadline < lease_duration."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    @classmethod
    def scaled(cls, lease_duration: float) -> LeaseTimings:
        """client-go's proportions (15 / 10 / 2) for another lease duration."""
        return cls(lease_duration, lease_duration * 2 / 3, lease_duration / 6)

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")


class LeaseApi(Protocol):
    """The three Lease calls (KubeClient); replace and create raise KubeConflict on 409."""

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]: ...


def micro_time(at: datetime) -> str:
    """Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version(lease: Mapping[str, Any]) -> str:
    return str((lease.get("metadata") or {}).get("resourceVersion", ""))


class LeaderElector:
    """Acquires and renews the Lease in `run()`; `leading()`/`fence()` answer at any moment.

    `clock` is monotonic seconds, `wall` the time written into the Lease, `sleep` waits:
    all injectable, so the decisions are tested without real time passing."""

    def __init__(
        self,
        api: LeaseApi,
        *,
        namespace: str,
        name: str = DEFAULT_LEASE_NAME,
        identity: str | None = None,
        timings: LeaseTimings = LeaseTimings(),
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_acquired: Callable[[], None] = lambda: None,
        labels: Mapping[str, str] | None = None,
        on_taken_over: Callable[[], None] = lambda: None,
    ) -> None:
        self._api = api
        self._labels = dict(labels or {})  # on the Lease when this replica creates it
        self.namespace, self.name = namespace, name
        self.identity = identity or own_identity()
        self.timings = timings
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._observed_version: str | None = None
        self._observed_at = 0.0  # monotonic time the observed record was first seen
        self._observed_duration = timings.lease_duration
        self._renewed_at: float | None = None  # start of the last successful acquire/renew
        self.holder = ""  # the holderIdentity last read or written
        self._announced = False  # "became leader" logged and not yet "lost"
        self._problem: str | None = None  # last API problem logged (one line per change)
        self._gained = asyncio.Event()
        self._on_acquired = on_acquired  # counted on /metrics (leader flapping alert)
        self._on_taken_over = on_taken_over  # acquired from a holder that did not release it

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    def leading(self) -> bool:
        """Held, and renewed within the renew deadline by this process's monotonic clock."""
        renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed < self.timings.renew_deadline

    def fence(self) -> None:
        """Call before a write: raises LeadershipLost unless `leading()`."""
        if not self.leading():
            raise LeadershipLost(
                f"this replica no longer holds the lease {self.where}; the new leader runs the sync"
            )

    async def wait_leading(self) -> None:
        """Returns once this replica leads (at once if it does)."""
        while not self.leading():
            self._gained.clear()
            await self._gained.wait()

    async def run(self) -> None:
        """Try to acquire or renew every retry period, until cancelled."""
        while True:
            await self.attempt()
            await self._sleep(self._pause())

    async def attempt(self) -> bool:
        """One round of client-go's tryAcquireOrRenew, bounded in time; True: we lead."""
        try:
            async with asyncio.timeout(self.timings.renew_deadline / 2):
                acquired = await self._try_acquire_or_renew()
        except KubeConflict:
            acquired = False  # someone wrote the Lease between our read and our write
        except Exception as exc:  # the API server is away, slow or refuses: stay a candidate
            self._report(f"{type(exc).__name__}: {clip(str(exc), 200)}")
            acquired = False
        else:
            self._report(None)
        self._announce()
        return acquired

    async def release(self) -> None:
        """Graceful shutdown: stop writing at once, then free the Lease for a standby."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        self.holder = ""
        self._announce()
        with contextlib.suppress(Exception):  # the standby takes over after the lease anyway
            async with asyncio.timeout(self.timings.renew_deadline / 2):
                lease = await self._api.get_lease(self.namespace, self.name)
                spec = (lease or {}).get("spec") or {}
                if lease is None or spec.get("holderIdentity") != self.identity:
                    return
                now = micro_time(self._wall())
                released = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1,
                            "acquireTime": now, "renewTime": now}  # fmt: skip
                await self._api.replace_lease(
                    self.namespace, self.name, {**lease, "spec": released}
                )
                log.info("lease %s released", self.where)

    async def _try_acquire_or_renew(self) -> bool:
        started = self._clock()
        lease = await self._api.get_lease(self.namespace, self.name)
        if lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace,
                                 **({"labels": self._labels} if self._labels else {})},
                    "spec": self._spec({}, started_now=True)}  # fmt: skip
            created = await self._api.create_lease(self.namespace, body)
            return self._won(created, started)
        spec: dict[str, Any] = dict(lease.get("spec") or {})
        self.observe(lease)
        holder = spec.get("holderIdentity") or ""
        ours = holder == self.identity
        if holder and not ours and self._clock() - self._observed_at < self._observed_duration:
            self._renewed_at = None  # another replica holds it (whatever we thought before)
            return False
        body = {**lease, "spec": self._spec(spec, started_now=not ours)}
        written = await self._api.replace_lease(self.namespace, self.name, body)
        won = self._won(written, started)
        if won and holder and not ours:
            self._on_taken_over()
        return won

    def observe(self, lease: Mapping[str, Any]) -> None:
        """Note the record as read now (by this round, or by a LIST of many Leases): its
        age counts from the first time this version was seen, on our own clock."""
        if _version(lease) != self._observed_version:
            spec = lease.get("spec") or {}
            self.holder = str(spec.get("holderIdentity") or "")
            if self.holder != self.identity:
                self._renewed_at = None  # the record says we do not hold it: stop at once
            self._observed_version, self._observed_at = _version(lease), self._clock()
            self._observed_duration = float(
                spec.get("leaseDurationSeconds") or self.timings.lease_duration
            )

    def expires_in(self) -> float:
        """Seconds until the record last observed expires (negative: expired)."""
        return self._observed_at + self._observed_duration - self._clock()

    def _spec(self, previous: Mapping[str, Any], *, started_now: bool) -> dict[str, Any]:
        now = micro_time(self._wall())
        transitions = int(previous.get("leaseTransitions") or 0)
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.timings.lease_duration),
            "acquireTime": now if started_now else previous.get("acquireTime", now),
            "renewTime": now,
            "leaseTransitions": transitions + 1 if started_now and previous else transitions,
        }

    def _won(self, lease: Mapping[str, Any], started: float) -> bool:
        self.holder = self.identity
        self._observed_version, self._observed_at = _version(lease), self._clock()
        self._observed_duration = self.timings.lease_duration
        self._renewed_at = started
        if self.leading():  # the round itself may have outlasted the renew deadline
            self._gained.set()
            return True
        return False

    def _pause(self) -> float:
        """Leaders renew every retry period; candidates jitter, but wake when it expires."""
        period = self.timings.retry_period
        if self.leading():
            return period
        jittered = period * random.uniform(1.0, 1.2)
        expires_in = self._observed_at + self._observed_duration - self._clock()
        return expires_in + 0.01 if 0 < expires_in < jittered else jittered

    def _announce(self) -> None:
        """One log line per change of leadership."""
        leading = self.leading()
        if leading and not self._announced:
            log.info("leading: lease %s acquired by %s", self.where, self.identity)
            self._on_acquired()
        elif self._announced and not leading:
            log.warning("no longer leading: lease %s lost by %s", self.where, self.identity)
        self._announced = leading

    def _report(self, problem: str | None) -> None:
        if problem is not None and problem != self._problem:
            log.warning("lease %s: cannot acquire or renew it: %s", self.where, problem)
        elif problem is None and self._problem is not None:
            log.info("lease %s: the API server answers again", self.where)
        self._problem = problem
