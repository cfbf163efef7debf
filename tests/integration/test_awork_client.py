"""AworkClient against the fake awork v1: paging, users, owned absences, writes, retries, pacing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web
from clients_helpers import API_KEY, AWORK_SETTLE, FAST, AworkFactory, Sleeps, awork_user

from contract.schemas import validate_awork
from personio_sync.clients import AworkClient, PacerRegistry
from personio_sync.clients.awork import settle_pauses
from personio_sync.engine.model import AbsenceBody
from personio_sync.errors import (
    AworkAuthError,
    AworkRateLimited,
    AworkServerError,
    AworkStatusError,
    AworkTransportError,
)
from personio_sync_testing.fakes.awork import FakeAwork
from personio_sync_testing.fakes.awork.errors import fail

PREFIX = "personio-sync:0123456789ab:"


def body(user: int = 1, pid: str = "p1", **changes: Any) -> AbsenceBody:
    fields: dict[str, Any] = {
        "user_id": awork_user(user)["id"],
        "start_on": datetime(2026, 8, 3, tzinfo=UTC),
        "end_on": datetime(2026, 8, 5, 23, 59, 59, tzinfo=UTC),
        "is_half_day_on_start": False,
        "is_half_day_on_end": False,
        "description": "Vacation",
        "external_provider": PREFIX + pid,
        **changes,
    }
    return AbsenceBody(**fields)


def wire(parts: tuple[int, ...]) -> str:
    return datetime(*parts).strftime("%Y-%m-%dT%H:%M:%SZ")


def hand_made(i: int, provider: str | None) -> dict[str, Any]:
    return {
        "userId": awork_user(1)["id"],
        "startOn": f"2026-09-{i % 28 + 1:02}T00:00:00Z",
        "endOn": f"2026-09-{i % 28 + 1:02}T23:59:59Z",
        "externalProvider": provider,
    }


def requests_to(fake: FakeAwork, method: str, prefix: str) -> list[Any]:
    path = "/api/v1" + prefix
    return [e for e in fake.journal.entries() if e.method == method and e.path.startswith(path)]


# --- users ------------------------------------------------------------------------------


async def test_r6_users_with_emails_flags_and_api_users(
    awork_fake: FakeAwork, awork: AworkClient
) -> None:
    """R6: e-mails from userContactInfos; archived hidden; agents, API users flagged."""
    awork_fake.state.load(
        {
            "api_keys": [API_KEY],
            "users": [
                awork_user(1, emails=["a@example.com", " A2@Example.com "]),
                awork_user(2, isAgent=True),
                awork_user(3, isDeactivated=True),
                awork_user(4, isArchived=True),
            ],
        }
    )
    users = {u.id: u for u in await awork.list_users()}

    one, agent, deactivated = (users[awork_user(i)["id"]] for i in (1, 2, 3))
    assert one.emails == ("a@example.com", "A2@Example.com")
    assert one.name == "User1 Test" and not (one.is_agent or one.is_api_user or one.is_archived)
    assert agent.is_agent
    assert deactivated.emails == ("person3@example.com",) and not deactivated.is_archived
    assert awork_user(4)["id"] not in users
    api_users = [u for u in users.values() if u.is_api_user]
    assert len(api_users) == 1 and api_users[0].emails == ()


async def test_users_paged_until_total(awork_fake: FakeAwork, make_awork: AworkFactory) -> None:
    """aw-totalitems saves the trailing empty-page request; a short page ends the list too."""
    users = [awork_user(i) for i in range(19)]  # + 1 API user = 20 rows = 2 full pages
    awork_fake.state.load({"api_keys": [API_KEY], "users": users})
    client = make_awork(page_size=10)

    assert len(await client.list_users()) == 20

    pages = requests_to(awork_fake, "GET", "/users")
    assert [e.query["page"] for e in pages] == ["1", "2"]
    assert all(e.query["pageSize"] == "10" for e in pages)
    assert client.stats.requests == {"GET /users": 2, "GET /apiusers": 1}


async def test_users_default_page_size_is_1000(awork_fake: FakeAwork, awork: AworkClient) -> None:
    await awork.list_users()
    assert requests_to(awork_fake, "GET", "/users")[0].query["pageSize"] == "1000"


class _NoAdminRights(FakeAwork):
    """An awork whose API key may not list API users (awork answers 401 for missing rights)."""

    async def _api_users(self, request: web.Request) -> web.Response:
        fail(401)


async def test_r6_apiusers_forbidden_still_flags_the_caller(http: Any) -> None:
    """Without rights on /apiusers, the key's own API user (GET /me) is still no candidate."""
    seed = {"api_keys": [API_KEY], "users": [awork_user(1)]}
    async with _NoAdminRights(seed) as fake:
        client = AworkClient(http, fake.url, API_KEY)
        users = await client.list_users()
        me = (
            await http.get(f"{fake.url}/me", headers={"Authorization": f"Bearer {API_KEY}"})
        ).json()
    assert len(users) == 2
    assert [u.id for u in users if u.is_api_user] == [me["id"]]


