"""SCALE-3 (with KUBE-4): a full run's `Syncing` mark waits PERSONIO_SYNC_SYNCING_MARK_SECONDS,
so a run that ends sooner writes one status PATCH, its outcome; on loop time, against
the in-memory API server of controller_fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from controller_fakes import Kube, make_context, resource

from personio_sync.controller.runs.in_flight import ProgressWriter, SyncingMark
from personio_sync.controller.view import ResourceView
from personio_sync.sync.progress import Progress

pytestmark = pytest.mark.looptime

PROGRESS = Progress(done=1, total=10, rate_per_second=1.0, eta_seconds=9.0, bottleneck=None)


def setup(**settings: float) -> tuple[Kube, SyncingMark, ProgressWriter]:
    body = resource()
    kube = Kube(body)
    ctx = make_context(kube, **settings)
    view = ResourceView.of(body)
    mark = SyncingMark(ctx, view)
    return kube, mark, ProgressWriter(ctx, view, every=0.0, mark=mark)


def marks(kube: Kube) -> list[float]:
    """When the mark was written (a merge of the conditions), in loop seconds."""
    return [at for at, kind, what in kube.writes if kind == "merge" and "conditions" in what]


async def test_scale_3_a_run_that_ends_before_the_delay_writes_no_mark() -> None:
    kube, mark, _ = setup(syncing_mark_seconds=2.0)
    async with mark.around_run():
        await asyncio.sleep(1.9)
    await asyncio.sleep(10)
    assert kube.writes == []


async def test_scale_3_kube_4_a_run_still_going_after_the_delay_is_marked_once() -> None:
    kube, mark, _ = setup(syncing_mark_seconds=2.0)
    async with mark.around_run():
        await asyncio.sleep(30)
    assert marks(kube) == [pytest.approx(2.0, abs=0.1)]
    await mark.ensure()  # asked again: written once only
    assert len(marks(kube)) == 1


async def test_scale_3_progress_before_the_delay_writes_the_mark_first() -> None:
    kube, mark, progress = setup(syncing_mark_seconds=2.0)
    async with mark.around_run():
        await asyncio.sleep(0.5)
        await progress(PROGRESS)
        await asyncio.sleep(5)
    kinds = [("conditions" in what, "progress" in what) for _, _, what in kube.writes]
    assert kinds == [(True, False), (False, True)]  # the mark, then progress; no second mark


async def test_scale_3_zero_marks_every_run_as_it_starts() -> None:
    kube, mark, _ = setup(syncing_mark_seconds=0)
    async with mark.around_run():
        assert marks(kube) == [pytest.approx(0.0, abs=0.1)]


class SlowKube(Kube):
    """Takes a second to answer a status merge."""

    async def merge_status(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1.0)
        return await super().merge_status(*args, **kwargs)


async def test_scale_3_a_mark_on_its_way_when_the_run_ends_lands_before_the_outcome() -> None:
    kube = SlowKube(resource())
    ctx = make_context(kube, syncing_mark_seconds=2.0)
    mark = SyncingMark(ctx, ResourceView.of(resource()))
    loop = asyncio.get_running_loop()
    async with mark.around_run():
        await asyncio.sleep(2.5)  # the mark was sent at 2 s and is answered at 3 s
    assert loop.time() >= 3.0  # the run's outcome is written only after that
    assert marks(kube) == [pytest.approx(3.0, abs=0.1)]
