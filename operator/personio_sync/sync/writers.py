"""One writer per awork workspace inside a process (D-Writer).

awork has no lock, and only a create can duplicate: two runs that read the workspace
before either has written both see a period free and both create it. So every run that
may write (full, targeted, clean-up) takes its workspace's turn before it trusts its read
of awork, and keeps it until its last write: the next run reads the markers the first
one wrote and reports conflicts instead of duplicating.

The turn is taken as late as possible. A full run reads Personio and awork at once and
only then waits for the turn; if another run wrote to the workspace meanwhile, its read
of awork is stale and it reads awork again, now as the only writer. Uncontended, a run
pays nothing. A dry run never waits (it writes nothing).

The lock is per process. Across processes (two installations, or replicas sharing out
resources) ownership settles itself instead (D-Settle, engine/ownership.py).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from types import TracebackType

from personio_sync.clients import workspace_key


@dataclass(eq=False)
class Workspace:
    """One awork workspace's writer lock, and how many turns have written so far."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    writes: int = 0


class WriterLocks:
    """The workspaces of one process, keyed like the pacers (FAIR-1): by a hash of URL
    and API key, never by the key. A workspace lives while some run uses it."""

    def __init__(self) -> None:
        self._held: weakref.WeakValueDictionary[str, Workspace] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._held)

    def get(self, base_url: str, api_key: str) -> Workspace:
        key = workspace_key(base_url, api_key)
        workspace = self._held.get(key)
        if workspace is None:
            workspace = Workspace()
            self._held[key] = workspace
        return workspace


class WriterTurn:
    """One run's turn as its workspace's only writer (`async with`); a no-op without one.

    `mark()` before reading awork, `await take()` before planning on that read, and
    `stale()` says whether a writer finished in between (read again). Set `wrote` when
    the run sends writes, so the runs waiting behind it know to read again."""

    def __init__(self, workspace: Workspace | None) -> None:
        self._workspace = workspace
        self._held = False
        self._seen = 0
        self.wrote = False

    def mark(self) -> None:
        if self._workspace is not None:
            self._seen = self._workspace.writes

    async def take(self) -> None:
        if self._workspace is not None and not self._held:
            await self._workspace.lock.acquire()
            self._held = True

    def stale(self) -> bool:
        return self._workspace is not None and self._workspace.writes != self._seen

    async def __aenter__(self) -> WriterTurn:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._workspace is not None and self._held:
            if self.wrote:
                self._workspace.writes += 1
            self._held = False
            self._workspace.lock.release()