# --- owned absences ---------------------------------------------------------------------


async def test_r11_owned_absences_listed_by_filter_and_paged(
    awork_fake: FakeAwork, make_awork: AworkFactory
) -> None:
    """R11/R12: only this owner's marker comes back; others' and hand-made ones do not."""
    owned = [hand_made(i, PREFIX + f"p{i}") for i in range(25)]
    others = [hand_made(i, "personio-sync:ffffffffffff:p1") for i in range(3)]
    for row in [*owned, *others, hand_made(0, None)]:
        awork_fake.state.add_absence(row)
    client = make_awork(page_size=10)

    got = await client.list_owned_absences(PREFIX)

    assert sorted(a.external_provider or "" for a in got) == sorted(
        PREFIX + f"p{i}" for i in range(25)
    )
    first = next(a for a in got if a.external_provider == PREFIX + "p0")
    assert first.start_on == datetime(2026, 9, 1, tzinfo=UTC)
    assert first.end_on == datetime(2026, 9, 1, 23, 59, 59, tzinfo=UTC)
    assert first.user_id == awork_user(1)["id"]
    pages = requests_to(awork_fake, "GET", "/absences")
    assert [e.query["page"] for e in pages] == ["1", "2", "3"]
    assert pages[0].query["filterby"] == f"startswith(externalProvider,'{PREFIX}')"


async def test_filter_quotes_escaped(awork_fake: FakeAwork, awork: AworkClient) -> None:
    awork_fake.state.add_absence(hand_made(1, "o'brien:1"))
    awork_fake.state.add_absence(hand_made(2, "o:2"))
    got = await awork.list_owned_absences("o'brien:")
    assert [a.external_provider for a in got] == ["o'brien:1"]


# --- writes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "half_start", "half_end"),
    [
        ((2026, 8, 3, 0, 0, 0), (2026, 8, 5, 23, 59, 59), False, False),
        ((2026, 8, 3, 0, 0, 0), (2026, 8, 3, 12, 0, 0), True, False),
        ((2026, 8, 3, 12, 0, 0), (2026, 8, 3, 23, 59, 59), False, True),
    ],
    ids=["full-days", "morning", "afternoon"],
)
async def test_r9_create_sends_schema_valid_form(
    awork_fake: FakeAwork,
    awork: AworkClient,
    start: tuple[int, ...],
    end: tuple[int, ...],
    half_start: bool,
    half_end: bool,
) -> None:
    """R9/R10: UTC `Z` strings, exactly the AbsenceForm fields; the stored absence comes back."""
    sent = body(
        start_on=datetime(*start, tzinfo=UTC),
        end_on=datetime(*end, tzinfo=UTC),
        is_half_day_on_start=half_start,
        is_half_day_on_end=half_end,
    )
    created = await awork.create_absence(sent)

    (request,) = requests_to(awork_fake, "POST", "/absences")
    validate_awork("AbsenceForm", request.body, request=True)
    assert request.body["startOn"] == wire(start)
    assert request.body["endOn"] == wire(end)
    assert (created.start_on, created.end_on) == (sent.start_on, sent.end_on)
    assert (created.is_half_day_on_start, created.is_half_day_on_end) == (half_start, half_end)
    assert created.external_provider == PREFIX + "p1" and created.description == "Vacation"
    assert created.id in awork_fake.state.absences


async def test_naive_datetimes_sent_as_utc_wall_clock(
    awork_fake: FakeAwork, awork: AworkClient
) -> None:
    await awork.create_absence(
        body(start_on=datetime(2026, 8, 3), end_on=datetime(2026, 8, 3, 23, 59, 59))
    )
    (request,) = requests_to(awork_fake, "POST", "/absences")
    assert (request.body["startOn"], request.body["endOn"]) == (
        "2026-08-03T00:00:00Z",
        "2026-08-03T23:59:59Z",
    )


