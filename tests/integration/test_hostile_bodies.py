"""Bounded input (issue 7): answers that are huge, nested beyond reason, endless or that
drip in forever end the call with the vendor's transport error, never a hang, an
InternalError or a full memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from clients_helpers import FAST

from personio_sync.clients import PersonioClient
from personio_sync.clients import personio as personio_module
from personio_sync.clients._http import ATTEMPT_SECONDS, Backoff, RetryingSender
from personio_sync.clients.awork import _VENDOR as AWORK
from personio_sync.errors import AworkTransportError, PersonioTransportError


def sender(handler: Any, **bounds: Any) -> tuple[RetryingSender, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    retrying = RetryingSender(
        client,
        AWORK,
        max_retries=1,
        backoff=Backoff(base=0.001, cap=0.002),
        rate_limit_wait=lambda response, attempt: 0.0,
        **bounds,
    )
    return retrying, client


class Drip(httpx.AsyncByteStream):
    """A body that never ends: one byte now and then."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        while True:
            await asyncio.sleep(1.0)  # loop time: the test runs on looptime
            yield b" "


async def fetch(handler: Any, **bounds: Any) -> None:
    retrying, client = sender(handler, **bounds)
    async with client:
        await retrying.send("GET /absences", lambda: httpx.Request("GET", "http://awork.test/x"))


async def test_a_huge_answer_stops_at_the_size_cap() -> None:
    body = b"[" + b'{"id": "x"},' * 10_000 + b"{}]"
    with pytest.raises(AworkTransportError, match="larger than 1024 bytes"):
        await fetch(lambda request: httpx.Response(200, content=body), max_body_bytes=1024)


async def test_a_deeply_nested_answer_is_a_malformed_answer() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(AworkTransportError, match="not valid JSON"):
        await fetch(lambda request: httpx.Response(200, content=body))


@pytest.mark.looptime  # two 120 s deadlines on the loop's fast-forwarded clock
async def test_a_dripping_answer_ends_at_the_attempt_deadline() -> None:
    def drip(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Drip())

    loop = asyncio.get_running_loop()
    with pytest.raises(AworkTransportError, match="no whole answer within 120 s"):
        await fetch(drip)  # the default deadline, ATTEMPT_SECONDS
    assert loop.time() == pytest.approx(2 * ATTEMPT_SECONDS, abs=0.01)  # + 1-2 ms back-off


async def test_endless_personio_pages_stop_at_the_page_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(personio_module, "MAX_PAGES", 5)
    served: list[str] = []

    def endless(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/auth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        served.append(str(request.url))
        following = f"http://personio.test/v2/absence-types?cursor=c{len(served)}"
        meta = {"links": {"next": {"href": following}}}
        return httpx.Response(200, content=json.dumps({"_data": [], "_meta": meta}))

    async with httpx.AsyncClient(transport=httpx.MockTransport(endless)) as client:
        personio = PersonioClient(client, "http://personio.test", "id", "secret", **FAST)
        with pytest.raises(PersonioTransportError, match="past 5 pages"):
            await personio.list_absence_types()
    assert len(served) == 5
