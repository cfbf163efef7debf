"""What the webhook receiver allows anyone on the internet (HOOK-9, HOOK-10).

The port is public (an Ingress in front), so every resource an unauthenticated caller can
make it hold is bounded here: how long a connection may take to send its headers and its
body, how many connections may be open, how long any may live, how many deliveries a
resource takes per second, and how many wrong tokens one address may try. The numbers
are settings (settings.py); the buckets take a clock, so tests do not wait.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from personio_sync.controller.settings import OperatorSettings

K = TypeVar("K", bound=Hashable)


# Each limit and the setting it comes from; the setting's default is the limit's default,
# so the numbers live in one place (settings.py).
_SETTING_OF = {
    "header_seconds": "webhook_header_timeout_seconds",
    "body_seconds": "webhook_body_timeout_seconds",
    "max_connections": "webhook_max_connections",
    "lifetime_seconds": "webhook_connection_lifetime_seconds",
    "burst": "webhook_burst",
    "per_second": "webhook_per_second",
    "failures": "webhook_wrong_tokens",
    "failure_window_seconds": "webhook_wrong_token_window_seconds",
}


def _default(limit: str) -> Any:
    return OperatorSettings.model_fields[_SETTING_OF[limit]].default


@dataclass(frozen=True)
class Limits:
    header_seconds: float = _default("header_seconds")  # request line and headers
    body_seconds: float = _default("body_seconds")  # an authenticated body, once its read began
    max_connections: int = _default("max_connections")
    lifetime_seconds: float = _default("lifetime_seconds")  # any connection, whatever it does
    burst: int = _default("burst")  # deliveries per resource at once ...
    per_second: float = _default("per_second")  # ... and refilled at this rate
    failures: int = _default("failures")  # wrong tokens per caller address ...
    failure_window_seconds: float = _default("failure_window_seconds")  # ... per this long
    callers: int = 4096  # caller addresses remembered; the stalest is forgotten first

    @classmethod
    def of(cls, settings: OperatorSettings) -> Limits:
        return cls(**{limit: getattr(settings, name) for limit, name in _SETTING_OF.items()})


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets(Generic[K]):
    """A token bucket per key: `take` spends one and says how long to wait when none is
    left. At most `max_keys` keys are kept (least recently used forgotten first), so a
    caller cannot grow the table by varying the key; a forgotten key starts full."""

    def __init__(
        self,
        capacity: int,
        per_second: float,
        *,
        max_keys: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity, self._rate, self._max_keys = float(capacity), per_second, max_keys
        self._clock = clock
        self._buckets: OrderedDict[K, _Bucket] = OrderedDict()

    def _refilled(self, key: K) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._capacity, now)
            if self._max_keys is not None and len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            gained = max(now - bucket.at, 0.0) * self._rate
            bucket.tokens, bucket.at = min(self._capacity, bucket.tokens + gained), now
            self._buckets.move_to_end(key)
        return bucket

    def wait(self, key: K) -> float:
        """Seconds until `key` may spend one (0: now); spends nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self._rate

    def take(self, key: K) -> float:
        """Spend one: 0 when allowed, else the seconds until one is back (nothing spent)."""
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def forget(self, key: K) -> None:
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> str:
    """The `Retry-After` header: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