async def test_update_and_delete(awork_fake: FakeAwork, awork: AworkClient) -> None:
    created = await awork.create_absence(body())
    updated = await awork.update_absence(created.id, body(user=2, description="Sick"))
    assert (updated.id, updated.user_id, updated.description) == (
        created.id,
        awork_user(2)["id"],
        "Sick",
    )
    (put,) = requests_to(awork_fake, "PUT", "/absences/")
    validate_awork("AbsenceForm", put.body, request=True)

    await awork.delete_absence(created.id)
    assert created.id not in awork_fake.state.absences
    assert awork.stats.requests == {
        "POST /absences": 1,
        "PUT /absences/{id}": 1,
        "DELETE /absences/{id}": 1,
    }


async def test_r14_delete_of_missing_absence_is_done(
    awork_fake: FakeAwork, awork: AworkClient
) -> None:
    """R14: a DELETE answered 404 (gone already, or the retry of a lost answer) is done:
    sent once, no error, no retry, and nothing else is touched."""
    kept = await awork.create_absence(body())
    missing = "5e1f8a0c-0000-4000-8000-000000000000"
    await awork.delete_absence(missing)
    (delete,) = requests_to(awork_fake, "DELETE", "/absences/")
    assert delete.path.endswith("/" + missing) and delete.status == 404
    assert list(awork_fake.state.absences) == [kept.id]
    assert awork.stats.requests["DELETE /absences/{id}"] == 1


async def test_r15_item_failures_carry_awork_code(awork: AworkClient) -> None:
    """R15: per-item 4xx are AworkStatusError with the parsed ErrorResponse code."""
    with pytest.raises(AworkStatusError) as missing:
        await awork.update_absence("5e1f8a0c-0000-4000-8000-000000000000", body())
    assert (missing.value.status_code, missing.value.code) == (404, "not-found")

    with pytest.raises(AworkStatusError) as invalid:
        await awork.create_absence(body(description="x" * 1001))
    assert (invalid.value.status_code, invalid.value.code) == (400, "validation-failed")
    assert "Description" in str(invalid.value)

    with pytest.raises(AworkStatusError) as nobody:
        await awork.create_absence(body(user=99))
    assert nobody.value.code == "not-found"


async def test_r23_wrong_api_key(make_awork: AworkFactory, awork_fake: FakeAwork) -> None:
    client = make_awork(api_key="wrong")
    with pytest.raises(AworkAuthError) as caught:
        await client.list_users()
    assert "aworkApiKey" in str(caught.value)
    assert len(awork_fake.journal.entries()) == 1, "a 401 is neither retried nor followed up"


# --- retries and rate limits ------------------------------------------------------------


async def test_r15_429_waits_for_ratelimit_reset(
    awork_fake: FakeAwork, make_awork: AworkFactory
) -> None:
    """R15: the fake's 429 says ratelimit-reset: 1; the retry waits exactly that (recorded,
    not slept; the pacer, which would hold the retry too, is off: test_clients_pacing)."""
    sleeps = Sleeps()
    awork = make_awork(sleep=sleeps, pace=False)
    awork_fake.inject({"kind": "rate_limit", "path_prefix": "/absences", "times": 1})

    await awork.create_absence(body())

    first, second = requests_to(awork_fake, "POST", "/absences")
    assert (first.status, second.status) == (429, 200)
    assert sleeps.delays == [1.0]
    assert awork.stats.rate_limited == 1 and awork.stats.rate_limit_wait_seconds == 1.0


async def test_429_outlasting_retries(awork_fake: FakeAwork, make_awork: AworkFactory) -> None:
    client = make_awork(max_rate_limit_wait=0.01, pace=False)
    awork_fake.inject({"kind": "rate_limit", "path_prefix": "/users"})
    with pytest.raises(AworkRateLimited):
        await client.list_users()
    assert client.stats.rate_limited == 4


