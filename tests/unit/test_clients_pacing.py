"""The awork pacer (clients/_pacing.py, FAIR-1) on fast-forwarded loop time.

Every wait is measured on the event loop's clock, which looptime advances without
sleeping: the assertions say how long the pacer made a caller wait, never how fast
the test ran.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from personio_sync.clients._pacing import RateLimitPacer

pytestmark = pytest.mark.looptime


def now() -> float:
    return asyncio.get_running_loop().time()


def window(remaining: int, reset: float) -> httpx.Headers:
    return httpx.Headers({"ratelimit-remaining": str(remaining), "ratelimit-reset": str(reset)})


async def test_fair_1_without_rate_limit_headers_nothing_is_paced() -> None:
    pacer = RateLimitPacer()
    for _ in range(200):
        assert await pacer.acquire() == 0.0
        pacer.release(None)
    pacer.release(httpx.Headers({"content-type": "application/json"}))
    assert await pacer.acquire() == 0.0
    assert now() == 0.0


async def test_fair_1_a_budget_down_to_the_reserve_waits_for_the_window_reset() -> None:
    pacer = RateLimitPacer(reserve=1)
    await pacer.acquire()
    pacer.release(window(remaining=2, reset=10))
    assert await pacer.acquire() == 0.0  # 2 left: one may go, leaving the reserve
    pacer.release(None)
    waited = await pacer.acquire()  # 1 left = the reserve: wait for the reset
    assert waited == pytest.approx(10.0, abs=0.01)
    assert now() == pytest.approx(10.0, abs=0.01)
    pacer.release(None)
    assert await pacer.acquire() == 0.0  # the reset window is forgotten: requests flow again


async def test_fair_1_requests_in_flight_count_against_the_servers_remaining() -> None:
    pacer = RateLimitPacer(reserve=1)
    for _ in range(3):
        await pacer.acquire()
    pacer.release(window(remaining=4, reset=30))  # 2 still in flight: 4 - 2 = 2 left
    assert await pacer.acquire() == 0.0
    assert await pacer.acquire() == pytest.approx(30.0, abs=0.01)


async def test_fair_1_a_429_blocks_every_caller_for_the_announced_wait_in_turn() -> None:
    pacer = RateLimitPacer()
    passed: list[tuple[int, float]] = []

    async def caller(number: int) -> None:
        await pacer.acquire()
        passed.append((number, now()))

    pacer.block_for(5.0)
    async with asyncio.TaskGroup() as group:
        for number in range(3):
            group.create_task(caller(number))
    assert [n for n, _ in passed] == [0, 1, 2]
    assert all(at == pytest.approx(5.0, abs=0.01) for _, at in passed)


async def test_fair_1_a_block_extended_while_callers_wait_holds_them_longer() -> None:
    pacer = RateLimitPacer()
    pacer.block_for(5.0)
    waiting = asyncio.create_task(pacer.acquire())
    await asyncio.sleep(2.0)
    pacer.block_for(10.0)  # a second 429 arrived meanwhile: now until t = 12
    assert await waiting == pytest.approx(12.0, abs=0.01)


async def test_fair_1_announced_waits_are_capped_by_max_wait() -> None:
    pacer = RateLimitPacer(max_wait=60.0)
    pacer.block_for(3600.0)
    assert await pacer.acquire() == pytest.approx(60.0, abs=0.01)
    pacer.release(window(remaining=0, reset=86_400))
    assert await pacer.acquire() == pytest.approx(60.0, abs=0.01)


async def test_fair_1_the_burst_budget_waits_one_second_window() -> None:
    pacer = RateLimitPacer(second_window=1.0)
    await pacer.acquire()
    pacer.release(httpx.Headers({"x-ratelimit-remaining-second": "1"}))
    assert await pacer.acquire() == pytest.approx(1.0, abs=0.01)
