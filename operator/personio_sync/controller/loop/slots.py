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

Who is admitted next is admission.py's, in O(log N) per acquire and release.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from personio_sync.controller.loop.admission import Admission, Priority

__all__ = ["QUICK_RUN_SECONDS", "FairSlots", "Priority", "default_per_namespace", "priority_of"]

QUICK_RUN_SECONDS = 60.0


def priority_of(status: Mapping[str, Any]) -> Priority:
    """From the resource's status: never synced, or how long its last completed run took."""
    if not status.get("lastSyncTime"):
        return Priority.FIRST_SYNC
    last_run = status.get("lastRun")
    duration = last_run.get("durationSeconds") if isinstance(last_run, Mapping) else None
    if isinstance(duration, int | float) and duration < QUICK_RUN_SECONDS:
        return Priority.QUICK
    return Priority.LONG


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
        self._admission = Admission(self.total, self.reserved, self.per_namespace)
        self._granted: dict[int, asyncio.Future[None]] = {}  # ticket seq → its waiter

    @property
    def in_use(self) -> int:
        return self._admission.in_use

    @property
    def held(self) -> Mapping[Priority, int]:
        return self._admission.held

    @property
    def held_by_namespace(self) -> Counter[str]:
        return self._admission.held_by_namespace

    @property
    def waiting(self) -> int:
        return self._admission.waiting

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
        ticket = self._admission.wait(priority, namespace, gone=future.done)
        self._granted[ticket.seq] = future
        self._admit()
        try:
            await future
        except asyncio.CancelledError:
            self._granted.pop(ticket.seq, None)
            if ticket.queued:
                self._admission.withdraw(ticket)
            elif future.done() and not future.cancelled():
                self.release(priority, namespace)  # granted as we were cancelled: give back
            raise

    def release(self, priority: Priority, namespace: str = "") -> None:
        self._admission.release(priority, namespace)
        self._admit()

    def _admit(self) -> None:
        for ticket in self._admission.admit():
            future = self._granted.pop(ticket.seq)
            future.set_result(None)