@pytest.mark.parametrize("kind", ["status", "timeout", "malformed", "drop"])
async def test_transient_fault_retried_then_success(
    awork_fake: FakeAwork, make_awork: AworkFactory, quick_http: Any, kind: str
) -> None:
    awork = make_awork(http_client=quick_http)
    awork_fake.inject({"kind": kind, "path_prefix": "/absences", "times": 2})
    assert await awork.list_owned_absences(PREFIX) == []
    assert awork.stats.requests["GET /absences"] == 3 and awork.stats.retries == 2


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("status", AworkServerError),
        ("timeout", AworkTransportError),
        ("malformed", AworkTransportError),
        ("drop", AworkTransportError),
    ],
)
async def test_persistent_fault_gives_specific_error(
    awork_fake: FakeAwork,
    make_awork: AworkFactory,
    quick_http: Any,
    kind: str,
    error: type[Exception],
) -> None:
    """Each POST whose outcome is unknown is looked up, patiently, before it is sent again
    (D-Once, D-Once-2)."""
    awork = make_awork(http_client=quick_http)
    awork_fake.inject({"kind": kind, "path_prefix": "/absences", "method": "POST"})
    with pytest.raises(error) as caught:
        await awork.create_absence(body())
    look_ups = 1 + len(settle_pauses(AWORK_SETTLE["settle_seconds"]))
    assert awork.stats.requests["POST /absences"] == 4
    assert awork.stats.requests["GET /absences"] == 4 * look_ups and awork.stats.settled == 0
    assert caught.value.reason == "AworkUnreachable"  # FAIR-4: 5xx, timeouts alike
    if isinstance(caught.value, AworkServerError):
        assert caught.value.status_code == 503
    else:
        assert caught.value.__cause__ is not None


@pytest.mark.parametrize("kind", ["lost_answer", "malformed"])
async def test_d_once_create_whose_answer_is_lost_is_found_not_sent_again(
    awork_fake: FakeAwork, make_awork: AworkFactory, quick_http: Any, kind: str
) -> None:
    """awork stored the absence but the answer never arrived (or arrived cut short)."""
    awork = make_awork(http_client=quick_http)
    if kind == "malformed":  # the fake's malformed fault answers without storing: store first
        await make_awork().create_absence(body())
    awork_fake.inject({"kind": kind, "path_prefix": "/absences", "method": "POST", "times": 1})
    created = await awork.create_absence(body())
    assert created.external_provider == PREFIX + "p1"
    assert awork.stats.requests["POST /absences"] == 1 and awork.stats.settled == 1
    assert [a.id for a in await awork.list_owned_absences(PREFIX)] == [created.id]


async def test_d_once_unsent_create_is_retried_without_a_lookup() -> None:
    """A connection that never opened proves the POST never arrived: no lookup needed."""
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        form = json.loads(request.content)
        return httpx.Response(200, json={"id": "aw1", **form})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        awork = AworkClient(client, "http://awork.test/api/v1", API_KEY, pace=False, **FAST)
        created = await awork.create_absence(body())
    assert calls == ["POST", "POST"] and created.id == "aw1" and awork.stats.settled == 0


async def test_concurrent_writes_paced_without_429_storm(
    awork_fake: FakeAwork, awork: AworkClient
) -> None:
    """40 writes at concurrency 16 against a 20-per-window budget: the pacer waits for the
    window reset instead of letting the server answer 429 (the retry loop stays the backstop)."""
    awork_fake.set_knobs(rate_limits=True, per_minute=20, time_scale=60)  # a 1 s "minute"
    gate = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        async with gate:
            await awork.create_absence(body(pid=f"p{i}"))

    await asyncio.gather(*(create(i) for i in range(40)))

    assert len(awork_fake.state.absences) == 40
    assert awork.stats.rate_limited == 0  # without the pacer: 20 of 40 get a 429
    assert awork.stats.pacing_wait_seconds > 0


async def test_fair_1_runs_on_one_workspace_share_one_budget(
    awork_fake: FakeAwork, make_awork: AworkFactory
) -> None:
    """Two clients (two runs) with the same key and one PacerRegistry: together they stay
    under the workspace's budget. Each pacing alone would spend the whole budget."""
    awork_fake.set_knobs(rate_limits=True, per_minute=20, time_scale=60)  # a 1 s "minute"
    registry = PacerRegistry()
    runs = [make_awork(pacer=registry.get(awork_fake.url, API_KEY)) for _ in range(2)]
    gate = asyncio.Semaphore(16)

    async def create(awork: AworkClient, i: int) -> None:
        async with gate:
            await awork.create_absence(body(pid=f"p{i}"))

    await asyncio.gather(*(create(runs[i % 2], i) for i in range(40)))

    assert len(awork_fake.state.absences) == 40
    assert [awork.stats.rate_limited for awork in runs] == [0, 0]
