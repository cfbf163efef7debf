"""Client-side pacing for awork's per-workspace rate limit (one pacer per workspace).

awork answers every request with `ratelimit-remaining` (requests left in the current
window) and `ratelimit-reset` (seconds until that window resets), plus
`x-ratelimit-remaining-second` for its 50/s burst limit. Reacting to 429s alone
makes concurrent writers fire into the limit together and back off together (a
429 storm), so the pacer mirrors the server's budget locally:

* every response refreshes the budget: server `remaining` minus the requests still
  in flight (the server has not counted those yet);
* every request takes one unit; when a budget falls to `reserve`, callers queue on
  one lock and sleep until that window resets instead of sending;
* a 429 blocks every caller for the announced wait (`block_for`).

A window whose reset has passed is forgotten (budget unknown → requests flow until
the next response tells us again). Without rate-limit headers nothing is paced.
The 429 handling in the retry loop stays the backstop.

awork's budget belongs to the workspace, not to a client: concurrent runs with the
same API key that paced themselves separately each spent the whole budget and together
hit 429. `PacerRegistry` hands every client of one workspace the same pacer (FAIR-1).
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from dataclasses import dataclass

import httpx

SECOND_WINDOW = 1.0


@dataclass
class _Window:
    remaining: int
    reset_at: float


class RateLimitPacer:
    """One awork workspace's budget: shared by every client and run against it (through
    PacerRegistry, FAIR-1); safe for concurrent callers on one loop."""

    def __init__(
        self, *, reserve: int = 1, max_wait: float = 60.0, second_window: float = SECOND_WINDOW
    ) -> None:
        self._reserve = reserve
        self._second_window = second_window
        self._max_wait = max_wait
        self._windows: dict[str, _Window] = {}
        self._blocked_until = 0.0
        self._in_flight = 0
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait until the mirrored budget allows one more request; returns seconds waited
        (queueing behind other waiting callers included)."""
        started = _now()
        async with self._lock:
            while True:  # re-check after each sleep: a 429 may have extended the block meanwhile
                wait = self._wait_needed()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            for window in self._windows.values():
                window.remaining -= 1
            self._in_flight += 1
        return _now() - started

    def release(self, headers: httpx.Headers | None) -> None:
        """Called once per acquired request with its response headers (None on failure)."""
        self._in_flight = max(0, self._in_flight - 1)
        if headers is None:
            return
        now = _now()
        remaining = _number(headers, "ratelimit-remaining")
        reset = _number(headers, "ratelimit-reset")
        if remaining is not None and reset is not None:
            reset_at = now + min(max(reset, 0.0), self._max_wait)
            self._windows["window"] = _Window(int(remaining) - self._in_flight, reset_at)
        per_second = _number(headers, "x-ratelimit-remaining-second")
        if per_second is not None:
            self._windows["second"] = _Window(
                int(per_second) - self._in_flight, now + self._second_window
            )

    def block_for(self, seconds: float) -> None:
        """After a 429: nobody sends until the server's announced wait is over."""
        self._blocked_until = max(self._blocked_until, _now() + min(seconds, self._max_wait))

    def _wait_needed(self) -> float:
        now = _now()
        self._windows = {k: w for k, w in self._windows.items() if w.reset_at > now}
        waits = [self._blocked_until - now]
        waits += [w.reset_at - now for w in self._windows.values() if w.remaining <= self._reserve]
        return max(0.0, *waits)


class PacerRegistry:
    """One `RateLimitPacer` per awork workspace, shared by every run against it (FAIR-1).

    Keyed by a hash of base URL and API key: the key itself is never kept where a dump
    of the registry could show it. A pacer lives while some client uses it (weak values),
    so a rotated key leaves nothing behind."""

    def __init__(self, *, max_wait: float = 60.0, second_window: float = SECOND_WINDOW) -> None:
        self._max_wait = max_wait
        self._second_window = second_window
        self._pacers: weakref.WeakValueDictionary[str, RateLimitPacer] = (
            weakref.WeakValueDictionary()
        )

    def __len__(self) -> int:
        return len(self._pacers)

    def get(self, base_url: str, api_key: str) -> RateLimitPacer:
        key = workspace_key(base_url, api_key)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = RateLimitPacer(max_wait=self._max_wait, second_window=self._second_window)
            self._pacers[key] = pacer
        return pacer


def workspace_key(base_url: str, api_key: str) -> str:
    """Which awork budget a client spends: same URL and key, same workspace."""
    raw = f"{base_url.rstrip('/')}\n{api_key}".encode()
    return hashlib.sha256(raw).hexdigest()


def _now() -> float:
    return asyncio.get_running_loop().time()


def _number(headers: httpx.Headers, name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value.split(",")[0].strip())
    except ValueError:
        return None


def rate_limit_header_wait(headers: httpx.Headers) -> float | None:
    """awork's announced wait after a 429: `ratelimit-reset`, then `Retry-After`, then the
    x-ratelimit counters (an exhausted per-second budget means about 1 s); None if silent."""
    for name in ("ratelimit-reset", "retry-after"):
        value = _number(headers, name)
        if value is not None:
            return max(value, 0.0)
    if _number(headers, "x-ratelimit-remaining-second") == 0:
        return SECOND_WINDOW
    if _number(headers, "x-ratelimit-remaining-minute") == 0:
        return 60.0
    return None
