"""PersonioClient against the fake Personio v2: paging, token handling, retries, specific errors."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import pytest
from clients_helpers import FAST, PersonioFactory, Sleeps, credential, person

from personio_sync.clients import PersonioClient, TokenCache
from personio_sync.engine.model import ApprovalStatus, DateRange
from personio_sync.errors import (
    PersonioAuthError,
    PersonioEmailNotReadable,
    PersonioRateLimited,
    PersonioScopeError,
    PersonioServerError,
    PersonioTransportError,
)
from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes.personio import FakePersonio

WINDOW = DateRange(date(2026, 7, 7), date(2027, 1, 17))


def period(pid: str, start: str, end: str | None, **changes: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "person_id": "1000",
        "absence_type_id": "t-vac",
        "starts_from": {"date_time": start, "type": None},
        "ends_at": None if end is None else {"date_time": end, "type": None},
        **changes,
    }


def requests_to(fake: FakePersonio, path: str) -> list[Any]:
    return [e for e in fake.journal.entries() if e.path == path]


# --- paging -----------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
async def test_persons_pages_with_limit_50(
    personio_fake: FakePersonio, personio: PersonioClient, relative: bool
) -> None:
    """All persons across three pages, every page asked with limit=50 (the maximum)."""
    personio_fake.set_knobs(relative_links=relative)
    persons_seed = [person(i) for i in range(120)]
    personio_fake.state.load({"credentials": [credential()], "persons": persons_seed})

    persons = await personio.list_persons()

    assert sorted(p.id for p in persons) == sorted(str(1000 + i) for i in range(120))
    assert persons[0].email is not None and persons[0].name
    pages = requests_to(personio_fake, "/v2/persons")
    assert len(pages) == 3
    assert all(e.query.get("limit") == "50" and e.status == 200 for e in pages)
    assert personio.stats.requests["GET /v2/persons"] == 3


async def test_person_without_email_is_none_when_others_have_one(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    """R7: a single person without e-mail is reported by the engine, not an error here."""
    personio_fake.state.load(
        {"credentials": [credential()], "persons": [person(1), person(2, email=False)]}
    )
    persons = {p.id: p for p in await personio.list_persons()}
    assert persons["1002"].email is None
    assert persons["1001"].email == "person1@example.com"


async def test_r23_email_not_readable(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    """R23: a credential without the e-mail attribute gets an actionable error."""
    personio_fake.state.put_credential(credential(email_readable=False))
    with pytest.raises(PersonioEmailNotReadable) as caught:
        await personio.list_persons()
    assert "API-credentials settings" in str(caught.value)
    assert "readable" in str(caught.value)


async def test_no_persons_is_not_an_email_problem(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    personio_fake.state.load({"credentials": [credential(email_readable=False)]})
    assert await personio.list_persons() == []


async def test_absence_types(personio_fake: FakePersonio, personio: PersonioClient) -> None:
    personio_fake.state.put_absence_type({"id": "t-hour", "name": "Doctor", "unit": "HOUR"})
    types = {t.id: t for t in await personio.list_absence_types()}
    assert types["t-vac"].name == "Vacation" and types["t-vac"].unit == "DAY"
    assert types["t-hour"].unit == "HOUR"
    assert requests_to(personio_fake, "/v2/absence-types")[0].query["limit"] == "100"


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
async def test_r2_absence_periods_filtered_to_window_and_paged(
    personio_fake: FakePersonio, personio: PersonioClient, relative: bool
) -> None:
    """R2: the server filters to the window (naive bounds); cursor paging over 250 periods."""
    personio_fake.set_knobs(relative_links=relative)
    inside = [period(f"p{i:03}", "2026-08-03T00:00:00", "2026-08-05T00:00:00") for i in range(250)]
    outside = [
        period("old", "2026-06-01T00:00:00", "2026-06-03T00:00:00"),
        period("late", "2027-01-18T00:00:00", "2027-01-19T00:00:00"),
    ]
    straddling = period("edge", "2026-07-01T00:00:00", "2026-07-09T00:00:00")
    for p in [*inside, *outside, straddling]:
        personio_fake.state.put_period(p)

    periods = await personio.list_absence_periods(WINDOW)

    assert {p.id for p in periods} == {p["id"] for p in inside} | {"edge"}
    pages = requests_to(personio_fake, "/v2/absence-periods")
    assert len(pages) == 3
    assert pages[0].query == {
        "limit": "100",
        "ends_at.date_time.gte": "2026-07-07T00:00:00",
        "starts_from.date_time.lte": "2027-01-17T23:59:59",
    }


async def test_r3_period_fields_parsed_as_sent(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    """R3/R10: naive local date-times, exclusive end kept, half types, null end, status."""
    personio_fake.state.put_period(
        period(
            "half",
            "2026-08-03T00:00:00",
            "2026-08-04T00:00:00",
            starts_from={"date_time": "2026-08-03T00:00:00", "type": "FIRST_HALF"},
            ends_at={"date_time": "2026-08-04T00:00:00", "type": "FIRST_HALF"},
            status="PENDING",
            timezone_id="Europe/Lisbon",
        )
    )
    personio_fake.state.put_period(period("open", "2026-09-01T00:00:00", None, status="REJECTED"))

    got = {p.id: p for p in await personio.list_absence_periods(WINDOW)}

    half = got["half"]
    assert half.starts_from == datetime(2026, 8, 3) and half.starts_from.tzinfo is None
    assert half.ends_at == datetime(2026, 8, 4)
    assert (half.starts_type, half.ends_type) == ("FIRST_HALF", "FIRST_HALF")
    assert half.status is ApprovalStatus.PENDING
    assert (half.person_id, half.type_id, half.timezone_id) == ("1000", "t-vac", "Europe/Lisbon")
    assert got["open"].ends_at is None and got["open"].ends_type is None
    assert got["open"].status is ApprovalStatus.REJECTED


# --- token ------------------------------------------------------------------------------


async def test_token_cached_across_calls(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    await personio.list_persons()
    await personio.list_absence_types()
    await personio.list_persons()
    assert len(requests_to(personio_fake, "/v2/auth/token")) == 1
    token_call = requests_to(personio_fake, "/v2/auth/token")[0]
    assert token_call.method == "POST" and token_call.status == 200
    assert personio.stats.token_refreshes == 1


async def test_token_reused_by_the_next_runs_clients(
    personio_fake: FakePersonio, make_personio: PersonioFactory
) -> None:
    """Each run opens new clients; with the operator's TokenCache they share one token
    until shortly before it expires, and a rotated secret gets its own (issue 7)."""
    tokens = TokenCache()
    await make_personio(tokens=tokens).list_persons()
    await make_personio(tokens=tokens).list_absence_types()
    assert len(requests_to(personio_fake, "/v2/auth/token")) == 1
    personio_fake.state.put_credential(credential(client_secret="rotated-secret"))
    await make_personio(tokens=tokens, client_secret="rotated-secret").list_persons()
    assert len(requests_to(personio_fake, "/v2/auth/token")) == 2
    assert not any("rotated-secret" in key for key in tokens._tokens)


async def test_concurrent_callers_share_one_token_request(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    await asyncio.gather(*(personio.list_persons() for _ in range(20)))
    assert len(requests_to(personio_fake, "/v2/auth/token")) == 1


async def test_token_refreshed_before_it_expires(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    """A 2 s token is renewed halfway (the margin is capped at half the lifetime), never used
    until the server refuses it: no 401 happens on the way to the second token request."""
    personio_fake.set_knobs(token_ttl_s=2)

    async def refreshed() -> bool:
        if personio.stats.token_refreshes < 2:
            await personio.list_absence_types()
        return personio.stats.token_refreshes >= 2

    await eventually_async(refreshed, within=5, interval=0, what="a second token")
    assert not [e for e in personio_fake.journal.entries() if e.status == 401]


async def test_revoked_token_refreshed_once_on_401(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    await personio.list_persons()
    personio_fake.state.expire_tokens()

    await asyncio.gather(*(personio.list_persons() for _ in range(5)))

    assert len(requests_to(personio_fake, "/v2/auth/token")) == 2
    assert personio.stats.token_refreshes == 2


async def test_r23_wrong_secret(
    make_personio: PersonioFactory, personio_fake: FakePersonio
) -> None:
    client = make_personio(client_secret="not-the-secret")
    with pytest.raises(PersonioAuthError) as caught:
        await client.list_persons()
    message = str(caught.value)
    assert "client id / client secret" in message
    assert "personioClientId" in message and "personioClientSecret" in message
    assert len(requests_to(personio_fake, "/v2/auth/token")) == 1, "a 401 is not retried"
    assert not requests_to(personio_fake, "/v2/persons")


async def test_credential_removed_after_token_issued(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    """The data call's 401 leads to one refresh, which the token endpoint refuses."""
    await personio.list_absence_types()
    personio_fake.state.remove_credential("sync-client")
    with pytest.raises(PersonioAuthError):
        await personio.list_absence_types()


