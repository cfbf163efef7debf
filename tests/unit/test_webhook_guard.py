"""HOOK-9: the connection guard's decisions, on a clock and transports that only record
being closed (the real sockets: tests/integration/test_receiver_under_attack.py)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.webhooks.guard import ConnectionGuard, Guarded, Phase
from personio_sync.controller.webhooks.limits import Limits


class Transport:
    def __init__(self, name: str) -> None:
        self.name, self.aborted = name, False

    def abort(self) -> None:
        self.aborted = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def guard(**limits: Any) -> tuple[ConnectionGuard, Clock, list[str]]:
    clock, closed = Clock(), []  # type: ignore[var-annotated]
    options = {"header_seconds": 5.0, "lifetime_seconds": 15.0, "max_connections": 3, **limits}
    return ConnectionGuard(Limits(**options), clock=clock, closed=closed.append), clock, closed


def opened(g: ConnectionGuard, name: str) -> Transport:
    transport = Transport(name)
    assert g.admit(cast(asyncio.BaseTransport, transport))
    return transport


def as_transport(t: Transport) -> asyncio.BaseTransport:
    return cast(asyncio.BaseTransport, t)


def test_hook_9_headers_not_in_within_the_timeout_close_the_connection() -> None:
    g, clock, closed = guard()
    slow, quick = opened(g, "slow"), opened(g, "quick")
    clock.now += 4.0
    g.enter(as_transport(quick), Phase.CHECKING)  # its headers are in
    clock.now += 1.0
    g.reap()
    assert slow.aborted and not quick.aborted and closed == ["header_timeout"]
    g.enter(as_transport(quick), Phase.HEADERS)  # answered; waits for the next request
    clock.now += 4.9
    g.reap()
    assert not quick.aborted
    clock.now += 0.1
    g.reap()
    assert quick.aborted


def test_hook_9_past_the_cap_the_oldest_still_sending_headers_makes_room() -> None:
    g, clock, closed = guard()
    first, second, third = opened(g, "1"), opened(g, "2"), opened(g, "3")
    g.enter(as_transport(first), Phase.AUTHENTICATED)  # a delivery in progress: never evicted
    clock.now += 1
    fourth = opened(g, "4")
    assert second.aborted and not first.aborted and not third.aborted and not fourth.aborted
    assert closed == ["evicted"] and g.open == 3
    g.lost(as_transport(second))  # the transport reports the abort
    assert g.open == 3 and g.peak == 3


def test_hook_9_with_only_deliveries_in_progress_a_new_connection_is_refused() -> None:
    g, _, closed = guard(max_connections=2)
    for t in (opened(g, "1"), opened(g, "2")):
        g.enter(as_transport(t), Phase.CHECKING)
    assert not g.admit(as_transport(Transport("3")))
    assert closed == ["refused"] and g.open == 2


def test_hook_9_no_connection_outlives_the_lifetime() -> None:
    g, clock, closed = guard()
    delivery = opened(g, "1")
    g.enter(as_transport(delivery), Phase.AUTHENTICATED)
    clock.now += 14.9
    g.reap()
    assert not delivery.aborted
    clock.now += 0.1
    g.reap()
    assert delivery.aborted and closed == ["lifetime"]


class Inner(asyncio.Protocol):
    def __init__(self) -> None:
        self.events: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.events.append(data.decode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")


def test_hook_9_a_refused_connection_never_reaches_aiohttp() -> None:
    g, _, _ = guard(max_connections=1)
    held = Transport("held")
    first, refused = Guarded(Inner(), g), Guarded(Inner(), g)
    first.connection_made(as_transport(held))
    g.enter(as_transport(held), Phase.AUTHENTICATED)
    other = Transport("other")
    refused.connection_made(as_transport(other))
    refused.data_received(b"POST")
    refused.connection_lost(None)
    assert other.aborted and cast(Inner, refused._inner).events == []
    first.data_received(b"POST")
    first.connection_lost(None)
    assert cast(Inner, first._inner).events == ["made", "POST", "lost"] and g.open == 0


def test_hook_9_the_limits_are_the_settings_and_default_to_theirs() -> None:
    """HOOK-9/HOOK-10: each limit comes from its PERSONIO_SYNC_WEBHOOK_* setting, and a
    receiver built without settings (the tests') holds to the operator's defaults."""
    assert Limits() == Limits.of(OperatorSettings.model_construct())
    tuned = OperatorSettings(webhook_burst=7, webhook_header_timeout_seconds=1.5)
    assert (Limits.of(tuned).burst, Limits.of(tuned).header_seconds) == (7, 1.5)


def test_hook_9_blank_lines_before_a_request_line_are_not_the_end_of_its_headers() -> None:
    """aiohttp skips line ends before a request line, and so does the guard: a caller
    sending `\\r\\n\\r\\n` first is still one sending its headers, timed and evictable."""
    g, _, closed = guard(max_connections=1)
    first = Transport("first")
    protocol = Guarded(asyncio.Protocol(), g)
    protocol.connection_made(cast(asyncio.BaseTransport, first))
    protocol.data_received(b"\r\n\r")
    protocol.data_received(b"\n\r\nPO")  # the request line begins, byte by byte
    opened(g, "second")  # past the cap: the one still sending headers goes
    assert first.aborted and closed == ["evicted"]


def test_hook_9_a_request_nobody_answers_is_closed_after_the_header_and_check_time() -> None:
    clock, closed = Clock(), []  # type: ignore[var-annotated]
    limits = Limits(header_seconds=5.0, lifetime_seconds=60.0)
    g = ConnectionGuard(limits, clock=clock, closed=closed.append, checking_seconds=2.0)
    stuck = opened(g, "stuck")
    g.enter(cast(asyncio.BaseTransport, stuck), Phase.CHECKING)
    clock.now += 6.9
    g.reap()
    assert not stuck.aborted
    clock.now += 0.2
    g.reap()
    assert stuck.aborted and closed == ["header_timeout"]
