"""Async client for the awork v1 endpoints the sync needs: users, API users and absences.

Built around an injected `httpx.AsyncClient` and safe to call concurrently: the
runner applies writes in parallel, so every request passes through one
`RateLimitPacer` that mirrors awork's per-workspace budget from the `ratelimit-*`
response headers and holds callers back before the server has to answer 429
(see `_pacing.py`). A 429 that happens anyway waits `ratelimit-reset` seconds.

A create whose answer is lost (a timeout after sending, a cut connection, a 5xx) may
still be in awork's hands: it is looked up by its marker, patiently (`settle_seconds`,
awork's own processing time), and sent again only when it is truly absent; its marker
is remembered, so the applier looks it up once more before the run reports (D-Once-2).

401 means the API key is wrong (or lacks admin rights) and aborts the run; any
other 4xx is an `AworkStatusError` carrying awork's error `code`, which the runner
treats as a per-item failure (R15). Everything raised is a `personio_sync.errors.AworkError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import TypeVar

import httpx
from pydantic import BaseModel

from personio_sync.clients._awork_models import (
    AbsenceForm,
    AbsenceModel,
    ApiUserModel,
    UserModel,
)
from personio_sync.clients._awork_wire import (
    AWORK,
    absence_path,
    auth_error,
    ends_with,
    int_header,
    parse,
    parse_list,
    require_ok,
)
from personio_sync.clients._http import (
    MAX_PAGES,
    Backoff,
    Reply,
    RetryingSender,
    Settle,
    Sleep,
)
from personio_sync.clients._pacing import RateLimitPacer, rate_limit_header_wait
from personio_sync.engine.marker import ANY_OWNER
from personio_sync.engine.model import AbsenceBody, AworkAbsence, AworkUser
from personio_sync.engine.ownership import age
from personio_sync.errors import (
    AworkTransportError,
)

log = logging.getLogger("personio_sync.clients.awork")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_PAGE_SIZE = 1000
MARKED_PER_REQUEST = 20  # period ids per filter: keeps the URL short
SETTLE_SECONDS = 30.0  # how long awork may take to store a create whose answer was lost
# How messages name the key unless told otherwise (the CLI's environment variable).
SECRET_NAMES = "the Secret key aworkApiKey"

_VENDOR = AWORK


class AworkClient:
    """Reads users and owned absences and writes absences in one awork workspace."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        *,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        rate_limit_wait: float = 1.0,
        max_rate_limit_wait: float = 60.0,
        page_size: int = MAX_PAGE_SIZE,
        pace: bool = True,
        second_window: float = 1.0,  # awork's burst window; only time-scaled fakes shorten it
        pacer: RateLimitPacer | None = None,  # shared by every client of the workspace
        sleep: Sleep = asyncio.sleep,  # between retries (the pacer keeps its own clock)
        settle_seconds: float = SETTLE_SECONDS,
        credential_names: str | None = None,  # where the user keeps the key, for messages
    ) -> None:
        self._sleep = sleep
        self._settle_seconds = settle_seconds
        self._in_doubt: set[str] = set()  # markers of creates whose answer was lost
        self._base_url = base_url.rstrip("/")
        self._names = credential_names or SECRET_NAMES
        self._api_key = api_key
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._fallback_wait = rate_limit_wait
        self._max_wait = max_rate_limit_wait
        self._sender = RetryingSender(
            http,
            _VENDOR,
            max_retries=max_retries,
            backoff=Backoff(base=backoff_base, cap=backoff_max),
            rate_limit_wait=self._wait_after_429,
            pacer=(
                (pacer or RateLimitPacer(max_wait=max_rate_limit_wait, second_window=second_window))
                if pace
                else None
            ),
            sleep=sleep,
        )
        self.stats = self._sender.stats

    def __repr__(self) -> str:
        return f"AworkClient(base_url={self._base_url!r})"

    async def list_users(self) -> list[AworkUser]:
        """Active and deactivated users (archived ones are hidden by awork), API users flagged."""
        users = await self._paged("/users", "GET /users", {}, UserModel, lambda user: user)
        api_user_ids = await self._api_user_ids()
        return [user.to_user(api_user_ids) for user in users]

    async def list_owned_absences(self, prefix: str) -> list[AworkAbsence]:
        """Absences whose externalProvider starts with `prefix` (R11), listed by awork's filter."""
        literal = prefix.replace("'", "''")
        params = {"filterby": f"startswith(externalProvider,'{literal}')"}
        return await self._paged(
            "/absences", "GET /absences", params, AbsenceModel, AbsenceModel.to_absence
        )

    async def list_marked_absences(self, period_ids: Collection[str]) -> list[AworkAbsence]:
        """Every personio-sync absence whose marker ends in one of these period ids,
        whoever owns it (a targeted sync, NRT-1); the caller checks the markers again."""
        found: list[AworkAbsence] = []
        ids = sorted(period_ids)
        for start in range(0, len(ids), MARKED_PER_REQUEST):
            chunk = ids[start : start + MARKED_PER_REQUEST]
            ends = " or ".join(ends_with(":" + pid) for pid in chunk)
            params = {"filterby": f"startswith(externalProvider,'{ANY_OWNER}') and ({ends})"}
            found += await self._paged(
                "/absences", "GET /absences", params, AbsenceModel, AbsenceModel.to_absence
            )
        return found

    async def create_absence(self, body: AbsenceBody) -> AworkAbsence:
        """Creates one absence, exactly once (D-Once): when a POST's answer is lost, the
        absence carrying its marker is looked up, for as long as awork may still be
        storing it, before anything is sent again (D-Once-2)."""
        form = AbsenceForm.from_body(body).model_dump()
        marker = body.external_provider

        async def settle() -> Reply | None:
            self._in_doubt.add(marker)
            found = await self._look_up_patiently(marker)
            if not found:
                return None
            return Reply(200, httpx.Headers(), found[0].model_dump(mode="json"))

        reply = await self._call("POST", "/absences", "POST /absences", json=form, settle=settle)
        return self._absence(reply, "POST /absences")

    def take_in_doubt(self) -> list[str]:
        """Markers of creates whose answer was lost since the last call, for the final
        look-up before a run reports (D-Once-2); forgotten once taken."""
        markers, self._in_doubt = sorted(self._in_doubt), set()
        return markers

    async def find_absences(self, marker: str) -> list[AworkAbsence]:
        """Every absence whose externalProvider is exactly `marker`, oldest first (age)."""
        return [model.to_absence() for model in await self._marked(marker)]

    async def _marked(self, marker: str) -> list[AbsenceModel]:
        literal = marker.replace("'", "''")
        params = {"filterby": f"externalProvider eq '{literal}'"}
        found = await self._paged(
            "/absences", "GET /absences", params, AbsenceModel, lambda absence: absence
        )
        exact = [a for a in found if a.externalProvider == marker]  # never trust the filter
        return sorted(exact, key=lambda model: age(model.to_absence()))

    async def _look_up_patiently(self, marker: str) -> list[AbsenceModel]:
        """Look for a create's absence at once and after each pause of `settle_pauses`:
        a POST awork is still processing (it commits after the client gave up) is found,
        not duplicated. A fixed schedule, not a deadline: it ends on fast-forwarded
        clocks too."""
        found = await self._marked(marker)
        for pause in settle_pauses(self._settle_seconds):
            if found:
                break
            await self._sleep(pause)
            found = await self._marked(marker)
        return found

    async def update_absence(self, absence_id: str, body: AbsenceBody) -> AworkAbsence:
        form = AbsenceForm.from_body(body).model_dump()
        endpoint = "PUT /absences/{id}"
        reply = await self._call("PUT", absence_path(absence_id), endpoint, json=form)
        return self._absence(reply, endpoint)

    async def delete_absence(self, absence_id: str) -> None:
        """Deletes one absence; one that is already gone (404) counts as deleted (R14)."""
        endpoint = "DELETE /absences/{id}"
        reply = await self._call("DELETE", absence_path(absence_id), endpoint)
        if reply.status != 404:
            require_ok(reply, endpoint)

    # --- helpers ----------------------------------------------------------------------

    async def _api_user_ids(self) -> set[str]:
        """`GET /apiusers` needs admin rights; without them (401/403/404) at least the
        caller itself (`GET /me`) is known to be an API user, so it is never reported (R6)."""
        reply = await self._call("GET", "/apiusers", "GET /apiusers")
        if reply.status in (401, 403, 404):
            log.debug("awork GET /apiusers -> %d; only the caller counts as API user", reply.status)
            me = await self._call("GET", "/me", "GET /me")
            require_ok(me, "GET /me")
            caller = me.body.get("id") if isinstance(me.body, dict) else None
            return {str(caller)} if caller else set()
        require_ok(reply, "GET /apiusers")
        return {user.id for user in parse_list(ApiUserModel, reply.body, "GET /apiusers")}

    async def _paged(
        self,
        path: str,
        endpoint: str,
        params: dict[str, str],
        model: type[M],
        convert: Callable[[M], T],
    ) -> list[T]:
        """All pages, converted page by page so the wire models never pile up."""
        items: list[T] = []
        page = 1
        while True:
            query = {**params, "page": str(page), "pageSize": str(self._page_size)}
            reply = await self._call("GET", path, endpoint, params=query)
            require_ok(reply, endpoint)
            batch = parse_list(model, reply.body, endpoint)
            items.extend(convert(item) for item in batch)
            total = int_header(reply.headers, "aw-totalitems")
            if len(batch) < self._page_size or (total is not None and len(items) >= total):
                return items
            if page >= MAX_PAGES:
                raise AworkTransportError(
                    f"awork's list for {endpoint} goes on past {MAX_PAGES} pages; stopping"
                )
            page += 1

    async def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, object] | None = None,
        settle: Settle | None = None,
    ) -> Reply:
        url = self._base_url + path
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        reply = await self._sender.send(
            endpoint,
            lambda: httpx.Request(method, url, params=params, json=json, headers=headers),
            settle=settle,
        )
        if reply.status == 401 and endpoint != "GET /apiusers":
            raise auth_error(reply, self._names)
        return reply

    def _absence(self, reply: Reply, endpoint: str) -> AworkAbsence:
        require_ok(reply, endpoint)
        return parse(AbsenceModel, reply.body, endpoint).to_absence()

    def _wait_after_429(self, response: httpx.Response, attempt: int) -> float:
        announced = rate_limit_header_wait(response.headers)
        if announced is None:
            return self._sender.backoff.delay(attempt, floor=self._fallback_wait)
        return min(announced, self._max_wait)


def settle_pauses(settle_seconds: float) -> list[float]:
    """The pauses between look-ups of a create whose answer was lost: doubling from a
    sixteenth, adding up to `settle_seconds` (30 s: 1.9, 3.8, 7.5, 15, 1.9)."""
    pauses: list[float] = []
    step, left = settle_seconds / 16, settle_seconds
    while left > 1e-9:
        pauses.append(min(step, left))
        left -= pauses[-1]
        step *= 2
    return pauses