@pytest.mark.parametrize(
    ("scopes", "call", "needed"),
    [
        (["personio:absences:read"], "list_persons", "personio:persons:read"),
        (["personio:persons:read"], "list_absence_types", "personio:absences:read"),
    ],
)
async def test_r23_missing_scope(
    personio_fake: FakePersonio,
    personio: PersonioClient,
    scopes: list[str],
    call: str,
    needed: str,
) -> None:
    personio_fake.state.put_credential(credential(scopes=scopes))
    with pytest.raises(PersonioScopeError) as caught:
        await getattr(personio, call)()
    assert needed in str(caught.value)
    assert "personio:persons:read and personio:absences:read" in str(caught.value)


# --- retries ----------------------------------------------------------------------------


async def test_r15_429_waits_at_least_one_second(
    personio_fake: FakePersonio, make_personio: PersonioFactory
) -> None:
    """R15: Personio's 429 has no Retry-After; the client waits ≥ 1 s (the default floor
    plus back-off) and retries. The wait is recorded, not slept."""
    sleeps = Sleeps()
    client = make_personio(rate_limit_wait=1.0, sleep=sleeps)
    personio_fake.inject({"kind": "rate_limit", "path_prefix": "/v2/persons", "times": 1})

    assert len(await client.list_persons()) == 3

    first, second = requests_to(personio_fake, "/v2/persons")
    assert (first.status, second.status) == (429, 200)
    [waited] = sleeps.delays  # one wait, between the 429 and the retry
    assert 1.0 <= waited <= 1.0 + FAST["backoff_max"]
    assert client.stats.rate_limited == 1 and client.stats.rate_limit_wait_seconds == waited


