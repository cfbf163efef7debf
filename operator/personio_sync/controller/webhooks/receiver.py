"""Personio webhook receiver: `POST /webhooks/personio/{namespace}/{name}` (issue 9, HOOK-1..5).

Personio drops a delivery that is not acknowledged within 3 s, so the handler only
checks and queues: it never calls a vendor, and reads the resource's Secret at most
once per `refresh_seconds` (a cached token, refreshed when the Secret's resourceVersion
changes or a token does not match). Deliveries are "dataless": only the envelope's
event name and id are read; the worker fetches everything from Personio itself.

Its own port (PERSONIO_SYNC_WEBHOOK_PORT): exposing it to Personio through an Ingress
never exposes /metrics or /healthz.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from personio_sync.clients.kube import KubeClient, KubeError
from personio_sync.controller.changes import Changes
from personio_sync.controller.context import Context
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.resource.status import LastEvent
from personio_sync.sync.credentials import secret_value

if TYPE_CHECKING:  # the supervisor's workers import the registration, which imports us
    from personio_sync.controller.loop.supervisor import Supervisor

log = logging.getLogger("personio_sync.controller")

TOKEN_KEY = "personioWebhookToken"
MAX_BODY = 64 * 1024  # an envelope is a few hundred bytes
LOOKUP_SECONDS = 2.0  # Personio gives up after 3 s: a slow API server is a 503 in time
PATH = "/webhooks/personio/{namespace}/{name}"
ABSENCE_EVENTS = frozenset(
    {
        "absence-period.created",
        "absence-period.updated.timerange",
        "absence-period.updated.status",
        "absence-period.deleted",
    }
)
PERSON_PREFIXES = ("person.", "employment.")

Resolve = Callable[[str, str], Mapping[str, Any] | None]  # (namespace, name) → resource
Notify = Callable[[str, str, Changes], bool]  # Supervisor.note_changes
Leading = Callable[[], bool]


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
    at = envelope.occurred_at or received
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if envelope.event_name in ABSENCE_EVENTS:
        return Changes(at, "webhook", period_ids=frozenset({envelope.payload.id}))
    if envelope.event_name.startswith(PERSON_PREFIXES):
        return Changes(at, "webhook", person_ids=frozenset({envelope.payload.id}))
    return None


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


class WebhookReceiver:
    """The aiohttp app and its server; every answer is decided without a vendor call."""

    def __init__(
        self,
        *,
        resolve: Resolve,
        notify: Notify,
        tokens: WebhookTokens,
        metrics: Metrics,
        leading: Leading = lambda: True,
        record: Callable[[str, str, LastEvent], None] = lambda ns, name, event: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC).replace(microsecond=0),
    ) -> None:
        self._resolve, self._notify, self._tokens = resolve, notify, tokens
        self._metrics, self._leading, self._record, self._now = metrics, leading, record, now
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def close(self) -> None:
        await self.stop()
        if isinstance(self._record, EventRecorder):
            await self._record.stop()

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
        resource = self._resolve(namespace, name)
        ref = ((resource or {}).get("spec") or {}).get("secretRef") or {}
        secret = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
        if resource is None or not secret:
            return self._answer(404, "unknown_resource", "no such resource")
        verdict = await self._authenticate(request, namespace, name, secret)
        if verdict is not None:
            return verdict
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._answer(413, "too_large", "body too large")
        if not self._leading():  # a standby: Personio retries, maybe reaching the leader
            return self._answer(503, "not_leader", "not the leader, retry")
        return self._act(namespace, name, raw)

    async def _authenticate(
        self, request: web.Request, namespace: str, name: str, secret: str
    ) -> web.Response | None:
        presented = request.headers.get("Authorization", "")
        try:
            async with asyncio.timeout(LOOKUP_SECONDS):
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


class EventRecorder:
    """Writes `.status.lastEvent` (HOOK-6) off the request path: one merge patch in flight
    per resource, the newest event wins, a failed write is only logged. The newest event
    is also kept in `latest`, which the run's own status write carries (reconcile)."""

    def __init__(self, kube: KubeClient, latest: dict[tuple[str, str], LastEvent]) -> None:
        self._kube, self.latest = kube, latest
        self._written: dict[tuple[str, str], LastEvent] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def __call__(self, namespace: str, name: str, event: LastEvent) -> None:
        key = (namespace, name)
        self.latest[key] = event
        if key not in self._tasks:
            task = asyncio.create_task(self._flush(key), name=f"last event {namespace}/{name}")
            self._tasks[key] = task
            task.add_done_callback(lambda _: self._tasks.pop(key, None))

    async def _flush(self, key: tuple[str, str]) -> None:
        while (event := self.latest.get(key)) is not None and self._written.get(key) != event:
            self._written[key] = event
            patch = {"lastEvent": event.model_dump(mode="json")}
            try:
                await asyncio.wait_for(self._kube.merge_status(*key, patch), timeout=5.0)
            except Exception as exc:  # best effort: the next run's status carries it
                log.warning("%s/%s: status.lastEvent not written (%s)", *key, type(exc).__name__)
                return

    def forget(self, namespace: str, name: str) -> None:
        self.latest.pop((namespace, name), None)
        self._written.pop((namespace, name), None)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def receiver_for(ctx: Context, supervisor: Supervisor) -> WebhookReceiver:
    """The receiver wired to the operator: resources are the supervisor's workers."""

    def resolve(namespace: str, name: str) -> Mapping[str, Any] | None:
        worker = supervisor.workers.get((namespace, name))
        return None if worker is None else worker.body

    return WebhookReceiver(
        resolve=resolve,
        notify=supervisor.note_changes,
        tokens=WebhookTokens(ctx.kube),
        metrics=ctx.metrics,
        leading=ctx.leading,
        record=EventRecorder(ctx.kube, ctx.last_events),
    )
