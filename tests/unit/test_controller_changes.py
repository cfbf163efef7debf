"""NRT-3 / NRT-4 in the worker: changes are gathered, then served by one targeted sync; a
change too wide, marked full, or a failed targeted sync asks for one full sync; quick
polls turn new `updated_at` stamps into pending changes, once per stamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from controller_fakes import make_context, mock_kube

from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.supervisor import Supervisor
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.runs.changed import Changes
from personio_sync.errors import PersonioTransportError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def resource(**spec: Any) -> dict[str, Any]:
    meta = {"namespace": "hr", "name": "team", "generation": 1, "resourceVersion": "5", "uid": "u"}
    status = {"observedGeneration": 1, "lastSyncTime": "2026-03-02T08:59:00Z"}
    return {"metadata": meta, "spec": {"secretRef": {"name": "creds"}, **spec}, "status": status}


class Calls:
    """The worker's targeted sync and quick poll, recorded (its collaborators)."""

    def __init__(self) -> None:
        self.targeted: list[Changes] = []
        self.polls: list[datetime] = []
        self.fail: Exception | None = None
        self.listed: dict[str, str] = {}
        self.full: list[datetime] = []  # when each full run started

    async def run_changes(self, *args: Any) -> None:
        changes = args[4]
        if self.fail is not None:
            raise self.fail
        self.targeted.append(changes)

    async def poll(self, *args: Any) -> dict[str, str]:
        self.polls.append(args[4])
        return dict(self.listed)

    async def full_run(self, ctx: Any, view: Any, *_: Any, **__: Any) -> None:
        self.full.append(ctx.now())

    async def after_run(self, *_: Any) -> None:
        pass


class World:
    """A worker on a clock, its API server's PATCHes, and its recorded runs."""

    def __init__(self, body: dict[str, Any], **settings: Any) -> None:
        self.clock, self.patches, self.calls = Clock(), [], Calls()  # type: ignore[var-annotated]

        def api_server(request: httpx2.Request) -> httpx2.Response:
            self.patches.append(request)
            return httpx2.Response(200, json={"metadata": {"resourceVersion": "9"}})

        knobs = {"change_debounce_seconds": 2, "change_full_threshold": 3, **settings}
        self.ctx = make_context(mock_kube(api_server), now=self.clock, **knobs)
        calls = Collaborators(
            targeted=self.calls.run_changes,
            poll=self.calls.poll,
            full=self.calls.full_run,
            after_run=self.calls.after_run,
        )
        self.worker = Worker(self.ctx, body, slots=FairSlots(2), calls=calls)

    async def between_full_runs(self) -> float | None:
        return await self.worker.changes.between_full_runs(self.worker.view, self.worker.seen)


def change(*periods: str, full: bool = False, at: datetime = NOW) -> Changes:
    return Changes(detected_at=at, source="webhook", period_ids=frozenset(periods), full=full)


async def test_nrt_3_a_burst_is_debounced_into_one_targeted_sync() -> None:
    w = World(resource())
    w.worker.note_changes(change("a"))
    w.worker.note_changes(change("b", at=NOW - timedelta(seconds=5)))
    assert await w.between_full_runs() == 2.0  # waits out the debounce
    assert w.calls.targeted == []
    w.clock.now += timedelta(seconds=2)
    await w.between_full_runs()
    [served] = w.calls.targeted
    assert served.period_ids == {"a", "b"} and served.detected_at == NOW - timedelta(seconds=5)
    assert w.worker.changes.pending is None and not w.worker.changes.full_requested


@pytest.mark.parametrize("wide", [change("a", "b", "c", "d"), change("a", full=True)])
async def test_nrt_3_a_wide_or_full_change_asks_for_one_full_sync(wide: Changes) -> None:
    w = World(resource())
    w.worker.note_changes(wide)
    w.clock.now += timedelta(seconds=2)
    await w.between_full_runs()
    assert w.calls.targeted == [] and w.worker.changes.full_requested
    recorded = [p for p in w.patches if p.method == "PATCH"]
    assert b"FullSync" in recorded[-1].content


async def test_nrt_3_a_failed_targeted_sync_asks_for_a_full_sync() -> None:
    w = World(resource())
    w.calls.fail = PersonioTransportError("Personio did not answer")
    w.worker.note_changes(change("a"))
    w.clock.now += timedelta(seconds=2)
    await w.between_full_runs()
    assert w.worker.changes.full_requested
    assert b"Personio did not answer" in [p for p in w.patches if p.method == "PATCH"][-1].content


