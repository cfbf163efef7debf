"""The fake Personio's webhooks: registrations, events and deliveries (reference §6).

As Personio documents them: `POST /v2/webhooks` needs `personio:webhooks:write`, a new
webhook is DISABLED unless told otherwise, the token is sent as-is in `Authorization`,
a delivery counts only when answered 2xx within 3 s, redirects are not followed, and a
timeout or 5xx (not 501) is retried: up to 6 attempts with up to 2 fast retries each,
at most 14 requests. Deliveries carry the dataless envelope
`{company_id, event_name, occurred_at, payload: {id}, meta}`.

Knobs (PersonioKnobs.webhook_*) drop, delay, duplicate and reorder deliveries and make
the retry delays short for tests. Every request is kept in an activity log.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personio_sync_testing.fakes.knobs import PersonioKnobs

COMPANY_ID = "12345"
MAX_REQUESTS = 14  # per event and webhook, whatever the knobs say
EVENTS = frozenset(
    {
        "absence-period.created",
        "absence-period.updated.timerange",
        "absence-period.updated.status",
        "absence-period.deleted",
        "attendance-period.created",
        "attendance-period.updated",
        "attendance-period.deleted",
        "person.created",
        "person.updated",
        "person.deleted",
        "employment.created",
        "employment.updated",
        "employment.updated.cost-centers",
        "employment.started",
        "employment.terminated",
        "document.created",
        "document.deleted",
    }
)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CustomHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")
    value: str = Field(min_length=1, max_length=1000)


class WebhookFields(BaseModel):
    """A create (all fields) or update (`partial=True`: only those sent) request body."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, min_length=1, max_length=2048)
    description: str | None = Field(None, max_length=1000)
    status: Literal["ENABLED", "DISABLED"] | None = None
    auth_type: Literal["TOKEN", "NONE", "CUSTOM"] | None = None
    token: str | None = Field(None, max_length=1000)
    custom_headers: list[CustomHeader] | None = Field(None, max_length=3)
    enabled_events: list[str] | None = Field(None, min_length=1, max_length=len(EVENTS))

    @field_validator("url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        """HTTPS only; plain http to the loopback address, where the fake's tests live."""
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and _loopback(parts.hostname or ""):
            return value
        raise ValueError("url must be an https:// URL")

    @field_validator("enabled_events")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - EVENTS)
        if unknown:
            raise ValueError(f"unknown event names: {', '.join(unknown)}")
        return None if value is None else sorted(set(value))

    @model_validator(mode="after")
    def _headers_only_with_custom(self) -> WebhookFields:
        if self.custom_headers and self.auth_type != "CUSTOM":
            raise ValueError("custom_headers need auth_type CUSTOM")
        return self


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


class Webhook(BaseModel):
    id: str
    url: str
    description: str = ""
    status: Literal["ENABLED", "DISABLED"] = "DISABLED"
    auth_type: Literal["TOKEN", "NONE", "CUSTOM"] = "TOKEN"
    token: str | None = None
    custom_headers: list[CustomHeader] = []
    enabled_events: list[str]
    created_at: str
    updated_at: str

    def wire(self) -> dict[str, Any]:
        """As the API shows it: never the token or header values (write-only secrets)."""
        body = self.model_dump(exclude={"token", "custom_headers"})
        body["custom_headers"] = [{"name": h.name} for h in self.custom_headers]
        return body


@dataclass(frozen=True)
class Event:
    id: str
    event_name: str
    occurred_at: str
    resource_id: str

    def envelope(self) -> dict[str, Any]:
        return {
            "company_id": COMPANY_ID,
            "event_name": self.event_name,
            "occurred_at": self.occurred_at,
            "payload": {"id": self.resource_id},
            "meta": {},
        }


@dataclass
class Activity:
    """One delivery request (or a dropped delivery) as `/activity` lists it."""

    webhook_id: str
    event_id: str
    event_name: str
    resource_id: str
    attempt: int
    request: int
    outcome: Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "DROPPED"]
    status_code: int | None = None
    requested_at: str = field(default_factory=_stamp)
    duration_ms: int = 0
    id: str = field(default_factory=lambda: "act-" + secrets.token_hex(6))

    def wire(self) -> dict[str, Any]:
        return dict(self.__dict__)


