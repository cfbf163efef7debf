"""The per-resource Worker (R17-R19) on fast-forwarded loop time.

Its runs are stub collaborators that write a successful status; the API server is in
memory (controller_fakes). Run times are read off the loop's clock: an hourly schedule
is asserted as runs at 0 s, 3600 s, 7200 s of loop time, no real wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from controller_fakes import Kube, Stubs, make_context, resource, wall_clock

from personio_sync.clients.kube import RETRY_MAX_SECONDS
from personio_sync.controller.context import FINALIZER, SYNC_NOW, SYNC_NOW_HANDLED, Context
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.settings import OperatorSettings
from personio_sync.errors import KubeUnavailable, SyncError
from personio_sync.resource.spec import ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED

pytestmark = pytest.mark.looptime
HOUR = 3600.0


class Clock:
    """`ctx.now()` that a test can move ahead of the loop's clock (a wall-clock jump)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return wall_clock() + self.offset


class Setup:
    def __init__(self, body: dict[str, Any], leadership: Any = None) -> None:
        self.kube = Kube(body)
        self.stubs = Stubs(self.kube)
        self.events: list[tuple[str, str]] = []
        self.clock = Clock()
        self.ctx: Context = make_context(
            self.kube, now=self.clock, events=self.events, leadership=leadership
        )
        calls = self.stubs.collaborators()
        self.worker = Worker(self.ctx, copy.deepcopy(body), slots=FairSlots(2), calls=calls)
        self.worker.checks.draw = lambda: 0.0  # no spread (SCALE-2): checks on the bound

    @property
    def body(self) -> dict[str, Any]:
        return copy.deepcopy(self.kube.bodies[("hr", "team")])

    def change(self, **meta: Any) -> None:
        """A client edits the resource; the watch delivers it to the worker."""
        body = self.body
        for key, value in meta.items():
            if isinstance(value, dict):
                body["metadata"].setdefault(key, {}).update(value)
            else:
                body["metadata"][key] = value
        self.worker.observe(self.kube.put(body))

    def writes(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, what) for at, k, what in self.kube.writes if k == kind]


@pytest.fixture
async def started() -> AsyncIterator[list[Setup]]:
    """Stops every worker a test started, so none outlives it."""
    setups: list[Setup] = []
    yield setups
    for setup in setups:
        await setup.worker.stop()


async def start(started: list[Setup], body: dict[str, Any] | None = None) -> Setup:
    setup = Setup(body or resource())
    started.append(setup)
    setup.worker.start()
    await asyncio.sleep(0.1)
    return setup


async def test_r17_a_new_resource_runs_at_once_then_every_interval(started: list[Setup]) -> None:
    setup = await start(started)
    await asyncio.sleep(2 * HOUR + 1)
    assert setup.stubs.times == pytest.approx([0.0, HOUR, 2 * HOUR], abs=0.2)


async def test_r17_a_wall_clock_jump_is_noticed_at_the_next_periodic_check(
    started: list[Setup],
) -> None:
    """No event comes when the wall clock jumps an hour ahead: the worker's periodic
    re-check (every PERSONIO_SYNC_SECRET_CHECK_SECONDS, SEC-1) finds it due and runs it."""
    max_sleep = OperatorSettings().secret_check_seconds
    setup = await start(started)
    await asyncio.sleep(100)
    setup.clock.offset = timedelta(hours=1)
    await asyncio.sleep(max_sleep)
    assert setup.stubs.times == pytest.approx([0.0, max_sleep], abs=0.2)


async def test_r17_sync_now_runs_at_once_and_is_acknowledged_once(started: list[Setup]) -> None:
    setup = await start(started)
    await asyncio.sleep(100)
    setup.change(annotations={SYNC_NOW: "please-1"})
    await asyncio.sleep(1)
    assert setup.stubs.times == pytest.approx([0.0, 100.0], abs=0.2)
    annotations = setup.body["metadata"]["annotations"]
    assert annotations[SYNC_NOW_HANDLED] == "please-1"
    await asyncio.sleep(HOUR - 200)  # the handled request does not run again
    assert len(setup.stubs.runs) == 2


async def test_d_guard_a_mass_delete_consent_is_passed_to_one_run_and_used_up(
    started: list[Setup],
) -> None:
    setup = await start(started)
    setup.change(annotations={ALLOW_MASS_DELETE: "yes-1"})
    await asyncio.sleep(HOUR + 1)
    assert setup.stubs.consents == [False, True, False]
    assert setup.body["metadata"]["annotations"][ALLOW_MASS_DELETE_HANDLED] == "yes-1"


async def test_sec_1_a_rotated_secret_is_noticed_at_the_next_check_the_first_sighting_is_not(
    started: list[Setup],
) -> None:
    check = OperatorSettings().secret_check_seconds
    setup = Setup(resource())
    setup.kube.rotate("hr", "creds", "10")  # the baseline, seen at the first wake-up
    started.append(setup)
    setup.worker.start()
    await asyncio.sleep(60)
    setup.kube.rotate("hr", "creds", "11")
    await asyncio.sleep(check)
    assert setup.stubs.times == pytest.approx([0.0, check], abs=0.2)


