"""/healthz and /metrics on one port: what the kubelet probes and Prometheus scrapes.

Own small aiohttp server rather than kopf's liveness endpoint, so one port serves both
and the health answer is ours: 503 until the operator's start-up handler has run (the
supervisor and the HTTP server are up), 200 from then on.

The port is bound before kopf starts (`listen`): a port that is taken stops the process
at once with a message naming the setting. Bound inside kopf's startup handler, the
failure would be retried forever with a traceback each time.

/metrics is rendered in the default executor's threads: at thousands of resources a
page takes tens of milliseconds, which on the event loop would delay every run, watch
event and Lease renewal by as much at every scrape.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.errors import ConfigError

log = logging.getLogger("personio_sync.controller")


def listen(
    host: str,
    port: int,
    *,
    serving: str = "/healthz and /metrics",
    setting: str = "PERSONIO_SYNC_HTTP_PORT (or PERSONIO_SYNC_HTTP_HOST)",
) -> socket.socket:
    """A socket bound to host:port for a server (`serving`, configured by `setting`);
    ConfigError when that is impossible."""
    sock: socket.socket | None = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        why = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot serve {serving} on {host}:{port}: {why}; set {setting} to one this "
            "process may use"
        ) from None
    return sock


class HealthServer:
    """Serves /healthz (200 once `healthy()` says so, else 503) and /metrics."""

    def __init__(self, metrics: Metrics, healthy: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._healthy = healthy
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/metrics", self._metrics_page)
        return app

    async def start(self, host: str, port: int, *, sock: socket.socket | None = None) -> int:
        """Serve on `sock` when given (bound by `listen`), else bind host:port now."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site: web.BaseSite
        if sock is not None:
            site = web.SockSite(self._runner, sock)
        else:
            site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses  # the bound port, also when 0 was asked for
        self.port = int(addresses[0][1]) if addresses else port
        log.info("serving /healthz and /metrics on %s:%s", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        if self._healthy():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="starting\n")

    async def _metrics_page(self, request: web.Request) -> web.Response:
        """METRICS-5: rendered in a thread, so a large page never stalls the runs' loop."""
        page = await asyncio.get_running_loop().run_in_executor(None, self._metrics.render)
        response = web.Response(body=page)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
