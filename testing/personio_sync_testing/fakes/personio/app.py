"""The fake Personio v2 API: OAuth token, persons, absence types, absence periods.

Base URL = the server root (paths /v2/...). Strict like the vendor: form-only
token requests, scopes per credential, `limit` bounds, problem+json errors,
x-ratelimit-* headers and 429 without Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from personio_sync_testing.fakes.knobs import PersonioKnobs
from personio_sync_testing.fakes.personio import admin, webhook_routes
from personio_sync_testing.fakes.personio.models import ABSENCES_SCOPE, PERSONS_SCOPE, Credential
from personio_sync_testing.fakes.personio.paging import envelope, filters_of, page, parse_limit
from personio_sync_testing.fakes.personio.problems import fail, oauth_error, problem
from personio_sync_testing.fakes.personio.query import PeriodFilter, PersonFilter, check_known
from personio_sync_testing.fakes.personio.state import PersonioState
from personio_sync_testing.fakes.personio.webhooks import Dispatcher, WebhookBook
from personio_sync_testing.fakes.personio.wire import period_json, person_json, type_json
from personio_sync_testing.fakes.ratelimit import TokenBucket
from personio_sync_testing.fakes.server import FakeServer, json_response

_FORM = "application/x-www-form-urlencoded"


class FakePersonio(FakeServer[PersonioState, PersonioKnobs]):
    """`async with FakePersonio(seed) as p:` → a Personio v2 at `p.url`, data in `p.state`."""

    section_name = "personio"
    api_root = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self.webhooks = WebhookBook()
        self.dispatcher = Dispatcher(self.webhooks, lambda: self.knobs)
        super().__init__(*args, **kwargs)
        self.state.listeners.append(self.dispatcher.emit)

    async def start(self) -> None:
        await super().start()
        self.dispatcher.attach(asyncio.get_running_loop())

    async def stop(self) -> None:
        await self.dispatcher.close()
        await super().stop()

    def reset(self) -> None:
        super().reset()
        self.webhooks.clear()

    def _reset_limits(self) -> None:
        self._buckets.clear()

    def _default_knobs(self) -> PersonioKnobs:
        return PersonioKnobs()

    def _new_state(self) -> PersonioState:
        return PersonioState()

    def _api_routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v2/auth/token", self._token),
            web.get("/v2/persons", self._persons),
            web.get("/v2/persons/{id}", self._person),
            web.get("/v2/absence-types", self._types),
            web.get("/v2/absence-types/{id}", self._type),
            web.get("/v2/absence-periods", self._periods),
            web.get("/v2/absence-periods/{id}", self._period),
            *webhook_routes.routes(self.webhooks, self._authorize_any),
        ]

    def _admin_routes(self) -> list[web.RouteDef]:
        return admin.routes(self.state, self.webhooks)

    def _error(self, status: int, detail: str, path: str) -> web.Response:
        if status == 404:
            return problem(404, f"No endpoint {path}", title="Not Found", meta={"path": path})
        return problem(status)

    # -- rate limits ----------------------------------------------------------------------

    def _limit_for(self, path: str) -> tuple[str, float, float] | None:
        """(bucket name, refill per second, capacity) for a path, or None if unlimited."""
        k = self.knobs
        table = {
            "/v2/auth/token": (k.auth_per_minute / 60.0, k.auth_per_minute),
            "/v2/persons": (k.persons_rps, k.persons_rps),
            "/v2/absence-types": (k.absence_types_rps, k.absence_types_rps),
            "/v2/absence-periods": (k.absence_periods_rps, k.absence_periods_rps),
        }
        for prefix, (rate, capacity) in table.items():
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, rate, capacity
        return None

    def _rate_limited(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        limit = self._limit_for(request.path)
        if limit is None:
            return None, {}
        name, rate, capacity = limit
        bucket = self._buckets.setdefault(name, TokenBucket())
        allowed, remaining = bucket.take(rate, capacity, self.knobs.time_scale)
        headers = {
            "x-ratelimit-replenish-rate": str(round(rate * self.knobs.time_scale)),
            "x-ratelimit-burst-capacity": str(round(capacity)),
            "x-ratelimit-requested-tokens": "1",
            "x-ratelimit-remaining": str(remaining if self.knobs.rate_limits else round(capacity)),
        }
        if allowed or not self.knobs.rate_limits:
            return None, headers
        response = problem(429)
        response.headers.update(headers)
        return response, headers

    # -- auth -----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != _FORM:
            fail(400, f"The request body must be {_FORM}.")
        form = await request.post()
        fields = {k: str(form.get(k, "")) for k in ("grant_type", "client_id", "client_secret")}
        missing = [k for k, v in fields.items() if not v]
        if missing:
            oauth_error(400, "invalid_request", f"Missing parameter(s): {', '.join(missing)}")
        if fields["grant_type"] != "client_credentials":
            oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported.")
        cred = self.state.check_secret(fields["client_id"], fields["client_secret"])
        if cred is None:
            oauth_error(401, "invalid_client", "Client authentication failed.")
        wanted = tuple(sorted(str(form.get("scope", "")).split())) or tuple(sorted(cred.scopes))
        if not set(wanted) <= set(cred.scopes):
            oauth_error(400, "invalid_scope", "The requested scope is not granted to this client.")
        token = self.state.issue_token(cred, wanted, self.knobs.token_ttl_s)
        return json_response(
            {
                "access_token": token.value,
                "token_type": "Bearer",
                "expires_in": max(1, round(token.expires_at - time.monotonic())),
                "scope": " ".join(token.scopes),
            }
        )

    def _authorize(self, request: web.Request, scope: str) -> Credential:
        header = request.headers.get("Authorization", "")
        kind, _, value = header.partition(" ")
        found = self.state.lookup_token(value.strip()) if kind.lower() == "bearer" else None
        if found is None:
            fail(401)
        token, cred = found
        if scope not in token.scopes:
            fail(403)
        return cred

    def _authorize_any(self, request: web.Request, scopes: tuple[str, ...]) -> None:
        """401 without a valid token, 403 unless it carries one of `scopes`."""
        header = request.headers.get("Authorization", "")
        kind, _, value = header.partition(" ")
        found = self.state.lookup_token(value.strip()) if kind.lower() == "bearer" else None
        if found is None:
            fail(401)
        if not set(scopes) & set(found[0].scopes):
            fail(403)

    # -- lists ----------------------------------------------------------------------------

    def _list(
        self,
        request: web.Request,
        kind: str,
        parse: Callable[[dict[str, str]], Callable[[Any], bool]],
        render: Callable[[Any], dict[str, Any]],
        *,
        default: int,
        maximum: int,
    ) -> web.Response:
        limit = parse_limit(request, default=default, maximum=maximum)
        after, filters = filters_of(request)
        select = parse(filters)
        items, ids = self.state.query(kind, select, select)
        cap = self.knobs.list_cap.get(kind)  # type: ignore[call-overload]
        if cap is not None:
            items, ids = items[:cap], ids[:cap]
        chunk, next_after = page(items, ids, after, limit)
        body = envelope(
            request,
            [render(i) for i in chunk],
            next_after,
            filters,
            limit,
            relative=self.knobs.relative_links,
        )
        return json_response(body)

    async def _persons(self, request: web.Request) -> web.Response:
        cred = self._authorize(request, PERSONS_SCOPE)
        return self._list(
            request,
            "persons",
            PersonFilter.parse,
            lambda p: person_json(p, email_readable=cred.email_readable),
            default=10,
            maximum=50,
        )

    async def _types(self, request: web.Request) -> web.Response:
        self._authorize(request, ABSENCES_SCOPE)

        def parse(filters: dict[str, str]) -> Callable[[Any], bool]:
            check_known(filters, set())
            return _everything

        return self._list(request, "absence_types", parse, type_json, default=100, maximum=100)

    async def _periods(self, request: web.Request) -> web.Response:
        self._authorize(request, ABSENCES_SCOPE)
        skew = self._skew()
        return self._list(
            request,
            "periods",
            lambda filters: PeriodFilter.parse(filters, skew),
            lambda period: period_json(period, skew),
            default=100,
            maximum=100,
        )

    def _skew(self) -> timedelta:
        return timedelta(seconds=self.knobs.updated_at_skew_s)

    # -- single objects -------------------------------------------------------------------

    async def _person(self, request: web.Request) -> web.Response:
        cred = self._authorize(request, PERSONS_SCOPE)
        person = self.state.persons.get(request.match_info["id"])
        if person is None:
            fail(404)
        return json_response(person_json(person, email_readable=cred.email_readable))

    async def _type(self, request: web.Request) -> web.Response:
        self._authorize(request, ABSENCES_SCOPE)
        found = self.state.absence_types.get(request.match_info["id"])
        if found is None:
            fail(404)
        return json_response(type_json(found))

    async def _period(self, request: web.Request) -> web.Response:
        self._authorize(request, ABSENCES_SCOPE)
        found = self.state.periods.get(request.match_info["id"])
        if found is None:
            fail(404)
        return json_response(period_json(found, self._skew()))


def _everything(_: Any) -> bool:
    return True
