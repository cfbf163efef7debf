"""Every Kubernetes write of a PersonioSync, each under a named policy (KUBE-2, D-Lease).

A write either matters or is a courtesy, and the API server may be away (KUBE-1): so
each call names how it behaves then, instead of every caller growing its own retry:

- `ONCE`: one attempt, the caller handles the answer (a 409 on a finalizer patch means
  a newer body is on its way; an outage is the loop's to retry).
- `BEST_EFFORT`: bounded by `BEST_EFFORT_SECONDS` (etcd down makes the API server hang,
  not refuse); an outage is skipped quietly (the client logged it once), any other
  failure logged; never raises, returns None then. The run-start mark is one.
- `FENCED`: best effort, and only while this replica holds the resource's shard; a lease
  lost meanwhile
  skips it too. Writes outside the run's own outcome: progress, a targeted sync's
  record, the last webhook event.
- `UNTIL_ANSWERED`: retried with back-off while the API server does not answer; a 4xx
  is a definite answer and raised. A run's outcome and the acknowledged annotations,
  which unrecorded would make the request run twice.

The client itself is fenced (clients/kube.py): every write checks the Lease of the
resource's shard first and raises LeadershipLost, which no policy but FENCED swallows.
A whole status written carries the shard and the replica writing it (SHARD-8).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from personio_sync.clients.kube import KubeClient, Sleep, until_answered
from personio_sync.errors import KubeError, KubeUnavailable, LeadershipLost

log = logging.getLogger("personio_sync.controller")

BEST_EFFORT_SECONDS = 5.0  # how long a courtesy write may hold up the work around it

Written = dict[str, Any] | None  # the resource as written; None: gone, or not written


class WritePolicy(Enum):
    ONCE = "once"
    BEST_EFFORT = "best effort"
    FENCED = "fenced"
    UNTIL_ANSWERED = "until answered"


@dataclass(frozen=True)
class Writes:
    """The resource's writes through one client, with the clock to back off on, the shard
    to check and the placement to record (Context.writes)."""

    kube: KubeClient
    sleep: Sleep
    leading: Callable[[tuple[str, str]], bool]
    placement: Callable[[tuple[str, str]], Mapping[str, Any]] = lambda _key: {}

    async def replace_status(
        self, key: tuple[str, str], status: Mapping[str, Any], policy: WritePolicy
    ) -> Written:
        """The whole status: ours alone, so no merge with stale keys."""
        status = {**status, **self.placement(key)}
        return await self._write(
            key, "status", policy, lambda: self.kube.replace_status(*key, status)
        )

    async def merge_status(
        self, key: tuple[str, str], patch: Mapping[str, Any], policy: WritePolicy, what: str
    ) -> Written:
        """Some status fields only (`what` names them in a log line)."""
        return await self._write(key, what, policy, lambda: self.kube.merge_status(*key, patch))

    async def patch_metadata(
        self, key: tuple[str, str], patch: Mapping[str, Any], policy: WritePolicy, what: str
    ) -> Written:
        """A merge patch of the resource itself: finalizers, annotations."""
        return await self._write(key, what, policy, lambda: self.kube.patch_resource(*key, patch))

    async def _write(
        self,
        key: tuple[str, str],
        what: str,
        policy: WritePolicy,
        call: Callable[[], Awaitable[Written]],
    ) -> Written:
        if policy is WritePolicy.ONCE:
            return await call()
        if policy is WritePolicy.UNTIL_ANSWERED:
            return await until_answered(call, sleep=self.sleep)
        if policy is WritePolicy.FENCED:
            if not self.leading(key):
                return None  # the status is not ours now; the new leader writes its own
            try:
                return await self._bounded(key, what, call)
            except LeadershipLost:
                return None
        return await self._bounded(key, what, call)

    async def _bounded(
        self, key: tuple[str, str], what: str, call: Callable[[], Awaitable[Written]]
    ) -> Written:
        limit = asyncio.timeout(BEST_EFFORT_SECONDS)
        try:
            async with limit:
                return await call()
        except KubeUnavailable:
            pass  # the client logged the outage once
        except TimeoutError:
            if not limit.expired():
                raise
        except KubeError as exc:
            log.warning("%s/%s: %s not written: %s", *key, what, exc)
        return None