class WebhookBook:
    """Registrations, events and the activity log; thread-safe like PersonioState."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.webhooks: dict[str, Webhook] = {}
        self.events: list[tuple[str, Event]] = []  # (webhook id, event)
        self.activity: list[Activity] = []

    def clear(self) -> None:
        with self._lock:
            self.webhooks.clear()
            self.events.clear()
            self.activity.clear()

    def create(self, fields: WebhookFields) -> Webhook:
        if fields.url is None or fields.enabled_events is None:
            raise ValueError("url and enabled_events are required")
        with self._lock:
            if any(w.url == fields.url for w in self.webhooks.values()):
                raise FileExistsError(fields.url)
            now = _stamp()
            hook = Webhook(
                id=secrets.token_hex(8),
                created_at=now,
                updated_at=now,
                **fields.model_dump(exclude_none=True),
            )
            self.webhooks[hook.id] = hook
            return hook

    def update(self, hook_id: str, fields: WebhookFields) -> Webhook:
        with self._lock:
            old = self.webhooks[hook_id]
            changes = fields.model_dump(exclude_none=True)
            merged = Webhook.model_validate({**old.model_dump(), **changes, "updated_at": _stamp()})
            if merged.custom_headers and merged.auth_type != "CUSTOM":
                raise ValueError("custom_headers need auth_type CUSTOM")
            self.webhooks[hook_id] = merged
            return merged

    def delete(self, hook_id: str) -> None:
        with self._lock:
            del self.webhooks[hook_id]

    def get(self, hook_id: str) -> Webhook | None:
        with self._lock:
            return self.webhooks.get(hook_id)

    def listed(self) -> list[Webhook]:
        with self._lock:
            return sorted(self.webhooks.values(), key=lambda w: w.created_at)

    def subscribers(self, event_name: str) -> list[Webhook]:
        with self._lock:
            return [
                w
                for w in self.webhooks.values()
                if w.status == "ENABLED" and event_name in w.enabled_events
            ]

    def record_event(self, hook_id: str, event: Event) -> None:
        with self._lock:
            self.events.append((hook_id, event))

    def log(self, entry: Activity) -> None:
        with self._lock:
            self.activity.append(entry)

    def activity_of(self, hook_id: str | None = None) -> list[Activity]:
        with self._lock:
            return [a for a in self.activity if hook_id is None or a.webhook_id == hook_id]

    def events_of(self, hook_id: str) -> list[Event]:
        with self._lock:
            return [e for h, e in self.events if h == hook_id]


class Dispatcher:
    """Delivers events on the fake's own loop; `emit` may be called from any thread."""

    def __init__(self, book: WebhookBook, knobs: Callable[[], PersonioKnobs]) -> None:
        self._book, self._knobs = book, knobs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: list[tuple[Webhook, Event]] = []  # the reorder window's batch
        self._flush: asyncio.TimerHandle | None = None
        self._http: httpx.AsyncClient | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def close(self) -> None:
        self._loop = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def emit(self, event_name: str, resource_id: str) -> None:
        """A change in the company (called by PersonioState, under its lock)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = Event("evt-" + secrets.token_hex(8), event_name, now, resource_id)
        loop.call_soon_threadsafe(self._route, event)

    def _route(self, event: Event) -> None:
        knobs = self._knobs()
        rng = random.Random(f"{knobs.webhook_seed}:{event.id}")
        for hook in self._book.subscribers(event.event_name):
            self._book.record_event(hook.id, event)
            if rng.random() < knobs.webhook_drop_rate:
                self._book.log(Activity(hook.id, event.id, event.event_name,
                                        event.resource_id, 0, 0, "DROPPED"))  # fmt: skip
                continue
            copies = 2 if knobs.webhook_duplicate else 1
            for _ in range(copies):
                if knobs.webhook_reorder_window_ms > 0:
                    self._hold(hook, event, knobs.webhook_reorder_window_ms / 1000.0)
                else:
                    self._spawn(hook, event)

    def _hold(self, hook: Webhook, event: Event, window: float) -> None:
        """Collect a window's deliveries, then send them newest first."""
        self._held.append((hook, event))
        if self._flush is None and self._loop is not None:
            self._flush = self._loop.call_later(window, self._release)

    def _release(self) -> None:
        held, self._held, self._flush = self._held, [], None
        for hook, event in reversed(held):
            self._spawn(hook, event)

    def _spawn(self, hook: Webhook, event: Event) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(hook, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, hook: Webhook, event: Event) -> None:
        knobs = self._knobs()
        if knobs.webhook_delay_ms > 0:
            await asyncio.sleep(knobs.webhook_delay_ms / 1000.0)
        requests = 0
        pauses = [0.0, *knobs.webhook_retry_delays_s][:6]
        for attempt, pause in enumerate(pauses, start=1):
            await asyncio.sleep(pause)
            for fast in range(1 + knobs.webhook_fast_retries):
                if requests >= MAX_REQUESTS:
                    return
                if fast:
                    await asyncio.sleep(knobs.webhook_fast_retry_delay_s)
                requests += 1
                verdict = await self._request(hook, event, attempt, requests, knobs)
                if verdict != "retry":
                    return

    async def _request(
        self, hook: Webhook, event: Event, attempt: int, number: int, knobs: PersonioKnobs
    ) -> Literal["done", "retry"]:
        current = self._book.get(hook.id)  # a webhook changed or removed meanwhile
        if current is None or current.status != "ENABLED":
            return "done"
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        headers = {"Content-Type": "application/json"}
        if current.auth_type == "TOKEN" and current.token:
            headers["Authorization"] = current.token
        elif current.auth_type == "CUSTOM":
            headers.update({h.name: h.value for h in current.custom_headers})
        started = time.monotonic()
        entry = Activity(current.id, event.id, event.event_name, event.resource_id,
                         attempt, number, "FAILED")  # fmt: skip
        try:
            response = await self._http.post(
                current.url, json=event.envelope(), headers=headers, timeout=knobs.webhook_timeout_s
            )
        except httpx.TimeoutException:
            entry.outcome = "TIMED_OUT"
            verdict: Literal["done", "retry"] = "retry"
        except httpx.HTTPError:
            verdict = "retry"  # refused or reset: the receiver is away
        else:
            entry.status_code = response.status_code
            ok = 200 <= response.status_code < 300
            entry.outcome = "SUCCEEDED" if ok else "FAILED"
            retry = response.status_code >= 500 and response.status_code != 501
            verdict = "retry" if retry else "done"
        entry.duration_ms = round((time.monotonic() - started) * 1000)
        self._book.log(entry)
        return verdict
