"""Personio webhook receiver: `POST /webhooks/personio/{namespace}/{name}` (issue 9,
HOOK-1..5, HOOK-9..11).

Personio drops a delivery that is not acknowledged within 3 s, so the handler only
checks and queues: it never calls a vendor. Deliveries are "dataless": only the
envelope's event name and id are read; the worker fetches everything from Personio
itself. Which events it acts on is the catalogue's (catalogue.py).

The port is public, so what a caller can make it hold is bounded (limits.py): the
connection guard (guard.py) closes slow and surplus connections before aiohttp sees
them; a resource takes so many deliveries per second, an address so many wrong tokens
(429 with Retry-After past either); a delivery whose token may be right reads the
Secret again (tokens.py), so a rotated or removed token stops at its next use.

It knows no worker: it is handed two lookups, the Secret a resource names (None: no
such resource) and where to note changes (the supervisor's, startup/handlers.py).

Its own port (PERSONIO_SYNC_WEBHOOK_PORT): exposing it to Personio through an Ingress
never exposes /metrics or /healthz.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.webhooks.catalogue import Names, acted_on
from personio_sync.controller.webhooks.guard import ConnectionGuard, Phase
from personio_sync.controller.webhooks.limits import Buckets, Limits, retry_after
from personio_sync.controller.webhooks.tokens import WebhookTokens, token_matches
from personio_sync.errors import KubeError
from personio_sync.resource.status import LastEvent

log = logging.getLogger("personio_sync.controller")

MAX_BODY = 64 * 1024  # an envelope is a few hundred bytes
LOOKUP_SECONDS = 2.0  # Personio gives up after 3 s: a slow API server is a 503 in time
PATH = "/webhooks/personio/{namespace}/{name}"
BACKLOG = 128  # the kernel queue, and what asyncio accepts per wake-up (fds in flight)

SecretOf = Callable[[str, str], str | None]  # (namespace, name) → its Secret; None: unknown
Notify = Callable[[str, str, Changes], bool]  # Supervisor.note_changes
Leading = Callable[[str, str], bool]  # this replica holds the resource's shard (SHARD-4)
Record = Callable[[str, str, LastEvent], None]  # recorder.EventRecorder
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    id: str = Field(min_length=1, max_length=200)


class Envelope(BaseModel):
    """The documented envelope; company_id and meta are not trusted and not read."""

    model_config = ConfigDict(extra="ignore")
    event_name: str = Field(min_length=1, max_length=200, pattern=r"^[a-z0-9.-]+$")
    occurred_at: datetime | None = None
    payload: _Payload


def changes_of(envelope: Envelope, received: datetime) -> Changes | None:
    """What the event names for a sync, or None for an event kind we do not act on."""
    event = acted_on(envelope.event_name)
    if event is None:
        return None
    at = envelope.occurred_at or received
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    ids = frozenset({envelope.payload.id})
    if event.names is Names.PERIOD:
        return Changes(at, "webhook", period_ids=ids)
    return Changes(at, "webhook", person_ids=ids)


class WebhookReceiver:
    """The aiohttp app behind the connection guard; every answer is decided without a
    vendor call."""

    def __init__(
        self,
        *,
        secret_of: SecretOf,
        notify: Notify,
        tokens: WebhookTokens,
        metrics: Metrics,
        leading: Leading = lambda _namespace, _name: True,
        record: Record = lambda ns, name, event: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC).replace(microsecond=0),
        lookup_seconds: float = LOOKUP_SECONDS,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_of, self._notify, self._tokens = secret_of, notify, tokens
        self._metrics, self._leading, self._record, self._now = metrics, leading, record, now
        self._lookup_seconds = lookup_seconds
        self.limits = limits = limits or Limits()
        closed = metrics.webhook_connections_closed
        self.guard = ConnectionGuard(
            limits,
            clock=clock,
            closed=lambda r: closed.labels(r).inc(),
            checking_seconds=lookup_seconds,
        )
        self._deliveries: Buckets[tuple[str, str]] = Buckets(
            limits.burst, limits.per_second, clock=clock
        )
        self._wrong: Buckets[str] = Buckets(
            limits.failures,
            limits.failures / limits.failure_window_seconds,
            max_keys=limits.callers,
            clock=clock,
        )
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._answered])
        app.router.add_post(PATH, self._receive)
        return app

    @web.middleware
    async def _answered(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every answer, aiohttp's own 404 and 405 included, puts the connection back to
        waiting for its next request's headers: timed and evictable again (HOOK-9)."""
        try:
            return await handler(request)
        finally:
            self.guard.enter(request.transport, Phase.HEADERS)

    async def start(self, host: str, port: int, *, sock: socket.socket | None = None) -> int:
        """Listen behind the guard: aiohttp's protocol factory, wrapped (guard.py); on
        `sock` when given (bound before kopf started, startup/main.py)."""
        self._runner = web.AppRunner(
            self.app(),
            access_log=None,
            keepalive_timeout=self.limits.header_seconds,  # the guard's is the binding one
            lingering_time=0,  # an unread body is never drained: the answer closes instead
        )
        await self._runner.setup()
        server = self._runner.server
        assert server is not None  # set up just above
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._listener = await loop.create_server(
                self.guard.protocol(server), sock=sock, backlog=BACKLOG
            )
        else:
            self._listener = await loop.create_server(
                self.guard.protocol(server), host, port, backlog=BACKLOG, reuse_address=True
            )
        self.guard.start()
        self.port = int(self._listener.sockets[0].getsockname()[1])
        log.info("receiving Personio webhooks on %s:%s", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        await self.guard.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None

    def forget(self, namespace: str, name: str) -> None:
        """The resource is gone: its token and its delivery budget go too."""
        self._tokens.forget(namespace, name)
        self._deliveries.forget((namespace, name))

    def _answer(
        self, status: int, outcome: str, text: str, *, retry: float | None = None
    ) -> web.Response:
        self._metrics.webhook_events.labels(outcome).inc()
        response = web.json_response({"status": text}, status=status)
        if retry is not None:
            response.headers["Retry-After"] = retry_after(retry)
        if status >= 300:
            response.force_close()  # a refused request's connection is not kept
        return response

    async def _receive(self, request: web.Request) -> web.Response:
        transport = request.transport
        self.guard.enter(transport, Phase.CHECKING)
        response = await self._handle(request)  # then HEADERS again (the middleware)
        # Kept alive only while a whole next request fits in its lifetime: the guard never
        # has to cut one in the middle.
        limits = self.limits
        whole = limits.header_seconds + self._lookup_seconds + limits.body_seconds
        if self.guard.remaining(transport) <= whole:
            response.force_close()
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        if (request.content_length or 0) > MAX_BODY:
            return self._answer(413, "too_large", "body too large")
        verdict = await self._authenticate(request, namespace, name)
        if verdict is not None:
            return verdict
        self.guard.enter(request.transport, Phase.AUTHENTICATED)
        try:
            async with asyncio.timeout(self.limits.body_seconds):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._answer(413, "too_large", "body too large")
        except TimeoutError:  # HOOK-9: a body that does not come is not waited for
            return self._answer(408, "timed_out", "body too slow")
        if not self._leading(namespace, name):  # Personio retries, maybe reaching its holder
            return self._answer(503, "not_leader", "not the leader, retry")
        return self._act(namespace, name, raw)

    async def _authenticate(
        self, request: web.Request, namespace: str, name: str
    ) -> web.Response | None:
        """HOOK-1, HOOK-10, HOOK-11. A token that matches the one last read may be right:
        it spends the resource's budget and is checked against a fresh read. Anything
        else is a guess: held back once its address guessed too often, checked against
        the cache (read again at most every few seconds), and counted when wrong."""
        presented = _authorization(request)
        caller = request.remote or ""
        secret = self._secret_of(namespace, name)
        known = None if not secret else self._tokens.known(namespace, name, secret)
        read_now = bool(secret) and known is None and presented is not None
        if secret and read_now:
            # Nothing read for it yet (a start, a new resource): read it, spaced like a
            # guess's, before the address throttle, which must never hold back a right
            # token (HOOK-10), even when a guesser shares its address (an Ingress).
            try:
                async with asyncio.timeout(self._lookup_seconds):
                    known = await self._tokens.token(namespace, name, secret, stale=True)
            except (KubeError, TimeoutError):
                return self._answer(503, "unavailable", "cannot check the token now")
        hit = presented is not None and known is not None and token_matches(presented, known)
        if not hit and (wait := self._wrong.wait(caller)):
            return self._answer(429, "throttled", "too many wrong tokens", retry=wait)
        if not secret:
            return self._answer(404, "unknown_resource", "no such resource")
        if hit and (wait := self._deliveries.take((namespace, name))):
            return self._answer(429, "rate_limited", "too many deliveries", retry=wait)
        try:
            async with asyncio.timeout(self._lookup_seconds):
                configured = await self._tokens.token(
                    namespace, name, secret, stale=not hit, fresh=hit and not read_now
                )
        except (KubeError, TimeoutError):  # API server away or slow: Personio retries later
            return self._answer(503, "unavailable", "cannot check the token now")
        if configured is None:  # no webhooks for this resource (or removed): look absent
            return self._answer(404, "unknown_resource", "no such resource")
        if presented is None or not token_matches(presented, configured):
            return self._wrong_token(caller)  # not text (HOOK-11): no token matches it
        if not hit and (wait := self._deliveries.take((namespace, name))):
            return self._answer(429, "rate_limited", "too many deliveries", retry=wait)
        return None

    def _wrong_token(self, caller: str) -> web.Response:
        self._wrong.take(caller)
        return self._answer(401, "unauthorized", "wrong token")

    def _act(self, namespace: str, name: str, raw: bytes) -> web.Response:
        try:
            envelope = Envelope.model_validate(json.loads(raw))
        except (ValueError, RecursionError, ValidationError):  # the text may quote the body
            return self._answer(400, "malformed", "not a Personio webhook envelope")
        received = self._now()
        changes = changes_of(envelope, received)
        if changes is None:
            log.debug("%s/%s: ignored webhook event %s", namespace, name, envelope.event_name)
            self._record(namespace, name, LastEvent(time=received, kind=envelope.event_name,
                                                    outcome="ignored"))  # fmt: skip
            return self._answer(200, "ignored", "ignored")
        if not self._notify(namespace, name, changes):
            return self._answer(404, "unknown_resource", "no such resource")
        log.debug("%s/%s: webhook %s queued a sync", namespace, name, envelope.event_name)
        event = LastEvent(time=received, kind=envelope.event_name, outcome="accepted")
        self._record(namespace, name, event)
        return self._answer(202, "accepted", "accepted")


def _authorization(request: web.Request) -> str | None:
    """The `Authorization` header as text; None when its bytes are not UTF-8 (HOOK-11:
    a 401, not a crash). aiohttp keeps undecodable bytes as surrogate escapes."""
    value = request.headers.get("Authorization", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value
