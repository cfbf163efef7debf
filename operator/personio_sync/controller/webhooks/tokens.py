"""The webhook token per resource (HOOK-1, HOOK-4): the Secret key `personioWebhookToken`.

Personio sends the configured token as-is in `Authorization`; it is compared in constant
time. The receiver must answer within Personio's 3 s, so the token is cached per
resource and the Secret read with one GET only when needed.
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


def _bare(token: str) -> bytes:
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token.encode()


def token_matches(presented: str, configured: str) -> bool:
    """Constant time; `Bearer ` in front of either side is ignored (Personio sends the
    configured token as-is, so admins may or may not have added it)."""
    return hmac.compare_digest(_bare(presented), _bare(configured))


@dataclass
class _Cached:
    secret: str
    version: str | None
    token: str | None  # None: the Secret or its personioWebhookToken key is missing
    fetched: float


class WebhookTokens:
    """The webhook token per resource, read with one GET of its Secret when needed.

    A lookup hits the API server only on a cache miss, when the cached entry is older
    than `max_age`, or (for a token that does not match) when the last read is older
    than `refresh_seconds`: a flood of wrong tokens costs one GET per resource every
    few seconds, and a rotated token is picked up by the first delivery that uses it."""

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

    async def token(self, namespace: str, name: str, secret: str, *, stale: bool) -> str | None:
        """The configured token (None: none). `stale`: the last answer did not match."""
        key = (namespace, name)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if cached is None or not self._fresh(cached, secret, stale):
                cached = await self._read(namespace, secret)
                self._cache[key] = cached
            return cached.token

    def _fresh(self, cached: _Cached, secret: str, stale: bool) -> bool:
        age = self._clock() - cached.fetched
        if cached.secret != secret or age > self._max_age:
            return False
        return not stale or age < self._refresh

    async def _read(self, namespace: str, secret: str) -> _Cached:
        body = await self._kube.get_secret(namespace, secret)
        version = None if body is None else (body.get("metadata") or {}).get("resourceVersion")
        token = None if body is None else secret_value(body, TOKEN_KEY)
        return _Cached(secret, version, token or None, self._clock())

    def forget(self, namespace: str, name: str) -> None:
        self._cache.pop((namespace, name), None)
        self._locks.pop((namespace, name), None)
