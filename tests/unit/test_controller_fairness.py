"""FAIR-7 and FAIR-8 through the Supervisor and real Workers, on fast-forwarded loop time.

FAIR-7: targeted syncs, clean-ups and quick polls take their slot under their resource's
namespace like full syncs, so a webhook flood or many quick-polling resources in one
namespace wait behind its FAIR-5 cap. FAIR-8: a deleted resource leaves nothing behind,
and one re-created under its name starts clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from controller_fakes import Kube, Stubs, make_context, now, resource, until, wall_clock

from personio_sync.clients.kube import KubeClient
from personio_sync.controller.context import Context
from personio_sync.controller.loop.slots import FairSlots, Priority
from personio_sync.controller.loop.supervisor import Supervisor
from personio_sync.controller.reporting.events import EventPoster
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.view import ResourceView
from personio_sync.controller.webhooks.recorder import EventRecorder
from personio_sync.controller.webhooks.tokens import WebhookTokens
from personio_sync.reasons import EventReason
from personio_sync.resource.status import LastEvent

pytestmark = pytest.mark.looptime
KEY = ("hr", "team")


def body_in(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    body = resource(name, f"uid-{namespace}-{name}", **spec)
    body["metadata"]["namespace"] = namespace
    return body


def webhook(*periods: str) -> Changes:
    return Changes(detected_at=wall_clock(), source="webhook", period_ids=frozenset(periods))


class Held:
    """Full syncs of the `slow` resources and every targeted sync hold their slot until
    `gate` opens; the others are the quick stubs'."""

    def __init__(self, kube: Kube, slow: set[str]) -> None:
        self.stubs, self.slow, self.gate = Stubs(kube), slow, asyncio.Event()
        self.running: list[tuple[str, str, str]] = []  # (namespace, name, kind)

    async def full(
        self, ctx: Context, view: ResourceView, seen: Any, *, allow_mass_delete: bool = False
    ) -> dict[str, Any]:
        if view.name in self.slow:
            await self._hold(view, "full")
        return await self.stubs.full(ctx, view, seen, allow_mass_delete=allow_mass_delete)

    async def targeted(self, ctx: Context, view: ResourceView, *_: Any) -> None:
        await self._hold(view, "targeted")

    async def _hold(self, view: ResourceView, kind: str) -> None:
        entry = (view.namespace, view.name, kind)
        self.running.append(entry)
        try:
            await self.gate.wait()
        finally:
            self.running.remove(entry)

    def running_in(self, namespace: str) -> list[tuple[str, str, str]]:
        return [entry for entry in self.running if entry[0] == namespace]


async def test_fair_7_a_flood_of_targeted_syncs_leaves_other_namespaces_their_slots() -> None:
    synced = [body_in("a", f"a{i}") for i in range(2, 6)]
    slow = [body_in("a", "a0"), body_in("a", "a1")]
    late = body_in("b", "b0")
    kube = Kube(*(copy.deepcopy(b) for b in (*synced, *slow, late)))
    held = Held(kube, slow={"a0", "a1"})
    slots = FairSlots(4)  # two per namespace (FAIR-5)
    calls = held.stubs.collaborators(full=held.full, targeted=held.targeted)
    supervisor = Supervisor(make_context(kube, change_debounce_seconds=1), slots, calls)
    try:
        for body in synced:
            supervisor.observe("ADDED", copy.deepcopy(body))
        await until(lambda: len(held.stubs.runs) == len(synced))  # first syncs done
        for body in slow:  # long full syncs: namespace a's two slots
            supervisor.observe("ADDED", copy.deepcopy(body))
        await until(lambda: len(held.running) == 2)
        for body in synced:  # then a webhook flood for every other resource of a
            supervisor.note_changes("a", body["metadata"]["name"], webhook("p1", "p2"))
        await until(lambda: slots.in_use + slots.waiting == 2 + len(synced))  # all asked
        supervisor.observe("ADDED", copy.deepcopy(late))
        await until(lambda: "b0" in [name for _, name in held.stubs.runs], within=5)
        assert len(held.running_in("a")) == 2  # the flood waits behind its own cap
        assert slots.held_by_namespace == {"a": 2}
        held.gate.set()
        await until(lambda: slots.in_use == 0 and slots.waiting == 0)
        assert all(worker.changes.pending is None for worker in supervisor.workers.values())
    finally:
        await supervisor.stop()


