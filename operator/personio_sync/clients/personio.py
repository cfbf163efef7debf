"""Async client for the three Personio v2 reads the sync needs: persons, absence types, periods.

Built around an injected `httpx.AsyncClient` (the caller owns its lifetime, timeouts
and transport). Authentication is OAuth client-credentials: one token is cached for
every caller and refreshed shortly before it expires, under a lock so that a burst
of concurrent calls triggers one token request, not one each. A 401 on a data call
means the token went stale early (revoked, rotated): refresh once and retry.

Lists follow `_meta.links.next.href` (absolute or relative) and only ever to the
configured host, so a hostile link cannot carry the token elsewhere (R22).
Everything raised is a `personio_sync.errors.PersonioError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from personio_sync.clients._http import (
    MAX_PAGES,
    Backoff,
    Reply,
    RetryingSender,
    Sleep,
    Vendor,
    parse_model,
)
from personio_sync.clients._personio_models import (
    AbsencePeriodModel,
    AbsenceTypeModel,
    Page,
    PeriodStampModel,
    PersonModel,
    Problem,
    TokenResponse,
    WebhookModel,
)
from personio_sync.engine.model import AbsencePeriod, AbsenceType, DateRange, Person
from personio_sync.engine.report import counted
from personio_sync.errors import (
    PersonioAuthError,
    PersonioEmailNotReadable,
    PersonioError,
    PersonioRateLimited,
    PersonioScopeError,
    PersonioServerError,
    PersonioStatusError,
    PersonioTransportError,
    clip,
)

log = logging.getLogger("personio_sync.clients.personio")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

PERSONS_PAGE_LIMIT = 50  # Personio's maximum; 51+ is a 400
PAGE_LIMIT = 100
SCOPES = "personio:persons:read and personio:absences:read"
WEBHOOKS_SCOPE = "personio:webhooks:write"
# How messages name the credential unless told otherwise (the CLI's environment variables).
SECRET_NAMES = "the Secret keys personioClientId and personioClientSecret"
_AUTH_ERRORS = {"invalid_client", "unauthorized_client", "invalid_grant", "access_denied"}

_VENDOR = Vendor(
    name="Personio",
    transport_error=PersonioTransportError,
    rate_limited=PersonioRateLimited,
    status_error=PersonioStatusError,
    server_error=PersonioServerError,
)


@dataclass
class _Token:
    value: str = field(repr=False)
    refresh_at: float


class TokenCache:
    """Access tokens kept across runs: each run opens new clients, but a Personio token
    lives 24 h, so minting one per run is waste. Keyed by a hash of the base URL and the
    credential, never by the secret itself; a rotated secret is a new key."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}

    def get(self, key: str) -> _Token | None:
        return self._tokens.get(key)

    def put(self, key: str, token: _Token | None) -> None:
        if token is None:
            self._tokens.pop(key, None)
        else:
            self._tokens[key] = token


def _hook_path(hook_id: str) -> str:
    """HOOK-8: the id comes from `.status` (anyone who may write it chose it), so it is
    quoted to stay one path segment: `../x?y#z` cannot reach another endpoint."""
    return "/v2/webhooks/" + quote(hook_id, safe="")


def _cache_key(base_url: str, client_id: str, client_secret: str) -> str:
    return hashlib.sha256("\0".join((base_url, client_id, client_secret)).encode()).hexdigest()


@dataclass(frozen=True)
class RegisteredWebhook:
    """A Personio webhook as Personio reports it (never with its token)."""

    id: str
    url: str
    enabled: bool
    events: frozenset[str]
    description: str = ""  # where the operator marks its own (HOOK-14)


@dataclass(frozen=True)
class WebhookRegistration:
    """What the operator asks Personio to deliver, where, and with which token."""

    url: str
    token: str = field(repr=False)
    events: tuple[str, ...]
    description: str = "personio-sync"

    def body(self) -> dict[str, object]:
        return {"url": self.url, "description": self.description, "status": "ENABLED",
                "auth_type": "TOKEN", "token": self.token,
                "enabled_events": list(self.events)}  # fmt: skip


