"""R21: credentials and tokens never reach exception text, reprs, args, logs or stats.

Every error path of both clients runs with recognisable secrets ("S3CR3T-…") and
the Personio access token the fake issued; none may appear in what an operator
could print: str/repr/args/attributes of the exception and its whole formatted
chain, the captured logs at DEBUG (httpx and httpcore included), the stats, and
the clients' reprs.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from clients_helpers import FAST, awork_user, person

from personio_sync.clients import AworkClient, PersonioClient
from personio_sync.engine.model import AbsenceBody, DateRange
from personio_sync.errors import SyncError
from personio_sync_testing.fakes.awork import FakeAwork
from personio_sync_testing.fakes.personio import FakePersonio

CLIENT_ID = "S3CR3T-client-id-7d1e"
CLIENT_SECRET = "S3CR3T-client-secret-4b9a"
API_KEY = "S3CR3T-awork-key-c2f0"
WRONG = "S3CR3T-wrong-value-0e55"
WINDOW = DateRange(date(2026, 7, 7), date(2027, 1, 17))


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakePersonio, FakeAwork]]:
    cred = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    async with (
        FakePersonio({"credentials": [cred], "persons": [person(1)]}) as personio,
        FakeAwork({"api_keys": [API_KEY], "users": [awork_user(1)]}) as awork,
    ):
        yield personio, awork  # type: ignore[misc]


async def issued_token(http: httpx.AsyncClient, fake: FakePersonio) -> str:
    """The fake hands out the same token per credential while it is valid: this is the one
    the client will use."""
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
    response = await http.post(
        fake.url + "/v2/auth/token", data={**form, "client_secret": CLIENT_SECRET}
    )
    token: str = response.json()["access_token"]
    return token


def absence() -> AbsenceBody:
    return AbsenceBody(
        user_id=awork_user(1)["id"],
        start_on=datetime(2026, 8, 3, tzinfo=UTC),
        end_on=datetime(2026, 8, 3, 23, 59, 59, tzinfo=UTC),
        is_half_day_on_start=False,
        is_half_day_on_end=False,
        description="x" * 1001,  # too long: awork's validation-failed
        external_provider="personio-sync:0123456789ab:p1",
    )


Scenario = Callable[[FakePersonio, FakeAwork, httpx.AsyncClient], Awaitable[Any]]


def personio_client(
    http: httpx.AsyncClient, url: str, secret: str = CLIENT_SECRET
) -> PersonioClient:
    return PersonioClient(http, url, CLIENT_ID, secret, rate_limit_wait=0.01, **FAST)


def awork_client(http: httpx.AsyncClient, url: str, key: str = API_KEY) -> AworkClient:
    return AworkClient(http, url, key, max_rate_limit_wait=0.01, rate_limit_wait=0.01, **FAST)


async def p_wrong_secret(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    return await personio_client(http, p.url, WRONG).list_persons()


async def p_missing_scope(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    p.state.put_credential({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": []})
    return await personio_client(http, p.url).list_persons()


async def p_email_hidden(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    cred = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "email_readable": False}
    p.state.put_credential(cred)
    return await personio_client(http, p.url).list_persons()


async def p_revoked(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    client = personio_client(http, p.url)
    await client.list_absence_types()
    p.state.remove_credential(CLIENT_ID)
    return await client.list_absence_types()


def p_fault(kind: str) -> Scenario:
    async def scenario(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
        p.inject({"kind": kind, "path_prefix": "/v2/absence-periods"})
        return await personio_client(http, p.url).list_absence_periods(WINDOW)

    scenario.__name__ = f"personio_{kind}"
    return scenario


async def p_token_fault(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    p.inject({"kind": "malformed", "path_prefix": "/v2/auth/token"})
    return await personio_client(http, p.url).list_persons()


async def p_unreachable(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    return await personio_client(http, "http://127.0.0.1:9").list_persons()


async def a_wrong_key(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    return await awork_client(http, a.url, WRONG).list_users()


async def a_not_found(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    return await awork_client(http, a.url).update_absence("5e1f8a0c-0000-4000-8000-0", absence())


async def a_invalid(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
    return await awork_client(http, a.url).create_absence(absence())


def a_fault(kind: str) -> Scenario:
    async def scenario(p: FakePersonio, a: FakeAwork, http: httpx.AsyncClient) -> Any:
        a.inject({"kind": kind, "path_prefix": "/absences"})
        return await awork_client(http, a.url).list_owned_absences("personio-sync:")

    scenario.__name__ = f"awork_{kind}"
    return scenario


FAULTS = ["status", "rate_limit", "timeout", "malformed", "drop"]
SCENARIOS: list[Scenario] = [
    p_wrong_secret,
    p_missing_scope,
    p_email_hidden,
    p_revoked,
    p_token_fault,
    p_unreachable,
    *(p_fault(kind) for kind in FAULTS),
    a_wrong_key,
    a_not_found,
    a_invalid,
    *(a_fault(kind) for kind in FAULTS),
]


def printable(exc: BaseException) -> str:
    """Everything an operator or a log line could show about an exception."""
    parts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    parts += traceback.format_exception(exc)
    return "\n".join(parts)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_r21_no_secret_in_errors_logs_or_stats(
    fakes: tuple[FakePersonio, FakeAwork],
    http: httpx.AsyncClient,
    quick_http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    scenario: Scenario,
) -> None:
    personio_fake, awork_fake = fakes
    token = await issued_token(http, personio_fake)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SyncError) as caught:
        await scenario(personio_fake, awork_fake, quick_http)

    shown = printable(caught.value) + caplog.text
    for secret in (CLIENT_ID, CLIENT_SECRET, API_KEY, WRONG, token, "S3CR3T"):
        assert secret not in shown, f"{secret[:8]}… leaked"
    assert caplog.records, "the error path should have logged something to inspect"


async def test_r21_stats_and_reprs_hold_no_secret(
    fakes: tuple[FakePersonio, FakeAwork], http: httpx.AsyncClient
) -> None:
    personio_fake, awork_fake = fakes
    personio = personio_client(http, personio_fake.url)
    awork = awork_client(http, awork_fake.url)
    await personio.list_persons()
    await awork.list_owned_absences("personio-sync:")
    token = await issued_token(http, personio_fake)

    shown = "\n".join(repr(x) for x in (personio, awork, personio.stats, awork.stats))
    shown += "\n".join(str(k) for k in [*personio.stats.requests, *awork.stats.requests])
    for secret in (CLIENT_ID, CLIENT_SECRET, API_KEY, token):
        assert secret not in shown
