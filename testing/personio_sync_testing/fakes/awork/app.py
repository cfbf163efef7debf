"""The fake awork API v1: users, API users, /me and absences CRUD.

Base URL = server root + /api/v1. Strict like the vendor: Bearer API key on
every route, bare JSON arrays with aw-* paging headers, `filterby`/`orderby`,
AbsenceForm validation and time snapping, ErrorResponse bodies, and
per-workspace rate limits (per second and per minute) with ratelimit-* headers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from personio_sync_testing.fakes.awork import admin
from personio_sync_testing.fakes.awork.errors import error, fail
from personio_sync_testing.fakes.awork.filters import order, parse_filter
from personio_sync_testing.fakes.awork.forms import DateOrderError, parse_form
from personio_sync_testing.fakes.awork.models import Absence, ApiUser
from personio_sync_testing.fakes.awork.state import AworkState
from personio_sync_testing.fakes.awork.wire import (
    ABSENCE_PROPS,
    USER_PROPS,
    absence_json,
    api_user_as_user,
    api_user_json,
    me_json,
    user_json,
)
from personio_sync_testing.fakes.knobs import AworkKnobs
from personio_sync_testing.fakes.ratelimit import FixedWindow
from personio_sync_testing.fakes.server import FakeServer, json_response

API = "/api/v1"
MAX_PAGE_SIZE = 1000


class FakeAwork(FakeServer[AworkState, AworkKnobs]):
    """`async with FakeAwork(seed) as a:` → awork v1 at `a.url` (…/api/v1), data in `a.state`."""

    section_name = "awork"
    api_root = API
    journal_bodies = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._second, self._minute = FixedWindow(), FixedWindow()
        super().__init__(*args, **kwargs)

    def _reset_limits(self) -> None:
        self._second, self._minute = FixedWindow(), FixedWindow()

    def _default_knobs(self) -> AworkKnobs:
        return AworkKnobs()

    def _new_state(self) -> AworkState:
        return AworkState()

    def _api_routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{API}/users", self._users),
            web.get(f"{API}/users/me", self._me),
            web.get(f"{API}/users/{{id}}", self._user),
            web.get(f"{API}/me", self._me),
            web.get(f"{API}/apiusers", self._api_users),
            web.get(f"{API}/absences", self._absences),
            web.post(f"{API}/absences", self._create),
            web.get(f"{API}/absences/{{id}}", self._absence),
            web.put(f"{API}/absences/{{id}}", self._update),
            web.delete(f"{API}/absences/{{id}}", self._delete),
        ]

    def _admin_routes(self) -> list[web.RouteDef]:
        return admin.routes(self.state)

    def _error(self, status: int, detail: str, path: str) -> web.Response:
        return error(status)

    # -- rate limits ----------------------------------------------------------------------

    def _rate_limited(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        k = self.knobs
        second = self._second.hit(k.per_second, 1.0, k.time_scale)
        minute = self._minute.hit(k.per_minute, 60.0, k.time_scale, count=second.allowed)
        binding = second if not second.allowed else minute
        headers = {
            "ratelimit-limit": str(binding.limit),
            "ratelimit-remaining": str(binding.remaining),
            "ratelimit-reset": str(binding.reset_s),
            "x-ratelimit-limit-second": str(k.per_second),
            "x-ratelimit-remaining-second": str(second.remaining),
            "x-ratelimit-limit-minute": str(k.per_minute),
            "x-ratelimit-remaining-minute": str(minute.remaining),
        }
        if (second.allowed and minute.allowed) or not k.rate_limits:
            return None, headers
        response = error(429)
        response.headers.update(headers)
        return response, headers

    def _fault_response(self, status: int, request: web.Request) -> web.Response:
        response = error(status)
        if status == 429:
            response.headers.update({"ratelimit-limit": str(self.knobs.per_minute)})
            response.headers.update({"ratelimit-remaining": "0", "ratelimit-reset": "1"})
        return response

    # -- helpers --------------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> ApiUser:
        kind, _, key = request.headers.get("Authorization", "").partition(" ")
        user = self.state.api_user_for(key.strip()) if kind.lower() == "bearer" else None
        if user is None:
            fail(401)
        return user

    def _listing(
        self, request: web.Request, rows: list[dict[str, Any]], props: tuple[str, ...]
    ) -> web.Response:
        query = {k.lower(): v for k, v in request.query.items()}
        page, size = _int(query, "page", 1), _int(query, "pagesize", 10)
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            fail(400, "value-out-of-range", f"page must be >= 1 and pageSize 1..{MAX_PAGE_SIZE}.")
        if query.get("filterby"):
            predicate = parse_filter(query["filterby"], props)  # validated even when ignored
            if not self.knobs.ignore_filters:
                rows = [r for r in rows if predicate(r)]
        if query.get("orderby"):
            rows = order(rows, query["orderby"], props)
        chunk = rows[(page - 1) * size : page * size]
        headers = {
            "aw-page": str(page),
            "aw-pagesize": str(size),
            "aw-items": str(len(chunk)),
            "aw-totalitems": str(len(rows)),
        }
        return json_response(chunk, headers=headers)

    # -- users ----------------------------------------------------------------------------

    async def _users(self, request: web.Request) -> web.Response:
        self._authorize(request)
        show = {k.lower(): v for k, v in request.query.items()}.get("showarchived", "false")
        archived = show.lower() == "true"
        rows = [user_json(u) for u in self.state.users.values() if archived or not u.isArchived]
        rows += [api_user_as_user(a) for a in self.state.api_users.values()]
        return self._listing(request, rows, USER_PROPS)

    async def _user(self, request: web.Request) -> web.Response:
        self._authorize(request)
        user_id = request.match_info["id"].lower()
        if user_id in self.state.users:
            return json_response(user_json(self.state.users[user_id]))
        if user_id in self.state.api_users:
            return json_response(api_user_as_user(self.state.api_users[user_id]))
        fail(404, "not-found", f"No user with the id '{user_id}' exists.")

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(me_json(self._authorize(request), self.state.workspace))

    async def _api_users(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return json_response([api_user_json(a) for a in self.state.api_users.values()])

    # -- absences -------------------------------------------------------------------------

    async def _absences(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return self._listing(request, self.state.rendered_absences(absence_json), ABSENCE_PROPS)

    async def _absence(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return json_response(absence_json(self._find(request)))

    async def _create(self, request: web.Request) -> web.Response:
        by = self._authorize(request)
        form = parse_form(await request.read())
        self._check_user(form.userId)
        try:
            created = self.state.create_absence(form, by.id)
        except DateOrderError as exc:
            fail(400, "date-dependency", str(exc))
        return json_response(absence_json(created))

    async def _update(self, request: web.Request) -> web.Response:
        by = self._authorize(request)
        absence = self._find(request)
        form = parse_form(await request.read())
        self._check_user(form.userId)
        try:
            updated = self.state.update_absence(absence.id, form, by.id)
        except DateOrderError as exc:
            fail(400, "date-dependency", str(exc))
        return json_response(absence_json(updated))

    async def _delete(self, request: web.Request) -> web.Response:
        self._authorize(request)
        self.state.delete_absence(self._find(request).id)
        return web.Response(status=204)

    def _find(self, request: web.Request) -> Absence:
        absence_id = request.match_info["id"].lower()
        found = self.state.absences.get(absence_id)
        if found is None:
            fail(404, "not-found", f"No absence with the id '{absence_id}' exists.")
        return found

    def _check_user(self, user_id: str) -> None:
        if user_id.lower() not in self.state.users:
            fail(404, "not-found", f"No user with the id '{user_id}' exists.")


def _int(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        fail(400, "invalid-model", f"The value '{raw[:40]}' is not valid for {name}.")
