"""One creator per period and awork workspace inside a process (D-Writer).

awork has no lock, and only a create can duplicate: two runs that read the workspace
before either has written both see a period free and both create it. So a run that is
about to create claims those periods in its workspace first; while another run of the
process creates any of them, it waits, and if that run created them since its read of
awork, it reads awork again and plans anew (and now sees the other's markers: a conflict,
not a duplicate). Claims are held until the run's last write and its final look-up.

Runs whose creates do not overlap never wait for each other: four long first syncs of
resources with different people or types write side by side (FAIR-2), and a run that
creates nothing (updates, deletes, a clean-up) claims nothing. Uncontended, a run pays
nothing: no extra read. A dry run claims nothing (it writes nothing).

Workspaces are keyed like the pacers (FAIR-1). The claims live in the process. Across
processes (two installations, or replicas sharing out resources) ownership settles
itself instead (D-Settle, engine/ownership.py).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType

from personio_sync.clients import workspace_key


@dataclass(eq=False)
class Workspace:
    """One awork workspace's claims: which periods runs are creating, and when each
    period's last creator finished (`generation` counts finished turns)."""

    released: asyncio.Event = field(default_factory=asyncio.Event)  # set, then replaced
    claimed: dict[str, WriterTurn] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)
    generation: int = 0


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
    """One run's claims on its workspace (`async with`); a no-op without a workspace.

    `mark()` before reading awork; `await claim(periods)` before creating them: True
    means another run created one of them since the mark, so the read is stale (mark,
    read again, plan again, claim again). Set `wrote` once the run sends writes."""

    def __init__(self, workspace: Workspace | None) -> None:
        self._workspace = workspace
        self._held: set[str] = set()
        self._seen = 0
        self.wrote = False

    def mark(self) -> None:
        if self._workspace is not None:
            self._seen = self._workspace.generation

    async def claim(self, periods: Iterable[str]) -> bool:
        workspace = self._workspace
        if workspace is None:
            return False
        wanted = set(periods) - self._held
        while any(p in workspace.claimed for p in wanted):
            await workspace.released.wait()
        workspace.claimed.update(dict.fromkeys(wanted, self))
        self._held |= wanted
        return any(workspace.finished.get(p, -1) > self._seen for p in self._held)

    async def __aenter__(self) -> WriterTurn:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        workspace = self._workspace
        if workspace is None or not self._held:
            return
        # No await from here on: a cancelled run can never leave its claims behind.
        workspace.generation += 1
        for period in self._held:
            del workspace.claimed[period]
            if self.wrote:
                workspace.finished[period] = workspace.generation
        self._held.clear()
        workspace.released.set()
        workspace.released = asyncio.Event()
