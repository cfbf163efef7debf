"""Admin routes that change the fake awork workspace (no auth; under /_admin).

Each route calls the AworkState method of the same purpose, so HTTP tests and
in-process tests exercise one implementation.
"""

from __future__ import annotations

from aiohttp import web

from personio_sync_testing.fakes.awork.state import AworkState
from personio_sync_testing.fakes.awork.wire import absence_json, api_user_json, user_json
from personio_sync_testing.fakes.server import ADMIN, admin_body, json_response


def routes(state: AworkState) -> list[web.RouteDef]:
    async def add_user(request: web.Request) -> web.Response:
        return json_response(user_json(state.add_user(await admin_body(request))))

    async def archive_user(request: web.Request) -> web.Response:
        body = await admin_body(request)
        user = state.archive_user(request.match_info["id"], bool(body.get("archived", True)))
        return json_response(user_json(user))

    async def set_email(request: web.Request) -> web.Response:
        body = await admin_body(request)
        return json_response(
            user_json(state.set_user_email(request.match_info["id"], body["email"]))
        )

    async def add_absence(request: web.Request) -> web.Response:
        return json_response(absence_json(state.add_absence(await admin_body(request))))

    async def add_key(request: web.Request) -> web.Response:
        body = await admin_body(request)
        return json_response(api_user_json(state.add_api_key(body["key"], body.get("api_user_id"))))

    async def revoke_key(request: web.Request) -> web.Response:
        state.revoke_api_key(request.match_info["key"])
        return json_response({"ok": True})

    return [
        web.post(f"{ADMIN}/users", add_user),
        web.post(f"{ADMIN}/users/{{id}}/archive", archive_user),
        web.post(f"{ADMIN}/users/{{id}}/email", set_email),
        web.post(f"{ADMIN}/absences", add_absence),
        web.post(f"{ADMIN}/api-keys", add_key),
        web.delete(f"{ADMIN}/api-keys/{{key}}", revoke_key),
    ]
