"""The webhook receiver alone in a process, so a test can read its memory and file
descriptors in /proc while attacking it over real sockets
(test_receiver_under_attack.py).

It serves hr/acme (token HOOK_TOKEN) with the operator's WebhookReceiver, its token
cache on the in-memory API server, and a real Worker whose change queue the deliveries
feed; the worker's runs are counted, not made. Limits come as JSON in argv[1]. It says
`port <n>` when listening, then answers each line on stdin with one JSON line:
`stats` (the guard's counts and what is pending), `serve` (let the worker serve what is
pending: a targeted or a full sync, counted), `quit`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from controller_helpers import ApiServer, kube_on

from personio_sync.controller.context import Context
from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.webhooks.limits import Limits
from personio_sync.controller.webhooks.receiver import WebhookReceiver
from personio_sync.controller.webhooks.tokens import WebhookTokens


def resource() -> dict[str, Any]:
    """hr/acme, synced fully two minutes ago: a full sync changes ask for may run now."""
    before = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {"namespace": "hr", "name": "acme", "uid": "u-1", "generation": 1,
            "resourceVersion": "10"}  # fmt: skip
    status = {"observedGeneration": 1, "lastSyncTime": before, "lastSuccessfulSyncTime": before}
    spec = {"secretRef": {"name": "acme-credentials"}, "interval": "1h"}
    return {"metadata": meta, "spec": spec, "status": status}


class Runs:
    def __init__(self) -> None:
        self.full = 0
        self.targeted = 0

    async def full_run(self, *_: Any, **__: Any) -> None:
        self.full += 1

    async def targeted_run(self, *_: Any) -> None:
        self.targeted += 1

    async def nothing(self, *_: Any, **__: Any) -> Any:
        return {}


async def main(limits: Limits) -> None:
    kube = kube_on(ApiServer())
    settings = OperatorSettings(change_debounce_seconds=0)
    ctx = Context(settings=settings, kube=kube, event=lambda *_: None)
    runs = Runs()
    calls = Collaborators(
        full=runs.full_run, targeted=runs.targeted_run, poll=runs.nothing, after_run=runs.nothing
    )
    worker = Worker(ctx, resource(), slots=FairSlots(2), calls=calls)
    noted = 0

    def notify(namespace: str, name: str, changes: Any) -> bool:
        nonlocal noted
        noted += 1
        worker.note_changes(changes)
        return (namespace, name) == ("hr", "acme")

    receiver = WebhookReceiver(
        secret_of=lambda ns, name: "acme-credentials" if (ns, name) == ("hr", "acme") else None,
        notify=notify,
        tokens=WebhookTokens(kube),
        metrics=Metrics(),
        limits=limits,
    )
    port = await receiver.start("127.0.0.1", 0)
    print(f"port {port}", flush=True)
    while (line := (await asyncio.to_thread(sys.stdin.readline)).strip()) != "quit" and line:
        if line == "serve":
            await worker.changes.between_full_runs(worker.view, worker.seen)
            await worker._step()
            await worker._step()  # nothing more to do: a second full sync would show here
        pending = worker.changes.pending
        answer = {
            "open": receiver.guard.open,
            "peak": receiver.guard.peak,
            "closed": dict(receiver.guard.counts),
            "noted": noted,
            "pending_ids": 0 if pending is None else pending.size,
            "pending_full": pending is not None and pending.full,
            "full_requested": worker.changes.full_requested,
            "full_runs": runs.full,
            "targeted_runs": runs.targeted,
        }
        print(json.dumps(answer), flush=True)
    await receiver.stop()
    await kube.close()


if __name__ == "__main__":
    asyncio.run(main(Limits(**json.loads(sys.argv[1]))))
