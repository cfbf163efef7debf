# ruff: noqa: ASYNC109  (httpcore's stream interface takes `timeout` arguments)
"""The leadership fence at the socket (D-Lease): a replica that lost its Lease sends awork
nothing more, not one byte of a request.

An httpx `request` hook is too early: it runs before the request waits for a pooled
connection, before a new connection is opened, and before every other `await` on the
way to the socket, so a process frozen (SIGSTOP, a GC pause) in that gap resumes and
sends. Even httpcore's own stream awaits a checkpoint (anyio's) between being asked to
write and handing the bytes to the transport. So a fenced client gets a network backend
of its own, on asyncio streams, whose `write` checks the fence and hands the bytes to the
socket in one synchronous step, for every attempt. A request leaves whole or not at all:
its request line, headers and body are collected and handed over in one fenced write when
it is complete (httpcore ends every request with an empty write, and reads the answer
only after it), so a fence that closes midway never leaves the server a cut request.

Installed into every connection pool of an `httpx.AsyncClient` (env proxies included),
so everything else about the client stays httpx's.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

Fence = Callable[[], None]  # raises (errors.LeadershipLost) once this process may not write
READ_LIMIT = 2**16
FLUSH_BYTES = 2**16  # a body larger than this leaves in pieces (awork's are ~300 bytes)


class FencedStream(httpcore.AsyncNetworkStream):
    """One connection; its writes are fenced, everything else is a plain asyncio stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fence: Fence):
        self._reader, self._writer, self._fence = reader, writer, fence
        self._pending = bytearray()  # the request being written, not sent yet

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)  # a request not ended by an empty write goes now
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("no data within the read timeout") from None
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._pending += buffer
        if not buffer or len(self._pending) >= FLUSH_BYTES:  # the request's end, or a big body
            await self._flush(timeout)

    async def _flush(self, timeout: float | None) -> None:
        if not self._pending:
            return
        data, self._pending = bytes(self._pending), bytearray()
        self._fence()  # raises: nothing of this request leaves the process
        try:
            self._writer.write(data)  # the same synchronous step as the check: no gap
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout(
                "the socket took no data within the write timeout"
            ) from None
        except OSError as exc:
            raise httpcore.WriteError(exc) from exc

    async def aclose(self) -> None:
        self._writer.close()  # not waited for: a TLS peer that never answers must not hang us

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            raise httpcore.ConnectTimeout("no TLS handshake within the connect timeout") from None
        except OSError as exc:  # ssl.SSLError included
            raise httpcore.ConnectError(exc) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        names = {"client_addr": "sockname", "server_addr": "peername"}
        if info == "is_readable":  # httpcore: has an idle connection been closed by the server?
            reader = self._reader
            return reader.at_eof() or reader.exception() is not None or self._writer.is_closing()
        if info in ("ssl_object", "socket", *names):
            return self._writer.get_extra_info(names.get(info, info))
        return None


class FencedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections whose writes pass `fence` first."""

    def __init__(self, fence: Fence) -> None:
        self._fence = fence

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=local, limit=READ_LIMIT
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return FencedStream(reader, writer, self._fence)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def fence_writes(client: httpx.AsyncClient, fence: Fence) -> httpx.AsyncClient:
    """Route every connection of `client` (its transport and env-proxy mounts) through
    FencedBackend. Call before the first request. httpx has no public way to pass a
    network backend with env proxies kept, so this sets the pools' backend directly;
    tests/integration/test_fence.py fails if a new httpx or httpcore moves it."""
    backend = FencedBackend(fence)
    for transport in (client._transport, *client._mounts.values()):
        if transport is None:  # a NO_PROXY pattern: served by the client's own transport
            continue
        pool = getattr(transport, "_pool", None)
        if not isinstance(pool, httpcore.AsyncConnectionPool):
            raise TypeError(f"cannot fence {type(transport).__name__}: no httpcore pool")
        pool._network_backend = backend
    return client
