"""Rate limiters in the two vendors' styles, with a time scale for the benchmark.

Personio v2 uses a token bucket per endpoint (Spring Cloud Gateway headers);
awork counts requests per workspace in fixed one-second and one-minute windows.
`time_scale` multiplies refill rates and divides window lengths, so a simulated
minute lasts 60/time_scale real seconds.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


class TokenBucket:
    """A bucket of `capacity` tokens refilled at `rate` per (scaled) second."""

    def __init__(self) -> None:
        self._tokens: float | None = None
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self, rate: float, capacity: float, scale: float) -> tuple[bool, int]:
        """Take one token; returns (allowed, tokens remaining)."""
        with self._lock:
            now = time.monotonic()
            tokens = capacity if self._tokens is None else self._tokens
            tokens = min(capacity, tokens + (now - self._stamp) * rate * scale)
            self._stamp = now
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._tokens = tokens
            return allowed, int(tokens)


@dataclass(frozen=True)
class WindowVerdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int


class FixedWindow:
    """Counts hits in consecutive windows of `length_s` (scaled) seconds."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._count = 0
        self._lock = threading.Lock()

    def hit(
        self, limit: int, length_s: float, scale: float, *, count: bool = True
    ) -> WindowVerdict:
        """Count one request (unless `count` is False: a request refused by another window)."""
        with self._lock:
            now = time.monotonic()
            length = length_s / scale
            if now - self._start >= length:
                self._start, self._count = now, 0
            allowed = self._count < limit
            if allowed and count:
                self._count += 1
            reset = max(1, math.ceil(self._start + length - now))
            return WindowVerdict(allowed, limit, max(0, limit - self._count), reset)