@contextlib.asynccontextmanager
async def supervising(
    body: dict[str, Any], slots: FairSlots, **calls: Any
) -> AsyncIterator[tuple[Supervisor, Kube, Stubs]]:
    """One resource, ADDED to a supervisor whose runs are stubs (`calls` replace some)."""
    kube = Kube(copy.deepcopy(body))
    stubs = Stubs(kube)
    supervisor = Supervisor(make_context(kube), slots, stubs.collaborators(**calls))
    try:
        supervisor.observe("ADDED", copy.deepcopy(body))
        yield supervisor, kube, stubs
    finally:
        await supervisor.stop()


async def test_fair_7_quick_polls_wait_for_a_slot_of_their_namespace() -> None:
    polls: list[float] = []

    async def poll(*_: Any) -> dict[str, str]:
        polls.append(now())
        return {}

    slots = FairSlots(2, per_namespace=1)
    async with supervising(resource(quickInterval="1m"), slots, poll=poll):
        await until(lambda: len(polls) == 1)  # right after the first sync
        await slots.acquire(Priority.LONG, "hr")  # another run of hr holds its one slot
        await until(lambda: slots.waiting == 1, within=120)  # the next poll queues for it
        assert len(polls) == 1
        released = now()
        slots.release(Priority.LONG, "hr")
        await until(lambda: len(polls) == 2, within=1)
        assert polls[1] >= released


async def test_fair_7_a_clean_up_takes_a_slot_of_its_namespace() -> None:
    slots = FairSlots(2)
    holders: list[dict[str, int]] = []

    async def clean_up(ctx: Context, view: ResourceView, seen: Any, *, slot: Any) -> None:
        async with slot():
            holders.append(dict(slots.held_by_namespace))

    body = resource(deletionPolicy="Delete")
    async with supervising(body, slots, clean_up=clean_up) as (supervisor, kube, stubs):
        await until(lambda: len(stubs.runs) == 1)
        deleting = copy.deepcopy(kube.bodies[KEY])
        deleting["metadata"]["deletionTimestamp"] = "2026-03-02T10:00:00Z"
        supervisor.observe("MODIFIED", kube.put(deleting))
        await until(lambda: len(holders) == 1)
        assert holders == [{"hr": 1}]  # counted against hr's cap (FAIR-5), not a namespace ""


