"""The retry loop both clients share (clients/_http.py) on fast-forwarded loop time.

A scripted httpx transport answers each attempt and notes the loop time it arrived;
the back-off, the 429 waits and the per-attempt deadline are read off those times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from personio_sync.clients._http import Backoff, Reply, RetryingSender, Vendor
from personio_sync.errors import (
    AworkRateLimited,
    AworkServerError,
    AworkStatusError,
    AworkTransportError,
)

pytestmark = pytest.mark.looptime

VENDOR = Vendor("awork", AworkTransportError, AworkRateLimited, AworkStatusError, AworkServerError)
Answer = Callable[[httpx.Request], Awaitable[httpx.Response]]


def now() -> float:
    return asyncio.get_running_loop().time()


def reply(status: int, body: bytes = b"{}", **headers: str) -> Answer:
    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return answer


def refused() -> Answer:
    async def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return answer


class Server:
    """Answers attempt n with script[n] (the last one repeats); records when each came."""

    def __init__(self, *script: Answer) -> None:
        self.script = list(script)
        self.arrivals: list[float] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append(now())
        answer = self.script[min(len(self.arrivals) - 1, len(self.script) - 1)]
        return await answer(request)

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


class Pacer:
    def __init__(self) -> None:
        self.blocks: list[float] = []
        self.released: list[httpx.Headers | None] = []

    async def acquire(self) -> float:
        return 0.0

    def release(self, headers: httpx.Headers | None) -> None:
        self.released.append(headers)

    def block_for(self, seconds: float) -> None:
        self.blocks.append(seconds)


def sender(
    server: Server, *, retries: int = 3, pacer: Pacer | None = None, **options: float
) -> RetryingSender:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    return RetryingSender(
        http,
        VENDOR,
        max_retries=retries,
        backoff=Backoff(base=1.0, cap=4.0),
        rate_limit_wait=lambda response, attempt: float(response.headers.get("retry-after", 7)),
        pacer=pacer,
        **options,  # type: ignore[arg-type]
    )


def get() -> httpx.Request:
    return httpx.Request("GET", "https://api.awork.test/api/v1/users")


async def test_fair_4_5xx_is_retried_with_capped_exponential_back_off() -> None:
    server = Server(reply(503), reply(502), reply(500), reply(200, b'{"ok": true}'))
    send = sender(server)
    result = await send.send("GET /users", get)
    assert result.status == 200 and result.body == {"ok": True}
    assert send.stats.retries == 3 and send.stats.requests == {"GET /users": 4}
    for attempt, gap in enumerate(server.gaps):  # about base * 2**n: half of it to all of it
        ceiling = min(4.0, 1.0 * 2**attempt)
        assert ceiling / 2 - 0.01 <= gap <= ceiling + 0.01, (attempt, gap)


async def test_fair_4_a_vendor_that_keeps_failing_is_unreachable_after_the_last_retry() -> None:
    server = Server(reply(503, b"maintenance"))
    send = sender(server, retries=2)
    with pytest.raises(AworkServerError) as caught:
        await send.send("GET /users", get)
    assert len(server.arrivals) == 3 and caught.value.status_code == 503
    assert "after 3 attempts" in caught.value.message


async def test_fair_4_a_429_waits_what_the_vendor_announced_and_blocks_the_pacer() -> None:
    pacer = Pacer()
    server = Server(reply(429, b"{}", **{"retry-after": "12"}), reply(200))
    send = sender(server, pacer=pacer)
    await send.send("GET /users", get)
    assert server.gaps == [pytest.approx(12.0, abs=0.01)]
    assert pacer.blocks == [12.0] and len(pacer.released) == 2
    assert send.stats.rate_limited == 1
    assert send.stats.rate_limit_wait_seconds == 12.0


async def test_a_4xx_is_a_definite_answer_and_never_retried() -> None:
    server = Server(reply(404, b'{"code": "not-found"}'))
    send = sender(server)
    result = await send.send("GET /users", get)
    assert (result.status, result.body) == (404, {"code": "not-found"})
    assert len(server.arrivals) == 1 and now() == 0.0


async def test_an_answer_that_never_completes_ends_at_the_attempt_deadline() -> None:
    async def hangs(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        return httpx.Response(200)

    server = Server(hangs)
    send = sender(server, retries=1, attempt_seconds=120.0)
    with pytest.raises(AworkTransportError, match="no whole answer within 120 s"):
        await send.send("GET /users", get)
    assert len(server.arrivals) == 2
    assert server.gaps[0] == pytest.approx(120.0 + 0.5, abs=0.51)  # deadline, then back-off


async def test_d_once_an_unsafe_request_whose_answer_was_lost_is_settled_not_resent() -> None:
    server = Server(reply(503))
    send = sender(server)
    found = Reply(201, httpx.Headers(), {"id": "a-1"})
    looked: list[float] = []

    async def settle() -> Reply | None:
        looked.append(now())
        return found

    post = lambda: httpx.Request("POST", "https://api.awork.test/api/v1/absences")  # noqa: E731
    assert await send.send("POST /absences", post, settle=settle) is found
    assert len(server.arrivals) == 1 and looked == [0.0] and send.stats.settled == 1


async def test_d_once_a_request_that_never_left_is_resent_without_settling() -> None:
    server = Server(refused(), reply(200))
    send = sender(server)
    settled: list[bool] = []

    async def settle() -> Reply | None:
        settled.append(True)
        return None

    post = lambda: httpx.Request("POST", "https://api.awork.test/api/v1/absences")  # noqa: E731
    assert (await send.send("POST /absences", post, settle=settle)).status == 200
    assert settled == [] and len(server.arrivals) == 2