class PersonioClient:
    """Reads persons and absences from Personio's v2 API. Safe for concurrent use."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        rate_limit_wait: float = 1.0,
        token_refresh_margin: float = 60.0,
        tokens: TokenCache | None = None,
        sleep: Sleep = asyncio.sleep,  # between retries
        credential_names: str | None = None,  # where the user keeps them, for messages
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._origin = httpx.URL(self._base_url)
        self._names = credential_names or SECRET_NAMES
        self._client_id = client_id
        self._client_secret = client_secret
        self._rate_limit_floor = rate_limit_wait
        self._refresh_margin = token_refresh_margin
        self._sender = RetryingSender(
            http,
            _VENDOR,
            max_retries=max_retries,
            backoff=Backoff(base=backoff_base, cap=backoff_max),
            rate_limit_wait=self._wait_after_429,
            sleep=sleep,
        )
        self.stats = self._sender.stats
        self._tokens = tokens if tokens is not None else TokenCache()
        self._token_key = _cache_key(self._base_url, client_id, client_secret)
        self._token_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PersonioClient(base_url={self._base_url!r})"

    async def list_persons(self) -> list[Person]:
        """Every person; raises PersonioEmailNotReadable if none carries an e-mail (R7, R23)."""
        persons = await self._list(
            "/v2/persons", {"limit": PERSONS_PAGE_LIMIT}, PersonModel, PersonModel.to_person
        )
        if persons and all(person.email is None for person in persons):
            raise PersonioEmailNotReadable(
                f"Personio returned {counted(len(persons), 'person', 'persons')}, none with "
                "an e-mail address: the "
                "API credential cannot read the e-mail attribute. In Personio, open the "
                "API-credentials settings, edit this credential and make the employee attribute "
                "'Email' readable; people are matched to awork users by e-mail."
            )
        return persons

    async def list_absence_types(self) -> list[AbsenceType]:
        return await self._list(
            "/v2/absence-types", {"limit": PAGE_LIMIT}, AbsenceTypeModel, AbsenceTypeModel.to_type
        )

    async def list_absence_periods(self, window: DateRange) -> list[AbsencePeriod]:
        """Periods overlapping the window (server-side filter); `ends_at` stays exclusive (R3)."""
        params: dict[str, str | int] = {
            "limit": PAGE_LIMIT,
            "ends_at.date_time.gte": f"{window.start.isoformat()}T00:00:00",
            "starts_from.date_time.lte": f"{window.end.isoformat()}T23:59:59",
        }
        return await self._list(
            "/v2/absence-periods", params, AbsencePeriodModel, AbsencePeriodModel.to_period
        )

    async def list_person_periods(
        self, person_ids: Collection[str], window: DateRange
    ) -> list[AbsencePeriod]:
        """The periods of these persons overlapping the window (a targeted sync, NRT-1)."""
        params: dict[str, str | int] = {
            "limit": PAGE_LIMIT,
            "person.id": ",".join(sorted(person_ids)),
            "ends_at.date_time.gte": f"{window.start.isoformat()}T00:00:00",
            "starts_from.date_time.lte": f"{window.end.isoformat()}T23:59:59",
        }
        return await self._list(
            "/v2/absence-periods", params, AbsencePeriodModel, AbsencePeriodModel.to_period
        )

    async def list_period_stamps(self, updated_since: datetime) -> dict[str, str]:
        """id → `updated_at` of every period updated at or after `updated_since` (quick
        polling, NRT-4). The value is sent naive, as Personio's date-times are."""
        params: dict[str, str | int] = {
            "limit": PAGE_LIMIT,
            "updated_at.gte": updated_since.replace(tzinfo=None, microsecond=0).isoformat(),
        }
        stamps = await self._list(
            "/v2/absence-periods", params, PeriodStampModel, lambda m: (m.id, m.updated_at or "")
        )
        return dict(stamps)

    async def get_absence_period(self, period_id: str) -> AbsencePeriod | None:
        """One period by id; None when Personio answers 404 (it was deleted)."""
        found = await self._get_one("/v2/absence-periods", period_id, AbsencePeriodModel)
        return None if found is None else found.to_period()

    async def get_person(self, person_id: str) -> Person | None:
        """One person by id; None when Personio answers 404."""
        found = await self._get_one("/v2/persons", person_id, PersonModel)
        return None if found is None else found.to_person()

    async def _get_one(self, path: str, ident: str, model: type[M]) -> M | None:
        endpoint = f"GET {path}/{{id}}"
        url = httpx.URL(f"{self._base_url}{path}/{quote(ident, safe='')}")
        try:
            body = await self._get(endpoint, url)
        except PersonioStatusError as error:
            if error.status_code == 404:
                return None
            raise
        return _parse(model, body, endpoint)

    # --- webhooks (issue 9; need personio:webhooks:write) --------------------------------

    async def list_webhooks(self) -> list[RegisteredWebhook]:
        endpoint = "GET /v2/webhooks"
        page = _parse(Page, await self._call("GET", "/v2/webhooks", endpoint), endpoint)
        return [_webhook(_parse(WebhookModel, item, endpoint)) for item in page.data]

    async def create_webhook(self, wanted: WebhookRegistration) -> RegisteredWebhook:
        endpoint = "POST /v2/webhooks"
        body = await self._call("POST", "/v2/webhooks", endpoint, wanted.body())
        return _webhook(_parse(WebhookModel, body, endpoint))

    async def update_webhook(self, hook_id: str, wanted: WebhookRegistration) -> RegisteredWebhook:
        endpoint = "PATCH /v2/webhooks/{id}"
        body = await self._call("PATCH", _hook_path(hook_id), endpoint, wanted.body())
        return _webhook(_parse(WebhookModel, body, endpoint))

    async def delete_webhook(self, hook_id: str) -> None:
        """Gone already counts as deleted."""
        await self._call("DELETE", _hook_path(hook_id), "DELETE /v2/webhooks/{id}", ok=404)

    async def _call(
        self, method: str, path: str, endpoint: str, body: object = None, ok: int = 0
    ) -> object:
        url = httpx.URL(self._base_url + path)

        def build(token: str) -> httpx.Request:
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            return httpx.Request(method, url, headers=headers, json=body)

        reply = await self._authorized(endpoint, build)
        if 200 <= reply.status < 300 or reply.status == ok:
            return reply.body
        if reply.status == 403:
            raise PersonioScopeError(
                f"The Personio API credential may not call {endpoint}: grant it the scope "
                f"{WEBHOOKS_SCOPE} to let the operator register its webhook"
            )
        raise _data_error(reply, endpoint, self._names)

    # --- paging -----------------------------------------------------------------------

    async def _list(
        self,
        path: str,
        params: dict[str, str | int],
        model: type[M],
        convert: Callable[[M], T],
    ) -> list[T]:
        """All pages, each converted as it arrives: at 60,000 periods, keeping the wire
        models until the end would double the memory of a run."""
        endpoint = f"GET {path}"
        url: httpx.URL | None = httpx.URL(self._base_url + path, params=params)
        seen: set[str] = set()
        items: list[T] = []
        while url is not None:
            if len(seen) >= MAX_PAGES:
                raise PersonioTransportError(
                    f"Personio's list for {endpoint} goes on past {MAX_PAGES} pages; stopping"
                )
            seen.add(str(url))
            page = _parse(Page, await self._get(endpoint, url), endpoint)
            items.extend(convert(_parse(model, item, endpoint)) for item in page.data)
            url = self._follow(page.next_href, endpoint, seen)
        return items

    def _follow(self, href: str | None, endpoint: str, seen: set[str]) -> httpx.URL | None:
        if href is None:
            return None
        url = self._origin.join(href)
        if (url.scheme, url.host, url.port) != (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        ):
            raise PersonioTransportError(
                f"Personio's next-page link for {endpoint} points to another host; refusing to "
                "follow it (the access token is only sent to the configured Personio base URL)"
            )
        if str(url) in seen:
            raise PersonioTransportError(
                f"Personio's next-page link for {endpoint} repeats an earlier page; stopping"
            )
        return url

    # --- requests and errors ----------------------------------------------------------

    async def _get(self, endpoint: str, url: httpx.URL) -> object:
        reply = await self._authorized(endpoint, lambda token: self._request(url, token))
        if 200 <= reply.status < 300:
            return reply.body
        raise _data_error(reply, endpoint, self._names)

    async def _authorized(self, endpoint: str, build: Callable[[str], httpx.Request]) -> Reply:
        """Send with the cached token; a 401 refreshes it once. A 403 drops it too: a token
        carries the scopes of its issue, so a scope the admin grants after reading our
        message is only seen by a new token (the next attempt mints one)."""
        token = await self._access_token()
        reply = await self._sender.send(endpoint, lambda: build(token))
        if reply.status == 401:
            log.debug("Personio %s -> 401 with a cached token; refreshing once", endpoint)
            self._forget(token)
            token = await self._access_token()
            reply = await self._sender.send(endpoint, lambda: build(token))
        if reply.status == 403:
            self._forget(token)
        return reply

    def _request(self, url: httpx.URL, token: str) -> httpx.Request:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return httpx.Request("GET", url, headers=headers)

    def _wait_after_429(self, response: httpx.Response, attempt: int) -> float:
        """Personio sends no Retry-After; it asks for at least 1 s, so floor + back-off."""
        return self._rate_limit_floor + self._sender.backoff.delay(attempt)

    # --- token ------------------------------------------------------------------------

    async def _access_token(self) -> str:
        token = self._tokens.get(self._token_key)
        if token is not None and _now() < token.refresh_at:
            return token.value
        async with self._token_lock:  # one refresh at a time; late arrivals reuse its result
            token = self._tokens.get(self._token_key)
            if token is None or _now() >= token.refresh_at:
                token = await self._fetch_token()
                self._tokens.put(self._token_key, token)
            return token.value

    def _forget(self, stale: str) -> None:
        token = self._tokens.get(self._token_key)
        if token is not None and token.value == stale:
            self._tokens.put(self._token_key, None)

    async def _fetch_token(self) -> _Token:
        endpoint = "POST /v2/auth/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        url = self._base_url + "/v2/auth/token"
        self.stats.token_refreshes += 1
        reply = await self._sender.send(
            endpoint,
            lambda: httpx.Request("POST", url, data=form, headers={"Accept": "application/json"}),
        )
        if reply.status != 200:
            raise _token_error(reply, self._names)
        parsed = _parse(TokenResponse, reply.body, endpoint)
        margin = min(self._refresh_margin, parsed.expires_in / 2)
        return _Token(parsed.access_token, _now() + parsed.expires_in - margin)


