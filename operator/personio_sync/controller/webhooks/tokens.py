"""The webhook token per resource (HOOK-1, HOOK-4, HOOK-11): the Secret key
`personioWebhookToken`.

Personio sends the configured token as-is in `Authorization`; it is compared in constant
time. A token shorter than MIN_LENGTH counts as none: the endpoint is not there. The
cached token only tells a delivery that may be right (read again, so a rotated or removed
token stops at once) from a guess (whose reads are spaced by `refresh_seconds`).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from personio_sync.clients.kube import KubeClient
from personio_sync.sync.credentials import secret_value

TOKEN_KEY = "personioWebhookToken"
MIN_LENGTH = 32  # HOOK-11: characters, `Bearer ` not counted; `openssl rand -hex 32` gives 64


def _bare(token: str) -> str:
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


def too_short(token: str) -> bool:
    """HOOK-11: a token anyone could guess in a few tries does not open the endpoint."""
    return len(_bare(token)) < MIN_LENGTH


def token_matches(presented: str, configured: str) -> bool:
    """Constant time; `Bearer ` in front of either side is ignored (Personio sends the
    configured token as-is, so admins may or may not have added it)."""
    return hmac.compare_digest(_bare(presented).encode(), _bare(configured).encode())


@dataclass
class _Cached:
    secret: str
    version: str | None
    token: str | None  # None: the Secret or its personioWebhookToken key is missing
    fetched: float


class WebhookTokens:
    """The webhook token per resource, read with one GET of its Secret when needed.

    `known` answers from memory, without I/O: it tells a delivery that may carry the
    right token from a guess. A delivery that may be right is checked against a fresh read
    (`fresh=True`): one begun after it asked, so a rotated or removed token stops working
    at its next use, and a burst that queues behind one read shares the next. The
    receiver's per-resource rate limit bounds those reads. Any other lookup hits the API
    server only on a cache miss, when the entry is older than `max_age`, or (for a token
    that does not match) when the last read is older than `refresh_seconds`: a flood of
    wrong tokens costs one GET per resource every few seconds, and a new token is picked
    up by the first delivery that uses it after that."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        refresh_seconds: float = 5.0,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._refresh, self._max_age, self._clock = refresh_seconds, max_age, clock
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def known(self, namespace: str, name: str, secret: str) -> str | None:
        """The token last read for this resource and Secret, however long ago; no I/O. It
        only sorts deliveries (one that matches is checked against a fresh read), so its
        age does not matter, and an old one must not turn a right token into a guess."""
        cached = self._cache.get((namespace, name))
        if cached is None or cached.secret != secret:
            return None
        return cached.token

    async def token(
        self, namespace: str, name: str, secret: str, *, stale: bool, fresh: bool = False
    ) -> str | None:
        """The configured token (None: none, or too short). `stale`: the last answer did
        not match; `fresh`: read the Secret whatever the cache holds."""
        key, asked = (namespace, name), self._clock()
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if fresh and cached is not None and cached.secret == secret:
                fresh = cached.fetched <= asked  # a read begun since: as fresh, and shared
            if fresh or cached is None or not self._fresh(cached, secret, stale):
                cached = await self._read(namespace, secret)
                self._cache[key] = cached
            return cached.token

    def _fresh(self, cached: _Cached, secret: str, stale: bool) -> bool:
        age = self._clock() - cached.fetched
        if cached.secret != secret or age > self._max_age:
            return False
        return not stale or age < self._refresh

    async def _read(self, namespace: str, secret: str) -> _Cached:
        started = self._clock()  # what the read can vouch for: the Secret as of now
        body = await self._kube.get_secret(namespace, secret)
        version = None if body is None else (body.get("metadata") or {}).get("resourceVersion")
        token = None if body is None else secret_value(body, TOKEN_KEY)
        usable = token if token and not too_short(token) else None
        return _Cached(secret, version, usable, started)

    def forget(self, namespace: str, name: str) -> None:
        self._cache.pop((namespace, name), None)
        self._locks.pop((namespace, name), None)