@pytest.mark.parametrize("gone", ["deleted", "re-created while the watch was away"])
async def test_fair_8_a_deleted_resource_leaves_no_state_and_its_successor_starts_clean(
    gone: str,
) -> None:
    old = resource(uid="uid-old", quickInterval="1m")
    kube = Kube(copy.deepcopy(old))
    stubs = Stubs(kube)
    listed = {"p1": "2026-03-02T08:00:00"}

    async def poll(*_: Any) -> dict[str, str]:
        return dict(listed)

    poster = EventPoster(lambda *_: None, wall_clock)
    ctx = dataclasses.replace(make_context(kube, change_debounce_seconds=300), event=poster)
    recorder = EventRecorder(ctx.writes, ctx.last_events)
    secrets = Kube()  # the receiver's reads, counted apart from the workers'
    secrets.rotate("hr", "creds", "1", personioWebhookToken="w" * 32)
    tokens = WebhookTokens(cast(KubeClient, secrets))
    hooks = (recorder.forget, tokens.forget)
    supervisor = Supervisor(ctx, FairSlots(2), stubs.collaborators(poll=poll), forget=hooks)
    try:
        supervisor.observe("ADDED", copy.deepcopy(old))
        worker = supervisor.workers[KEY]
        await until(lambda: worker.changes.pending is not None)  # the poll's, debounced
        supervisor.note_changes(*KEY, webhook("p2"))
        recorder(
            *KEY, LastEvent(time=wall_clock(), kind="absence-period.created", outcome="accepted")
        )
        assert await tokens.token(*KEY, "creds", stale=False) == "w" * 32
        ctx.event(worker.view.body, "Warning", EventReason.CLEANUP_FAILED, "it stands")
        ctx.metrics.observe_status(*KEY, {**old, "status": {"lastRun": {"conflicts": 3}}})
        assert b"personio_sync_conflicts{" in ctx.metrics.render()  # a per-resource series
        await until(lambda: any(kind == "merge" for _, kind, _ in kube.writes))  # lastEvent
        assert worker.changes.polls.stamps and len(poster) == 1

        new = resource(uid="uid-new", quickInterval="1m")
        if gone == "deleted":
            supervisor.observe("DELETED", copy.deepcopy(kube.bodies[KEY]))
        kube.bodies[KEY] = copy.deepcopy(new)
        listed.clear()
        supervisor.observe("ADDED" if gone == "deleted" else "MODIFIED", copy.deepcopy(new))

        fresh = supervisor.workers[KEY]
        assert fresh is not worker and fresh.uid == "uid-new"
        assert fresh.changes.pending is None and fresh.changes.polls.stamps == {}
        assert ctx.last_events == {} and recorder.latest == {}
        assert len(poster) == 0  # its standing Warning is forgotten
        assert b"personio_sync_conflicts{" not in ctx.metrics.render()
        reads = secrets.secret_gets
        assert await tokens.token(*KEY, "creds", stale=False) == "w" * 32
        assert secrets.secret_gets == reads + 1  # read anew, not the old resource's cache
        await until(lambda: len(stubs.runs) == 2)  # the new one's first sync, at once
        assert fresh.changes.pending is None  # nothing inherited to serve
    finally:
        await recorder.stop()
        await supervisor.stop()


class SlowStatus:
    """An API server whose status merges wait for `gate`, then land in `merged`."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.merged: list[str] = []

    async def merge_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        await self.gate.wait()
        self.merged.append(patch["lastEvent"]["kind"])


async def test_fair_8_a_last_event_write_in_flight_does_not_reach_a_re_created_resource() -> None:
    api = SlowStatus()
    ctx = make_context(api)
    recorder = EventRecorder(ctx.writes, ctx.last_events)
    try:
        recorder(*KEY, LastEvent(time=wall_clock(), kind="old.event", outcome="accepted"))
        await asyncio.sleep(0)  # its write is on its way
        recorder.forget(*KEY)  # the resource is deleted (Supervisor._end)
        recorder(*KEY, LastEvent(time=wall_clock(), kind="new.event", outcome="accepted"))
        api.gate.set()
        await until(lambda: api.merged != [])
        assert api.merged == ["new.event"]
    finally:
        await recorder.stop()


async def test_fair_8_a_run_ending_as_its_resource_is_deleted_keeps_nothing_for_it() -> None:
    body = resource()
    kube = Kube(copy.deepcopy(body))
    gate = asyncio.Event()
    stubs = Stubs(kube)

    async def full(ctx: Context, view: ResourceView, *_: Any, **__: Any) -> None:
        await gate.wait()
        ctx.metrics.observe_error(view.namespace, view.name, 1.0)  # as a run's end counts

    ctx = make_context(kube)
    supervisor = Supervisor(ctx, FairSlots(2), stubs.collaborators(full=full))
    try:
        supervisor.observe("ADDED", copy.deepcopy(body))
        await until(lambda: supervisor.slots.in_use == 1)
        gate.set()  # the run ends in the same step as the DELETED event arrives
        supervisor.observe("DELETED", copy.deepcopy(body))
        await until(lambda: supervisor.slots.in_use == 0)
        assert b'name="team"' not in ctx.metrics.render()
    finally:
        await supervisor.stop()
