"""`/v2/webhooks` of the fake Personio: list, create, read, update, delete, events and
activity (reference §6). Writes need `personio:webhooks:write`; reads accept it or
`personio:webhooks:read`. The token is write-only: no answer ever contains it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from personio_sync_testing.fakes.personio.models import WEBHOOKS_READ_SCOPE, WEBHOOKS_WRITE_SCOPE
from personio_sync_testing.fakes.personio.problems import fail
from personio_sync_testing.fakes.personio.webhooks import Webhook, WebhookBook, WebhookFields
from personio_sync_testing.fakes.server import json_response

Authorize = Callable[[web.Request, tuple[str, ...]], None]
BASE = "/v2/webhooks"


def routes(book: WebhookBook, authorize: Authorize) -> list[web.RouteDef]:
    reads = (WEBHOOKS_READ_SCOPE, WEBHOOKS_WRITE_SCOPE)
    writes = (WEBHOOKS_WRITE_SCOPE,)

    def found(request: web.Request) -> Webhook:
        return _found(book, request)

    async def listed(request: web.Request) -> web.Response:
        authorize(request, reads)
        data = [w.wire() for w in book.listed()]
        return json_response({"_data": data, "_meta": {"links": {"self": {"href": BASE}}}})

    async def create(request: web.Request) -> web.Response:
        authorize(request, writes)
        body = await _fields(request)
        if body.url is None or body.enabled_events is None:
            fail(400, "url and enabled_events are required")
        try:
            hook = book.create(body)
        except FileExistsError:
            fail(409, "A webhook with this url exists already.")
        return json_response(hook.wire(), status=201)

    async def read(request: web.Request) -> web.Response:
        authorize(request, reads)
        return json_response(found(request).wire())

    async def update(request: web.Request) -> web.Response:
        authorize(request, writes)
        hook = found(request)
        try:
            return json_response(book.update(hook.id, await _fields(request)).wire())
        except ValueError as exc:
            fail(422, _detail(exc))

    async def delete(request: web.Request) -> web.Response:
        authorize(request, writes)
        book.delete(found(request).id)
        return web.Response(status=204)

    async def events(request: web.Request) -> web.Response:
        authorize(request, reads)
        hook = found(request)
        wanted = request.query.get("event_name")
        data = [
            {"id": e.id, **e.envelope()}
            for e in book.events_of(hook.id)
            if wanted is None or e.event_name == wanted
        ]
        return json_response({"_data": data, "_meta": {}})

    async def activity(request: web.Request) -> web.Response:
        authorize(request, reads)
        hook = found(request)
        return json_response({"_data": [a.wire() for a in book.activity_of(hook.id)], "_meta": {}})

    return [
        web.get(BASE, listed),
        web.post(BASE, create),
        web.get(BASE + "/{id}", read),
        web.patch(BASE + "/{id}", update),
        web.delete(BASE + "/{id}", delete),
        web.get(BASE + "/{id}/events", events),
        web.get(BASE + "/{id}/activity", activity),
    ]


def _found(book: WebhookBook, request: web.Request) -> Webhook:
    hook = book.get(request.match_info["id"])
    if hook is None:
        fail(404)
    return hook


async def _fields(request: web.Request) -> WebhookFields:
    try:
        raw: Any = json.loads(await request.read())
        return WebhookFields.model_validate(raw)
    except ValueError as exc:  # ValidationError is a ValueError
        status = 422 if isinstance(exc, ValidationError) else 400
        fail(status, _detail(exc))


def _detail(exc: Exception) -> str:
    """Which field is wrong, without echoing the values (a token may be among them)."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )[:500]
    return "The request body must be a JSON object."
