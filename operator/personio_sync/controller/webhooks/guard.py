"""The webhook port's connections, bounded (HOOK-9).

aiohttp waits for a request's headers as long as the client likes, keeps every
connection it is offered, and waits for a body forever. On a port the internet reaches,
that lets anyone hold memory and file descriptors with connections that drip a byte now
and then, without any token. aiohttp has no knob for any of it, so the guard sits
between the listening socket and aiohttp: every accepted connection goes through a
thin protocol that tells the guard it opened and closed, and the receiver tells it when
a request's headers are in and when its token checked out. Then:

- a connection still sending its headers (its first request's, or the next one's after an
  answer, whatever the path: the receiver's middleware marks every answer) for longer than
  `header_seconds` is closed, and one whose request is not answered within the header
  timeout plus the token check's time too; blank lines before a request line are not the
  end of its headers;
- past `max_connections` open ones, the oldest still sending its headers is closed for
  each new one, never a delivery being checked or an authenticated one; when there is
  none to close, the new connection is refused. A connection counts as past its headers
  from the moment the blank line that ends them arrives (before aiohttp gets to it), so
  a burst of new connections cannot push out a delivery that sent its request at once;
- no connection lives longer than `lifetime_seconds`.

The body timeout is the receiver's (it answers 408), with the lifetime as the backstop.
Closing is an abort: the socket is released at once, nothing more is written to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from personio_sync.controller.webhooks.limits import Limits

log = logging.getLogger("personio_sync.controller")


class Phase(Enum):
    HEADERS = "headers"  # the request line and headers are not all in yet
    CHECKING = "checking"  # a request is in the receiver, its token not yet accepted
    AUTHENTICATED = "authenticated"  # a delivery with the right token


@dataclass
class _Connection:
    transport: asyncio.BaseTransport
    opened: float
    since: float  # when its current phase began
    phase: Phase = Phase.HEADERS
    closing: bool = False


Closed = Callable[[str], None]  # why a connection was closed: evicted, refused, ...


class ConnectionGuard:
    """Every connection the receiver holds, with its phase; `reap()` closes the overdue."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        closed: Closed = lambda reason: None,
        checking_seconds: float = 0.0,
    ) -> None:
        """`checking_seconds`: how long the receiver may take to check a request's token;
        a connection in CHECKING longer than that and the header timeout is overdue."""
        self._limits, self._clock, self._closed = limits, clock, closed
        self._checking = limits.header_seconds + checking_seconds
        # Insertion order is the order connections entered their phase: the first one in
        # HEADERS is the one waiting longest for its headers.
        self._connections: dict[asyncio.BaseTransport, _Connection] = {}
        self.counts: Counter[str] = Counter()  # closed connections by reason
        self.peak = 0
        self._reaper: asyncio.Task[None] | None = None

    @property
    def open(self) -> int:
        return sum(1 for c in self._connections.values() if not c.closing)

    def protocol(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], Guarded]:
        """A protocol factory for `loop.create_server`: aiohttp's, with the guard between."""
        return lambda: Guarded(make(), self)

    # --- what the connections and the receiver tell -----------------------------------

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """A connection opened; False: refused (the caller aborts it)."""
        if self.open >= self._limits.max_connections and not self._evict_one():
            self._close_count("refused")
            return False
        now = self._clock()
        self._connections[transport] = _Connection(transport, opened=now, since=now)
        self.peak = max(self.peak, self.open)
        return True

    def lost(self, transport: asyncio.BaseTransport) -> None:
        self._connections.pop(transport, None)

    def enter(self, transport: asyncio.BaseTransport | None, phase: Phase) -> None:
        """The connection's request moved on: headers in (CHECKING), token right
        (AUTHENTICATED), or answered and waiting for the next request (HEADERS)."""
        connection = None if transport is None else self._connections.pop(transport, None)
        if connection is None:
            return
        connection.phase, connection.since = phase, self._clock()
        self._connections[connection.transport] = connection  # to the end: newest in phase

    def remaining(self, transport: asyncio.BaseTransport | None) -> float:
        """Seconds the connection may still live (0: not one of ours)."""
        connection = None if transport is None else self._connections.get(transport)
        if connection is None:
            return 0.0
        return self._limits.lifetime_seconds - (self._clock() - connection.opened)

    # --- closing ------------------------------------------------------------------------

    def _evict_one(self) -> bool:
        for connection in self._connections.values():
            if connection.phase is Phase.HEADERS and not connection.closing:
                self._abort(connection, "evicted")
                return True
        return False

    def _abort(self, connection: _Connection, reason: str) -> None:
        connection.closing = True
        self._close_count(reason)
        connection.transport.abort()  # type: ignore[attr-defined]  # a Transport

    def _close_count(self, reason: str) -> None:
        self.counts[reason] += 1
        self._closed(reason)

    def reap(self) -> None:
        """Close every connection past its header deadline or its lifetime."""
        now, limits = self._clock(), self._limits
        for connection in list(self._connections.values()):
            if connection.closing:
                continue
            if now - connection.opened >= limits.lifetime_seconds:
                self._abort(connection, "lifetime")
            elif connection.phase is Phase.HEADERS and (
                now - connection.since >= limits.header_seconds
            ):
                self._abort(connection, "header_timeout")
            elif connection.phase is Phase.CHECKING and now - connection.since >= self._checking:
                self._abort(connection, "header_timeout")  # a request nobody answers

    async def _reap_forever(self) -> None:
        tick = min(1.0, self._limits.header_seconds / 4)
        while True:
            await asyncio.sleep(tick)
            try:
                self.reap()
            except Exception:  # a bug must not leave the port unguarded: log, go on
                log.exception("webhook connection reaper")

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap_forever(), name="webhook connections")

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for connection in list(self._connections.values()):
            if not connection.closing:
                self._abort(connection, "shutdown")


class Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard told of its start and end."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner, self._guard = inner, guard
        self._transport: asyncio.BaseTransport | None = None
        self._admitted = False
        self._tail: bytes | None = b""  # the last bytes seen while the first headers come

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if not self._guard.admit(transport):
            transport.abort()  # type: ignore[attr-defined]  # a Transport
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard.lost(self._transport)
        if self._admitted:
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self._tail is not None:  # still in its first request's headers
            seen = self._tail + data
            if not self._tail:  # nothing but line ends yet: aiohttp skips those, so do we
                seen = seen.lstrip(b"\r\n")
            if b"\r\n\r\n" in seen:  # all in: not a connection to evict any more
                self._tail = None
                self._guard.enter(self._transport, Phase.CHECKING)
            else:
                self._tail = seen[-3:]  # empty while only line ends came
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._admitted:
            return self._inner.eof_received()
        return None

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()