async def test_a_failing_run_is_logged_and_tried_again_after_the_retry_base(
    started: list[Setup], caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(resource())
    setup.stubs.fail_with = RuntimeError("a bug")
    started.append(setup)
    setup.worker.start()
    base = setup.ctx.settings.retry_base_seconds
    await asyncio.sleep(2 * base + 1)
    assert setup.stubs.times == pytest.approx([0.0, base, 2 * base], abs=0.2)
    assert "team: reconcile failed" in caplog.text


async def test_kube_1_an_api_server_outage_is_retried_within_seconds_without_a_traceback(
    started: list[Setup], caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(resource())
    setup.stubs.fail_with = KubeUnavailable("down", 503)
    started.append(setup)
    setup.worker.start()
    await asyncio.sleep(2 * RETRY_MAX_SECONDS + 1)
    assert setup.stubs.times == pytest.approx([0.0, 5.0, 10.0], abs=0.2)
    assert not [r for r in caplog.records if r.exc_info]


async def test_r18_a_suspended_resource_never_runs_and_says_so_once(started: list[Setup]) -> None:
    setup = await start(started, resource(suspend=True))
    await asyncio.sleep(3 * HOUR)
    assert setup.stubs.runs == []
    assert len(setup.writes("status")) == 1 and setup.body["status"]["suspended"] is True
    assert setup.events == [("Normal", "Suspended")]


async def test_r19_the_finalizer_is_added_first_and_removed_after_clean_up(
    started: list[Setup],
) -> None:
    setup = await start(started, resource(deletionPolicy="Delete"))
    assert setup.body["metadata"]["finalizers"] == [FINALIZER]
    first_patch, first_run = setup.writes("patch")[0][0], setup.stubs.times[0]
    assert first_patch <= first_run
    setup.change(deletionTimestamp="2026-03-02T10:00:00Z")
    await asyncio.sleep(1)
    assert len(setup.stubs.cleanups) == 1 and setup.body["metadata"]["finalizers"] == []


async def test_r19_a_failing_clean_up_is_retried_with_doubling_back_off(
    started: list[Setup],
) -> None:
    setup = await start(started, resource(deletionPolicy="Delete"))
    setup.stubs.cleanup_error = SyncError("awork is down")
    base = setup.ctx.settings.retry_base_seconds
    setup.change(deletionTimestamp="2026-03-02T10:00:00Z")
    await asyncio.sleep(14 * base + 1)  # 2b + 4b + 8b after the first try
    gaps = [b - a for a, b in zip(setup.stubs.cleanups, setup.stubs.cleanups[1:], strict=False)]
    assert gaps == pytest.approx([2 * base, 4 * base, 8 * base], abs=0.2)
    assert setup.events.count(("Warning", "CleanupFailed")) == 4
    assert setup.body["metadata"]["finalizers"] == [FINALIZER]  # held until it succeeds


class Leadership:
    """ShardLeases as the worker sees it: this replica holds every shard, or none."""

    def __init__(self) -> None:
        self.leads = False
        self.gained = asyncio.Event()
        self.active = 0  # runs marked busy now

    def leading(self) -> bool:
        return self.leads

    def holds(self, key: tuple[str, str]) -> bool:
        return self.leads

    async def wait_holding(self, key: tuple[str, str]) -> None:
        await self.gained.wait()

    @contextlib.contextmanager
    def busy(self, key: tuple[str, str]) -> Iterator[None]:
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    def shard_of(self, key: tuple[str, str]) -> int:
        return 0

    identity = "pod-a/1/aaaaaa"

    def fence(self) -> None: ...

    def win(self) -> None:
        self.leads = True
        self.gained.set()


async def test_d_lease_a_replica_that_does_not_lead_runs_nothing_until_it_does(
    started: list[Setup],
) -> None:
    leadership = Leadership()
    setup = Setup(resource(), leadership)
    started.append(setup)
    setup.worker.start()
    await asyncio.sleep(2 * HOUR)
    assert setup.stubs.runs == [] and setup.kube.writes == []
    leadership.win()
    await asyncio.sleep(1)
    assert setup.stubs.times == pytest.approx([2 * HOUR], abs=0.2)


async def test_shard_5_the_shard_stays_busy_until_the_sync_now_is_answered(
    started: list[Setup],
) -> None:
    """A shard handed over between the run and its acknowledgement would have the new
    holder run the same sync-now again."""
    leadership = Leadership()
    leadership.win()
    setup = Setup(resource(), leadership)
    busy_at_patch: list[int] = []
    patch = setup.kube.patch_resource

    async def recording(namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        busy_at_patch.append(leadership.active)
        return await patch(namespace, name, body)

    setup.kube.patch_resource = recording  # type: ignore[method-assign]
    started.append(setup)
    setup.worker.start()
    await asyncio.sleep(100)
    setup.change(annotations={SYNC_NOW: "please-1"})
    await asyncio.sleep(1)
    assert setup.body["metadata"]["annotations"][SYNC_NOW_HANDLED] == "please-1"
    assert busy_at_patch[-1] == 1 and leadership.active == 0


async def test_stop_ends_the_task(started: list[Setup]) -> None:
    setup = await start(started)
    await setup.worker.stop()
    assert setup.worker.task is not None and setup.worker.task.done()