async def test_nrt_4_quick_polls_sync_each_new_stamp_once() -> None:
    w = World(resource(quickInterval="1m"), change_debounce_seconds=0)
    calls = w.calls
    calls.listed = {"a": "2026-03-02T08:00:00", "b": "2026-03-02T08:30:00"}
    await w.between_full_runs()  # polls, then serves at once (no debounce)
    assert calls.polls == [NOW - timedelta(minutes=65)]
    assert [c.period_ids for c in calls.targeted] == [{"a", "b"}]
    await w.between_full_runs()  # nothing new: no second poll yet, nothing pending
    assert len(calls.polls) == len(calls.targeted) == 1
    assert calls.targeted[0].source == "poll"
    w.clock.now += timedelta(minutes=1)
    calls.listed["b"] = "2026-03-02T09:00:20"
    await w.between_full_runs()
    assert calls.polls[-1] == NOW - timedelta(minutes=65)  # the last poll minus the margin
    assert [c.period_ids for c in calls.targeted] == [{"a", "b"}, {"b"}]
    assert await w.between_full_runs() == 60.0  # next poll


async def test_nrt_4_no_quick_interval_no_polls() -> None:
    w = World(resource())
    assert await w.between_full_runs() is None
    assert w.calls.polls == []


def test_supervisor_routes_changes_to_the_known_worker_only() -> None:
    w = World(resource())
    supervisor = Supervisor(w.ctx, FairSlots(2))
    supervisor.workers[("hr", "team")] = w.worker
    assert supervisor.note_changes("hr", "team", change("a"))
    assert w.worker.changes.pending == change("a") and w.worker.wake.is_set()
    assert not supervisor.note_changes("hr", "other", change("a"))


async def test_hook_12_a_flood_of_distinct_ids_holds_none_of_them_and_runs_one_full_sync() -> None:
    """Past the threshold (3 here) the ids are dropped: 5,000 distinct ids leave one
    `full` change with no ids pending, and one full sync serves them all."""
    w = World(resource())
    for i in range(5000):
        w.worker.note_changes(change(f"p-{i}", at=NOW - timedelta(seconds=i % 7)))
    pending = w.worker.changes.pending
    assert pending is not None and pending.full and pending.overflowed and pending.size == 0
    assert pending.detected_at == NOW - timedelta(seconds=6)  # the latency still counts
    w.clock.now += timedelta(seconds=2)
    await w.between_full_runs()
    assert w.calls.targeted == [] and w.worker.changes.full_requested
    recorded = [p for p in w.patches if p.method == "PATCH"]
    assert b"more than 3 changes" in recorded[-1].content
    await w.worker._step()
    await w.worker._step()
    assert w.calls.full == [w.clock.now] and not w.worker.changes.full_requested


def test_hook_12_up_to_the_threshold_the_ids_are_kept() -> None:
    w = World(resource())
    for pid in ("a", "b", "c", "b"):
        w.worker.note_changes(change(pid))
    pending = w.worker.changes.pending
    assert pending is not None and pending.period_ids == {"a", "b", "c"} and not pending.full


@pytest.mark.parametrize("cause", ["flood", "failed targeted sync"])
async def test_hook_13_forced_full_syncs_are_spaced_like_fair_6(cause: str) -> None:
    """A full sync that changes ask for starts at most once per spacing after the previous
    run started (the status says when): 20 s after it, it waits the other 40 s."""
    body = resource()
    body["status"]["lastSyncTime"] = "2026-03-02T08:59:40Z"
    w = World(body, sync_now_spacing_seconds=60)
    if cause == "flood":
        w.worker.note_changes(change("a", "b", "c", "d"))
    else:
        w.calls.fail = PersonioTransportError("Personio did not answer")
        w.worker.note_changes(change("a"))
    w.clock.now += timedelta(seconds=2)
    await w.between_full_runs()
    assert w.worker.changes.full_requested
    assert await w.worker._step() == 38.0
    assert w.calls.full == []
    w.clock.now += timedelta(seconds=38)
    await w.worker._step()
    assert w.calls.full == [NOW + timedelta(seconds=40)]
