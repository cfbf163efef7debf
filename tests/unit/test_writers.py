"""D-Writer: runs of one process claim the periods they create in their awork workspace.

Claims that overlap wait for each other and say whether the read is stale; claims that
do not overlap never wait (FAIR-2: long runs of other resources write side by side).
"""

from __future__ import annotations

import asyncio

from personio_sync.sync.writers import WriterLocks, WriterTurn

URL, KEY = "https://api.awork.example/api/v1", "key"


async def test_d_writer_disjoint_creates_never_wait_for_each_other() -> None:
    workspace = WriterLocks().get(URL, KEY)
    async with WriterTurn(workspace) as first, WriterTurn(workspace) as second:
        first.mark()
        second.mark()
        assert await first.claim(["p1", "p2"]) is False
        assert await asyncio.wait_for(second.claim(["p3"]), 1) is False


async def test_d_writer_an_overlapping_claim_waits_and_then_reads_again() -> None:
    workspace = WriterLocks().get(URL, KEY)
    second = WriterTurn(workspace)
    second.mark()
    async with WriterTurn(workspace) as first:
        first.mark()
        await first.claim(["p1"])
        waiting = asyncio.create_task(second.claim(["p1", "p2"]))
        await asyncio.sleep(0)
        assert not waiting.done()
        first.wrote = True
    assert await waiting is True  # p1 was created since second's read: read again
    second.mark()
    assert await second.claim(["p1", "p2"]) is False
    await second.__aexit__(None, None, None)
    assert workspace.claimed == {}


async def test_d_writer_a_cancelled_run_leaves_no_claim_behind() -> None:
    workspace = WriterLocks().get(URL, KEY)

    async def run() -> None:
        async with WriterTurn(workspace) as turn:
            await turn.claim(["p1"])
            await asyncio.Event().wait()

    task = asyncio.create_task(run())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert workspace.claimed == {}
    async with WriterTurn(workspace) as later:
        assert await asyncio.wait_for(later.claim(["p1"]), 1) is False


def test_d_writer_workspaces_are_keyed_by_url_and_key_and_live_while_used() -> None:
    writers = WriterLocks()
    one = writers.get(URL, KEY)
    assert writers.get(URL + "/", KEY) is one and writers.get(URL, "other") is not one
    assert KEY not in repr(vars(writers))
    del one
    assert len(writers) == 0
