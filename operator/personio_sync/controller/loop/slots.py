"""Run slots shared fairly: a new or quick run is never starved by long ones (FAIR-2).

`PERSONIO_SYNC_MAX_CONCURRENT_SYNCS` (N) caps the runs in flight. A plain semaphore
lets N long runs (a first sync of a big workspace, a day's worth of changes) hold every
slot for minutes while a resource created meanwhile waits for its first sync. So:

* one of the N slots (when N >= 2) is kept for *quick* runs: a resource's first sync,
  or one whose previous run took less than `QUICK_RUN_SECONDS`. Long runs may hold at
  most N - 1 slots, so a quick run starts as soon as it asks, whatever else runs;
* waiting runs are admitted by priority (first syncs, then quick runs, then long
  ones), and first come, first served within a priority;
* one namespace holds at most `per_namespace` slots (FAIR-5), so a namespace with many
  due resources cannot take every slot: a waiting run of another namespace gets the next
  free one. The cap is hard, also when nobody else waits, so a slot is always there for
  the next namespace without taking one back.

Long runs are never interrupted: no slot is taken back, so no awork write is torn. The
cap stays hard (never more than N runs), which is what the setting promises.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

QUICK_RUN_SECONDS = 60.0


class Priority(IntEnum):
    """Lower goes first."""

    FIRST_SYNC = 0
    QUICK = 1
    LONG = 2


def priority_of(status: Mapping[str, Any]) -> Priority:
    """From the resource's status: never synced, or how long its last completed run took."""
    if not status.get("lastSyncTime"):
        return Priority.FIRST_SYNC
    last_run = status.get("lastRun")
    duration = last_run.get("durationSeconds") if isinstance(last_run, Mapping) else None
    if isinstance(duration, int | float) and duration < QUICK_RUN_SECONDS:
        return Priority.QUICK
    return Priority.LONG


@dataclass(order=True)
class _Waiter:
    priority: Priority
    seq: int
    namespace: str = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


def default_per_namespace(total: int) -> int:
    """Half the slots, at least one: two busy namespaces can never shut out a third."""
    return max(1, total // 2)


class FairSlots:
    """N slots, `reserved` of them only for quick runs, at most `per_namespace` held by
    one namespace; waiting runs queue by priority."""

    def __init__(
        self, total: int, *, reserved: int | None = None, per_namespace: int | None = None
    ) -> None:
        if total < 1:
            raise ValueError("at least one slot")
        self.total = total
        self.reserved = min(total - 1, 1 if reserved is None else reserved)
        cap = default_per_namespace(total) if per_namespace is None else per_namespace
        self.per_namespace = max(1, min(total, cap))
        self.held = {Priority.FIRST_SYNC: 0, Priority.QUICK: 0, Priority.LONG: 0}
        self.held_by_namespace: Counter[str] = Counter()
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def in_use(self) -> int:
        return sum(self.held.values())

    @asynccontextmanager
    async def slot(
        self, priority: Priority = Priority.LONG, namespace: str = ""
    ) -> AsyncIterator[None]:
        await self.acquire(priority, namespace)
        try:
            yield
        finally:
            self.release(priority, namespace)

    async def acquire(self, priority: Priority, namespace: str = "") -> None:
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(priority, next(self._seq), namespace, future)
        self._waiting.append(waiter)
        self._admit()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.granted.done() and not waiter.granted.cancelled():
                self.release(priority, namespace)  # granted as we were cancelled: give back
            raise

    def release(self, priority: Priority, namespace: str = "") -> None:
        self.held[priority] -= 1
        self.held_by_namespace[namespace] -= 1
        if self.held_by_namespace[namespace] <= 0:
            del self.held_by_namespace[namespace]
        self._admit()

    def _fits(self, waiter: _Waiter) -> bool:
        if self.in_use >= self.total:
            return False
        if self.held_by_namespace[waiter.namespace] >= self.per_namespace:
            return False  # FAIR-5: the next free slot is for another namespace
        if waiter.priority != Priority.LONG:
            return True
        return self.held[Priority.LONG] < self.total - self.reserved

    def _admit(self) -> None:
        """Grant free slots to waiters in priority order; a long waiter that only the
        reserved slot could serve, or whose namespace is at its cap, stays queued without
        blocking the ones behind it."""
        for waiter in sorted(self._waiting):
            if waiter.granted.done():  # cancelled; its task has not run to drop it yet
                self._waiting.remove(waiter)
                continue
            if not self._fits(waiter):
                continue
            self._waiting.remove(waiter)
            self.held[waiter.priority] += 1
            self.held_by_namespace[waiter.namespace] += 1
            waiter.granted.set_result(None)
