"""Keeps one Worker per PersonioSync, fed by kopf's watch events (startup/handlers.py).

The supervisor only routes: a resource event goes to its worker (started on first
sight, stopped when the resource is gone), and so do the webhook receiver's changes.
It owns the run slots every worker shares (FAIR-2, FAIR-5). Secrets are not watched:
each worker reads its own (worker.py, SEC-1).

Where a resource ends is here, in `_end` (FAIR-8): its worker goes with its pending
changes, poll stamps, directory cache and sync-now memory, and so does everything
others keep for it by (namespace, name), the context's (metrics, last webhook event,
standing Warnings) and the `forget` hooks' (the receiver's token cache, the last-event
recorder). A resource re-created under the same name starts clean.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from personio_sync.controller.context import Context
from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.view import identity

log = logging.getLogger("personio_sync.controller")

Forget = Callable[[str, str], None]  # (namespace, name): drop what is kept for it


class Supervisor:
    def __init__(
        self,
        ctx: Context,
        slots: FairSlots,
        calls: Collaborators | None = None,
        *,
        forget: Sequence[Forget] = (),
    ) -> None:
        self.ctx, self.slots = ctx, slots
        self.calls = calls or Collaborators()
        self.forget = list(forget)
        self.workers: dict[tuple[str, str], Worker] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A PersonioSync was listed, added, modified or deleted."""
        namespace, name, uid = identity(body)
        key = (namespace, name)
        worker = self.workers.get(key)
        if event_type == "DELETED":
            if worker is None or worker.uid == uid:  # not a late delete of an older one
                self._end(key, uid)
            return
        if worker is not None and worker.uid != uid:  # deleted and re-created meanwhile
            self._end(key, worker.uid)
            worker = None
        self.ctx.metrics.observe_status(*key, body)  # every replica: the alerts' view
        if worker is None:
            worker = Worker(self.ctx, body, slots=self.slots, calls=self.calls)
            self.workers[key] = worker
            worker.start()
        else:
            worker.observe(body)

    def note_changes(self, namespace: str, name: str, changes: Changes) -> bool:
        """Personio changes for one resource (the webhook receiver); False when no worker
        knows that resource."""
        worker = self.workers.get((namespace, name))
        if worker is None:
            return False
        worker.note_changes(changes)
        return True

    def secret_of(self, namespace: str, name: str) -> str | None:
        """The Secret a known resource names (the receiver's token lookup); None: unknown."""
        worker = self.workers.get((namespace, name))
        return None if worker is None else worker.view.lenient.secret_name or None

    def _end(self, key: tuple[str, str], uid: str | None) -> None:
        """The resource is gone (FAIR-8): stop its worker, forget what was kept for it.
        At once, before a worker of a re-created resource can keep anything anew. The
        worker is cancelled here too, so no step of it runs after the forgetting; what
        it still runs (its `finally`s) keeps nothing per resource."""
        worker = self.workers.pop(key, None)
        if worker is not None:
            worker.cancel()
            task = asyncio.create_task(worker.stop(), name=f"stop {key[0]}/{key[1]}")
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
        self.ctx.forget(*key, uid)
        for forget in self.forget:
            forget(*key)

    async def stop(self) -> None:
        """Operator shutdown: cancel every worker (runs are crash-safe, R14)."""
        workers = list(self.workers.values())
        self.workers.clear()
        await asyncio.gather(*(w.stop() for w in workers), *self._stopping)
