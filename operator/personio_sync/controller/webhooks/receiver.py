"""Personio webhook receiver: `POST /webhooks/personio/{namespace}/{name}` (issue 9, HOOK-1..5).

Personio drops a delivery that is not acknowledged within 3 s, so the handler only
checks and queues: it never calls a vendor, and reads the resource's Secret at most
once per `refresh_seconds` (a cached token, tokens.py). Deliveries are "dataless": only
the envelope's event name and id are read; the worker fetches everything from Personio
itself. Which events it acts on is the catalogue's (catalogue.py).

It knows no worker: it is handed two lookups, the Secret a resource names (None: no
such resource) and where to note changes (the supervisor's, startup/handlers.py).

Its own port (PERSONIO_SYNC_WEBHOOK_PORT): exposing it to Personio through an Ingress
never exposes /metrics or /healthz.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.webhooks.catalogue import Names, acted_on
from personio_sync.controller.webhooks.tokens import WebhookTokens, token_matches
from personio_sync.errors import KubeError
from personio_sync.resource.status import LastEvent

log = logging.getLogger("personio_sync.controller")

MAX_BODY = 64 * 1024  # an envelope is a few hundred bytes
LOOKUP_SECONDS = 2.0  # Personio gives up after 3 s: a slow API server is a 503 in time
PATH = "/webhooks/personio/{namespace}/{name}"

SecretOf = Callable[[str, str], str | None]  # (namespace, name) → its Secret; None: unknown
Notify = Callable[[str, str, Changes], bool]  # Supervisor.note_changes
Leading = Callable[[str, str], bool]  # this replica holds the resource's shard (SHARD-4)
Record = Callable[[str, str, LastEvent], None]  # recorder.EventRecorder


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
    """The aiohttp app and its server; every answer is decided without a vendor call."""

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
    ) -> None:
        self._secret_of, self._notify, self._tokens = secret_of, notify, tokens
        self._metrics, self._leading, self._record, self._now = metrics, leading, record, now
        self._lookup_seconds = lookup_seconds
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._receive)
        return app

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        log.info("receiving Personio webhooks on %s:%s", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _answer(self, status: int, outcome: str, text: str) -> web.Response:
        self._metrics.webhook_events.labels(outcome).inc()
        return web.json_response({"status": text}, status=status)

    async def _receive(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        if (request.content_length or 0) > MAX_BODY:
            return self._answer(413, "too_large", "body too large")
        secret = self._secret_of(namespace, name)
        if not secret:
            return self._answer(404, "unknown_resource", "no such resource")
        verdict = await self._authenticate(request, namespace, name, secret)
        if verdict is not None:
            return verdict
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._answer(413, "too_large", "body too large")
        if not self._leading(namespace, name):  # Personio retries, maybe reaching its holder
            return self._answer(503, "not_leader", "not the leader, retry")
        return self._act(namespace, name, raw)

    async def _authenticate(
        self, request: web.Request, namespace: str, name: str, secret: str
    ) -> web.Response | None:
        presented = request.headers.get("Authorization", "")
        try:
            async with asyncio.timeout(self._lookup_seconds):
                configured = await self._tokens.token(namespace, name, secret, stale=False)
                if configured is not None and not token_matches(presented, configured):
                    configured = await self._tokens.token(namespace, name, secret, stale=True)
        except (KubeError, TimeoutError):  # API server away or slow: Personio retries later
            return self._answer(503, "unavailable", "cannot check the token now")
        if configured is None:  # webhooks not enabled for this resource: look absent
            return self._answer(404, "unknown_resource", "no such resource")
        if not token_matches(presented, configured):
            return self._answer(401, "unauthorized", "wrong token")
        return None

    def _act(self, namespace: str, name: str, raw: bytes) -> web.Response:
        try:
            envelope = Envelope.model_validate(json.loads(raw))
        except (ValueError, ValidationError):  # ValidationError text may quote the body
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
