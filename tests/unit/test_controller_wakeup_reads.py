"""SEC-1 / issue 17: a wake-up reads the Secret once and parses the spec once, and
everything it runs uses them: one full run, one Secret GET, one spec validation.

The worker runs with its real collaborators on the in-memory API server, on loop time;
the Secret lacks `aworkApiKey`, so the full run ends at SecretKeyMissing without a
vendor. Calls of `parse_spec` are counted by a profile hook, not by replacing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest
from controller_fakes import Kube, make_context, resource

from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.resource.spec import parse_spec

pytestmark = pytest.mark.looptime


@contextlib.contextmanager
def calls_of(func: Callable[..., Any]) -> Iterator[list[int]]:
    """How often `func` is called inside the block (a profile hook; `func` stays itself)."""
    count = [0]
    code = func.__code__

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            count[0] += 1

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield count
    finally:
        sys.setprofile(previous)


def reasons(kube: Kube) -> list[str]:
    """The Ready reason of every whole-status write (one per completed or failed run)."""
    return [
        next(c["reason"] for c in status["conditions"] if c["type"] == "Ready")
        for _, kind, status in kube.writes
        if kind == "status"
    ]


async def test_sec_1_one_full_run_reads_the_secret_once_and_parses_the_spec_once() -> None:
    body = resource()
    kube = Kube(body)
    kube.rotate("hr", "creds", "7", personioClientId="id-1", personioClientSecret="s-1")
    ctx = make_context(kube)
    base = ctx.settings.retry_base_seconds
    with calls_of(parse_spec) as parses:
        worker = Worker(ctx, body, slots=FairSlots(1))
        worker.start()
        try:
            await asyncio.sleep(base / 2)  # the first run, and its own writes' echoes
            assert reasons(kube) == ["SecretKeyMissing"]
            assert kube.secret_gets == 1  # the wake-up's GET fed the run
            assert parses == [1]  # the view's; the run and the status writes reuse it
            await asyncio.sleep(base)  # the back-off's retry: a new wake-up, a new read
            assert reasons(kube) == ["SecretKeyMissing"] * 2
            assert kube.secret_gets == 2
            assert parses == [1]  # the spec did not change
        finally:
            await worker.stop()
