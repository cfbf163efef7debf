"""UX-17: a sync-now the worker does not run at once says why, once per request value.

On fast-forwarded loop time with stub runs (controller_fakes): a request inside the
FAIR-6 spacing gets a Normal Event with the time it will run, and runs then; one on a
suspended resource gets an Event saying it is ignored while suspended, and resuming (a
spec change) runs a sync that answers it. Wake-ups in between say nothing again.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from controller_fakes import EPOCH, Kube, Stubs, make_context, resource, stamp

from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED, Context
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.reasons import Reason

pytestmark = pytest.mark.looptime
HOUR = 3600.0
KEY = ("hr", "team")


class Setup:
    """One worker on the in-memory API server; Events kept with their messages."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.kube = Kube(body)
        self.stubs = Stubs(self.kube)
        self.events: list[tuple[str, str, str]] = []

        def event(_: Any, kind: str, reason: Reason, message: str) -> None:
            self.events.append((kind, str(reason), message))

        ctx = make_context(self.kube, sync_now_spacing_seconds=60)
        self.ctx: Context = dataclasses.replace(ctx, event=event)
        calls = self.stubs.collaborators()
        self.worker = Worker(self.ctx, copy.deepcopy(body), slots=FairSlots(2), calls=calls)

    def edit(self, *, annotations: dict[str, str] | None = None, **spec: Any) -> None:
        """A client edits the resource (a spec change bumps the generation); the watch
        delivers it to the worker."""
        body = copy.deepcopy(self.kube.bodies[KEY])
        body["metadata"].setdefault("annotations", {}).update(annotations or {})
        if spec:
            body["spec"].update(spec)
            body["metadata"]["generation"] += 1
        self.worker.observe(self.kube.put(body))

    def said(self, reason: str) -> list[str]:
        return [message for _, r, message in self.events if r == reason]

    @property
    def handled(self) -> str | None:
        annotations = self.kube.bodies[KEY]["metadata"].get("annotations", {})
        return annotations.get(SYNC_NOW_HANDLED)


Start = Callable[[dict[str, Any]], Setup]


@pytest.fixture
async def setup() -> AsyncIterator[Start]:
    """`setup(body)` starts a worker for `body`; every one started is stopped after."""
    made: list[Setup] = []

    def start(body: dict[str, Any]) -> Setup:
        made.append(Setup(body))
        made[-1].worker.start()
        return made[-1]

    yield start
    for one in made:
        await one.worker.stop()


async def test_ux_17_a_deferred_sync_now_says_when_it_runs_once_per_value(setup: Start) -> None:
    world = setup(resource())
    await asyncio.sleep(20)  # the first sync ran at 0 s
    world.edit(annotations={SYNC_NOW: "a"})
    await asyncio.sleep(1)
    (deferred,) = world.said("SyncRequestDeferred")
    assert f"a sync started at {stamp(EPOCH)}" in deferred
    assert f"it runs at {stamp(EPOCH.replace(minute=1))} (in 40 s)" in deferred
    assert world.events[-1][0] == "Normal"
    world.edit(annotations={"note": "an unrelated edit wakes the worker"})
    await asyncio.sleep(20)  # 41 s: still deferred, nothing said again
    assert len(world.said("SyncRequestDeferred")) == 1 and world.stubs.times == [0.0]
    await asyncio.sleep(20)  # 61 s: served, one minute after the first sync started
    assert world.stubs.times == pytest.approx([0.0, 60.0], abs=0.2) and world.handled == "a"
    world.edit(annotations={SYNC_NOW: "b"})  # a new value inside the next minute
    await asyncio.sleep(1)
    assert len(world.said("SyncRequestDeferred")) == 2
    assert f"it runs at {stamp(EPOCH.replace(minute=2))}" in world.said("SyncRequestDeferred")[1]


async def test_ux_17_a_sync_now_served_at_once_says_nothing(setup: Start) -> None:
    world = setup(resource())
    await asyncio.sleep(100)  # past the spacing
    world.edit(annotations={SYNC_NOW: "a"})
    await asyncio.sleep(1)
    assert world.stubs.times == pytest.approx([0.0, 100.0], abs=0.2)
    assert world.said("SyncRequestDeferred") == world.said("SyncRequestIgnored") == []


async def test_ux_17_r18_a_sync_now_while_suspended_is_ignored_and_answered_on_resume(
    setup: Start,
) -> None:
    world = setup(resource(suspend=True))
    await asyncio.sleep(10)
    world.edit(annotations={SYNC_NOW: "s"})
    await asyncio.sleep(HOUR)  # many wake-ups (the Secret check every 5 minutes)
    (ignored,) = world.said("SyncRequestIgnored")
    assert "ignored while spec.suspend is true" in ignored
    assert "setting suspend to false runs a sync at once" in ignored
    assert world.stubs.runs == [] and world.handled is None
    world.edit(suspend=False)
    await asyncio.sleep(1)
    assert len(world.stubs.runs) == 1 and world.handled == "s"
    await asyncio.sleep(HOUR - 2)  # answered: it does not run again before the schedule
    assert len(world.stubs.runs) == 1