def _webhook(model: WebhookModel) -> RegisteredWebhook:
    return RegisteredWebhook(
        model.id,
        model.url,
        model.status == "ENABLED",
        frozenset(model.enabled_events),
        model.description or "",
    )


def _now() -> float:
    return asyncio.get_running_loop().time()


def _parse(model: type[M], body: object, endpoint: str) -> M:
    return parse_model(_VENDOR, model, body, endpoint)


def _problem(reply: Reply) -> Problem:
    try:
        return Problem.model_validate(reply.body if isinstance(reply.body, dict) else {})
    except ValidationError:
        return Problem()


def _token_error(reply: Reply, names: str) -> PersonioAuthError | PersonioStatusError:
    problem = _problem(reply)
    code = problem.oauth_error or ""
    if reply.status in (401, 403) or code in _AUTH_ERRORS:
        detail = f"HTTP {reply.status}" + (f", {clip(code, 40)}" if code else "")
        return PersonioAuthError(
            f"Personio rejected the client id / client secret ({detail}); check {names}"
        )
    return PersonioStatusError(
        f"Personio refused to issue an access token (HTTP {reply.status}): "
        f"{clip(problem.text()) or 'no details'}",
        reply.status,
    )


def _data_error(reply: Reply, endpoint: str, names: str) -> PersonioError:
    text = clip(_problem(reply).text()) or "no details"
    if reply.status == 401:
        return PersonioAuthError(
            f"Personio rejected a freshly issued access token for {endpoint} ({text}); check that "
            f"the API credential in {names} is active and may read persons and absences "
            f"({SCOPES})"
        )
    if reply.status == 403:
        needed = "personio:persons:read" if "persons" in endpoint else "personio:absences:read"
        return PersonioScopeError(
            f"The Personio API credential may not call {endpoint} ({text}): grant it the scope "
            f"{needed} in Personio's API-credentials settings; the sync needs {SCOPES}"
        )
    return PersonioStatusError(
        f"Personio answered {reply.status} for {endpoint}: {text}", reply.status
    )