async def test_429_outlasting_retries(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    personio_fake.inject({"kind": "rate_limit", "path_prefix": "/v2/absence-types"})
    with pytest.raises(PersonioRateLimited):
        await personio.list_absence_types()
    assert personio.stats.rate_limited == 4  # 1 + max_retries=3


@pytest.mark.parametrize("kind", ["status", "timeout", "malformed", "drop"])
async def test_transient_fault_retried_then_success(
    personio_fake: FakePersonio, make_personio: PersonioFactory, quick_http: Any, kind: str
) -> None:
    personio = make_personio(http_client=quick_http)
    personio_fake.inject({"kind": kind, "path_prefix": "/v2/persons", "times": 2})
    assert len(await personio.list_persons()) == 3
    assert personio.stats.requests["GET /v2/persons"] == 3
    assert personio.stats.retries == 2


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("status", PersonioServerError),
        ("timeout", PersonioTransportError),
        ("malformed", PersonioTransportError),
        ("drop", PersonioTransportError),
    ],
)
async def test_persistent_fault_gives_specific_error(
    personio_fake: FakePersonio,
    make_personio: PersonioFactory,
    quick_http: Any,
    kind: str,
    error: type[Exception],
) -> None:
    personio = make_personio(http_client=quick_http)
    personio_fake.inject({"kind": kind, "path_prefix": "/v2/absence-periods"})
    with pytest.raises(error) as caught:
        await personio.list_absence_periods(WINDOW)
    assert caught.value.__cause__ is not None or kind == "status"
    assert personio.stats.requests["GET /v2/absence-periods"] == 4  # 1 + max_retries
    assert caught.value.reason == "PersonioUnreachable"  # FAIR-4: 5xx, timeouts alike
    if isinstance(caught.value, PersonioServerError):
        assert caught.value.status_code == 503


async def test_token_endpoint_5xx_retried(
    personio_fake: FakePersonio, personio: PersonioClient
) -> None:
    personio_fake.inject({"kind": "status", "status": 502, "path_prefix": "/v2/auth", "times": 1})
    assert len(await personio.list_persons()) == 3
    assert personio.stats.requests["POST /v2/auth/token"] == 2


async def test_unreachable_host(http: Any) -> None:
    client = PersonioClient(
        http, "http://127.0.0.1:9", "id", "pw", max_retries=1, backoff_base=0.01
    )
    with pytest.raises(PersonioTransportError) as caught:
        await client.list_persons()
    assert "base URL" in str(caught.value)
