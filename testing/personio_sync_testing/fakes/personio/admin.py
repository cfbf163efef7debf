"""Admin routes that change the fake Personio's company (no auth; under /_admin).

Each route calls the PersonioState method of the same purpose, so HTTP tests
and in-process tests exercise one implementation.
"""

from __future__ import annotations

from aiohttp import web

from personio_sync_testing.fakes.personio.state import PersonioState
from personio_sync_testing.fakes.personio.webhooks import WebhookBook
from personio_sync_testing.fakes.server import ADMIN, admin_body, json_response


def routes(state: PersonioState, hooks: WebhookBook) -> list[web.RouteDef]:
    async def put_period(request: web.Request) -> web.Response:
        return json_response(state.put_period(await admin_body(request)).model_dump(mode="json"))

    async def move_period(request: web.Request) -> web.Response:
        body = await admin_body(request)
        period = state.move_period(
            request.match_info["id"], body["starts_from"], body.get("ends_at")
        )
        return json_response(period.model_dump(mode="json"))

    async def approve(request: web.Request) -> web.Response:
        return json_response(state.approve(request.match_info["id"]).model_dump(mode="json"))

    async def reject(request: web.Request) -> web.Response:
        return json_response(state.reject(request.match_info["id"]).model_dump(mode="json"))

    async def cancel(request: web.Request) -> web.Response:
        state.cancel(request.match_info["id"])
        return json_response({"ok": True})

    async def add_person(request: web.Request) -> web.Response:
        return json_response(state.add_person(await admin_body(request)).model_dump(mode="json"))

    async def set_email(request: web.Request) -> web.Response:
        body = await admin_body(request)
        person = state.set_person_email(request.match_info["id"], body["email"])
        return json_response(person.model_dump(mode="json"))

    async def put_type(request: web.Request) -> web.Response:
        body = await admin_body(request)
        return json_response(state.put_absence_type(body).model_dump(mode="json"))

    async def put_credential(request: web.Request) -> web.Response:
        cred = state.put_credential(await admin_body(request))
        return json_response({"client_id": cred.client_id, "scopes": cred.scopes})

    async def remove_credential(request: web.Request) -> web.Response:
        state.remove_credential(request.match_info["client_id"])
        return json_response({"ok": True})

    async def expire_tokens(request: web.Request) -> web.Response:
        state.expire_tokens()
        return json_response({"ok": True})

    async def delete_person(request: web.Request) -> web.Response:
        state.delete_person(request.match_info["id"])
        return json_response({"ok": True})

    async def deliveries(request: web.Request) -> web.Response:
        """Every webhook delivery request (and dropped delivery), oldest first."""
        return json_response([a.wire() for a in hooks.activity_of()])

    periods = f"{ADMIN}/absence-periods"
    return [
        web.put(periods, put_period),
        web.post(periods, put_period),
        web.post(f"{periods}/{{id}}/move", move_period),
        web.post(f"{periods}/{{id}}/approve", approve),
        web.post(f"{periods}/{{id}}/reject", reject),
        web.delete(f"{periods}/{{id}}", cancel),
        web.post(f"{ADMIN}/persons", add_person),
        web.post(f"{ADMIN}/persons/{{id}}/email", set_email),
        web.delete(f"{ADMIN}/persons/{{id}}", delete_person),
        web.get(f"{ADMIN}/webhooks/deliveries", deliveries),
        web.put(f"{ADMIN}/absence-types", put_type),
        web.put(f"{ADMIN}/credentials", put_credential),
        web.delete(f"{ADMIN}/credentials/{{client_id}}", remove_credential),
        web.post(f"{ADMIN}/tokens/expire", expire_tokens),
    ]
