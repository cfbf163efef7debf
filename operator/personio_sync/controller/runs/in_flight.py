"""What a full run writes while it is in flight: the `Syncing` mark and its progress.

KUBE-4: `Synced` says a run is in progress, and a mark left by a process that died
mid-run makes the resource due at once. Most runs change nothing and end well within a
second, and for them the mark is a status PATCH (and a watch event to every watcher)
that nobody sees, half of a run's writes (SCALE-3). So the mark waits
PERSONIO_SYNC_SYNCING_MARK_SECONDS: a run that ends sooner writes only its outcome; one
still going then is marked, and a progress write marks it first, so progress never shows
without the mark. A run cut short before its mark is still due when the operator comes
back: its trigger (the schedule, a sync-now, a spec change) is still in the resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from personio_sync.controller.context import Context
from personio_sync.controller.reporting import outcomes
from personio_sync.controller.view import ResourceView
from personio_sync.controller.writes import WritePolicy
from personio_sync.sync.progress import Progress


class SyncingMark:
    """Writes the mark once: when the delay is over, or earlier when asked (`ensure`)."""

    def __init__(self, ctx: Context, view: ResourceView) -> None:
        self._ctx, self._view = ctx, view
        self._written = False
        self._lock = asyncio.Lock()

    async def ensure(self) -> None:
        """The mark is written (best effort, never delays the run for long)."""
        async with self._lock:
            if self._written:
                return
            self._written = True
            stamp = outcomes.Stamp(generation=self._view.generation, now=self._ctx.now())
            patch = outcomes.syncing(self._view.status, stamp=stamp)
            await self._ctx.writes.merge_status(
                self._view.key, patch, WritePolicy.BEST_EFFORT, "run-in-progress mark"
            )

    @contextlib.asynccontextmanager
    async def around_run(self) -> AsyncIterator[None]:
        """Marks the run if it is still going after the delay; a mark being written when
        the run ends is waited for, so it never lands after the run's outcome."""
        delay = self._ctx.settings.syncing_mark_seconds
        if delay <= 0:
            await self.ensure()
            yield
            return
        ended = asyncio.Event()

        async def later() -> None:
            try:
                await asyncio.wait_for(ended.wait(), delay)
            except TimeoutError:
                await self.ensure()

        pending = asyncio.create_task(later(), name=f"syncing mark {self._view.key}")
        try:
            yield
        finally:
            ended.set()
            await pending


class ProgressWriter:
    """Patches status.progress at most every `every` seconds (the runner calls often),
    after the run's mark."""

    def __init__(self, ctx: Context, view: ResourceView, every: float, mark: SyncingMark) -> None:
        self._ctx, self._view, self._every, self._mark = ctx, view, every, mark
        self._last = time.monotonic()

    async def __call__(self, update: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        await self._mark.ensure()
        patch = {"progress": outcomes.progress(update)}
        await self._ctx.writes.merge_status(self._view.key, patch, WritePolicy.FENCED, "progress")
