"""`status.lastEvent` (HOOK-6), written off the webhook request path.

One merge patch in flight per resource, the newest event wins, and a failed write is
only logged: the write is fenced and best effort (writes.py). The newest event is also
kept in `latest` (the Context's `last_events`), which a run's own status write carries.
"""

from __future__ import annotations

import asyncio

from personio_sync.controller.writes import WritePolicy, Writes
from personio_sync.resource.status import LastEvent


class EventRecorder:
    """`record(namespace, name, event)` for the receiver; `stop()` at shutdown."""

    def __init__(self, writes: Writes, latest: dict[tuple[str, str], LastEvent]) -> None:
        self._writes, self.latest = writes, latest
        self._written: dict[tuple[str, str], LastEvent] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def __call__(self, namespace: str, name: str, event: LastEvent) -> None:
        key = (namespace, name)
        self.latest[key] = event
        if key not in self._tasks:
            task = asyncio.create_task(self._flush(key), name=f"last event {namespace}/{name}")
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._drop(key, done))

    def _drop(self, key: tuple[str, str], done: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is done:  # not a newer one, after a forget
            del self._tasks[key]

    async def _flush(self, key: tuple[str, str]) -> None:
        while (event := self.latest.get(key)) is not None and self._written.get(key) != event:
            self._written[key] = event
            patch = {"lastEvent": event.model_dump(mode="json")}
            await self._writes.merge_status(key, patch, WritePolicy.FENCED, "status.lastEvent")

    def forget(self, namespace: str, name: str) -> None:
        """A deleted resource (FAIR-8): a write still in flight is cancelled, so a resource
        re-created under the name does not get the old one's event."""
        self.latest.pop((namespace, name), None)
        self._written.pop((namespace, name), None)
        task = self._tasks.pop((namespace, name), None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
