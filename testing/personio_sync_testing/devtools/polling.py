"""Wait for state with a deadline instead of sleeping (tests must never guess a delay).

    eventually(lambda: api.get(path)["status"]["users"]["matched"] == 3, within=30)

The check may return a truthy value (returned to the caller) or raise AssertionError /
KeyError while the state is not there yet; the last failure is reported at the deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")
RETRYABLE = (AssertionError, LookupError)


class Timeout(AssertionError):
    """The state did not appear in time; the message says what was last seen."""


def eventually(
    check: Callable[[], T], *, within: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    end = time.monotonic() + within
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except RETRYABLE as exc:
            last = exc
        if time.monotonic() >= end:
            raise Timeout(f"{what or 'condition'} not met within {within}s; last: {last!r}")
        time.sleep(interval)


async def eventually_async(
    check: Callable[[], Awaitable[T] | T],
    *,
    within: float = 30.0,
    interval: float = 0.1,
    what: str = "",
) -> T:
    """`eventually` inside an event loop: waits with `asyncio.sleep`, so the state can
    change meanwhile; `check` may be a coroutine function or a plain one."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    last: object = None
    while True:
        try:
            outcome = check()
            result = cast(T, await outcome if inspect.isawaitable(outcome) else outcome)
            if result:
                return result
            last = result
        except RETRYABLE as exc:
            last = exc
        if loop.time() >= end:
            raise Timeout(f"{what or 'condition'} not met within {within}s; last: {last!r}")
        await asyncio.sleep(interval)
