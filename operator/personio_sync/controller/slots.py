"""Run slots shared fairly: a new or quick run is never starved by long ones (FAIR-2).

`PERSONIO_SYNC_MAX_CONCURRENT_SYNCS` (N) caps the runs in flight. A plain semaphore
lets N long runs (a first sync of a big workspace, a day's worth of changes) hold every
slot for minutes while a resource created meanwhile waits for its first sync. So:

* one of the N slots (when N >= 2) is kept for *quick* runs: a resource's first sync,
  or one whose previous run took less than `QUICK_RUN_SECONDS`. Long runs may hold at
  most N - 1 slots, so a quick run starts as soon as it asks, whatever else runs;
* waiting runs are admitted by priority (first syncs, then quick runs, then long
  ones), and first come, first served within a priority.

Long runs are never interrupted: no slot is taken back, so no awork write is torn. The
cap stays hard (never more than N runs), which is what the setting promises.
"""

from __future__ import annotations

import asyncio
import itertools
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
    granted: asyncio.Future[None] = field(compare=False)


class FairSlots:
    """N slots, `reserved` of them only for quick runs; waiting runs queue by priority."""

    def __init__(self, total: int, *, reserved: int | None = None) -> None:
        if total < 1:
            raise ValueError("at least one slot")
        self.total = total
        self.reserved = min(total - 1, 1 if reserved is None else reserved)
        self.held = {Priority.FIRST_SYNC: 0, Priority.QUICK: 0, Priority.LONG: 0}
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def in_use(self) -> int:
        return sum(self.held.values())

    @asynccontextmanager
    async def slot(self, priority: Priority = Priority.LONG) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release(priority)

    async def acquire(self, priority: Priority) -> None:
        waiter = _Waiter(priority, next(self._seq), asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        self._admit()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.granted.done() and not waiter.granted.cancelled():
                self.release(priority)  # granted just as we were cancelled: give it back
            raise

    def release(self, priority: Priority) -> None:
        self.held[priority] -= 1
        self._admit()

    def _fits(self, priority: Priority) -> bool:
        if self.in_use >= self.total:
            return False
        return priority != Priority.LONG or self.held[Priority.LONG] < self.total - self.reserved

    def _admit(self) -> None:
        """Grant free slots to waiters in priority order; a long waiter that only the
        reserved slot could serve stays queued without blocking quick ones behind it."""
        for waiter in sorted(self._waiting):
            if not self._fits(waiter.priority):
                continue
            self._waiting.remove(waiter)
            self.held[waiter.priority] += 1
            waiter.granted.set_result(None)
