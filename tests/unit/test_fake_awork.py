"""The fake awork v1 over real HTTP: auth, users, paging, filterby, AbsenceForm rules,
time snapping, rate limits, knobs, faults and the admin API.

These pin the fake to awork's documented behaviour (shared/reference/awork-api.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes import FakeAwork

KEY = "test-api-key"
API_USER = "aaaaaaaa-0000-4000-8000-000000000001"


def uid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


SEED: dict[str, Any] = {
    "awork": {
        "api_keys": [{"key": KEY, "api_user_id": API_USER}],
        "api_users": [{"id": API_USER, "name": "personio-sync"}],
        "users": [
            {"id": uid(1), "firstName": "Ann", "emails": ["ann@example.com"]},
            {
                "id": uid(2),
                "firstName": "Ben",
                "emails": ["ben@example.com"],
                "isDeactivated": True,
            },
            {"id": uid(3), "firstName": "Cat", "emails": ["cat@example.com"], "isArchived": True},
            {"id": uid(4), "firstName": "Bot", "emails": [], "isAgent": True},
        ],
        "absences": [
            {
                "id": uid(100 + i),
                "userId": uid(1 + i % 2),
                "startOn": f"2026-08-{1 + i:02d}T00:00:00Z",
                "endOn": f"2026-08-{1 + i:02d}T23:59:59Z",
                "description": f"a{i}",
                "externalProvider": "personio-sync:abc:p" + str(i) if i % 3 else None,
            }
            for i in range(25)
        ],
    }
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAwork]:
    async with FakeAwork(SEED) as server:
        yield server


@pytest.fixture
async def http(fake: FakeAwork) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=fake.url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
async def admin(fake: FakeAwork) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.root_url + "/_admin", timeout=5) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "description", "link", "details", "validationErrors", "traceId"}
    assert body["code"] == code
    return body


def form(**changes: Any) -> dict[str, Any]:
    return {
        "userId": uid(1),
        "startOn": "2026-09-01T00:00:00Z",
        "endOn": "2026-09-02T00:00:00Z",
        "description": "Vacation",
        "externalProvider": "personio-sync:abc:p1",
        **changes,
    }


# --- auth, users ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {KEY}"])
async def test_every_route_needs_the_api_key(fake: FakeAwork, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=fake.url, headers=headers) as client:
        for path in ("/users", "/absences", "/me", "/apiusers", f"/absences/{uid(100)}"):
            assert_error(await client.get(path), 401, "unauthorized")


async def test_r6_users_hide_archived_keep_deactivated_and_list_api_users(
    http: httpx.AsyncClient,
) -> None:
    """R6: the inputs matching needs — archived hidden by default, agents and API users listed."""
    users = (await http.get("/users", params={"pageSize": 100})).json()
    by_id = {u["id"]: u for u in users}
    assert set(by_id) == {uid(1), uid(2), uid(4), API_USER}
    assert by_id[uid(2)]["isDeactivated"] and by_id[uid(2)]["status"]["isDeactivated"]
    assert by_id[uid(4)]["isAgent"] is True
    contact = by_id[uid(1)]["userContactInfos"][0]
    assert (contact["type"], contact["subType"], contact["value"]) == (
        "email",
        "work",
        "ann@example.com",
    )
    assert "email" not in by_id[uid(1)]
    archived = (await http.get("/users", params={"showArchived": "true", "pageSize": 100})).json()
    assert uid(3) in {u["id"] for u in archived}


async def test_apiusers_me_and_single_user(http: httpx.AsyncClient) -> None:
    assert [u["id"] for u in (await http.get("/apiusers")).json()] == [API_USER]
    me = (await http.get("/me")).json()
    assert me["id"] == API_USER and me["workspace"]["name"]
    assert (await http.get("/users/me")).json()["id"] == API_USER
    assert (await http.get(f"/users/{uid(1)}")).json()["firstName"] == "Ann"
    assert_error(await http.get(f"/users/{uid(99)}"), 404, "not-found")


# --- list paging, filters ------------------------------------------------------------------


async def test_absences_paging_headers_default_10_and_past_the_end(http: httpx.AsyncClient) -> None:
    first = await http.get("/absences")
    assert len(first.json()) == 10
    assert (first.headers["aw-page"], first.headers["aw-pagesize"]) == ("1", "10")
    assert (first.headers["aw-items"], first.headers["aw-totalitems"]) == ("10", "25")
    third = await http.get("/absences", params={"page": 3, "PageSize": 10})
    assert len(third.json()) == 5 and third.headers["aw-items"] == "5"
    assert (await http.get("/absences", params={"page": 4})).json() == []
    assert len((await http.get("/absences", params={"pageSize": 1000})).json()) == 25


@pytest.mark.parametrize("params", [{"pageSize": 1001}, {"pageSize": 0}, {"page": 0}])
async def test_page_size_above_1000_is_400(http: httpx.AsyncClient, params: dict[str, int]) -> None:
    assert_error(await http.get("/absences", params=params), 400, "value-out-of-range")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("startswith(externalProvider,'personio-sync:abc:')", 16),
        ("externalProvider eq 'personio-sync:abc:p1'", 1),
        ("externalProvider eq null", 9),
        (f"userId eq guid'{uid(2).upper()}'", 12),
        ("startOn ge datetime'2026-08-20T00:00' and endOn lt datetime'2026-08-22T00:00:00Z'", 2),
        ("STARTON gt datetime'2026-08-24T00:00' or description eq 'a0'", 2),
        ("not (startswith(ExternalProvider,'personio')) and userId eq guid'" + uid(1) + "'", 5),
    ],
)
async def test_r11_filterby_expressions(
    http: httpx.AsyncClient, expression: str, expected: int
) -> None:
    """R11: the operator lists its own absences with a filterby on the marker."""
    for name in ("filterby", "filterBy"):
        response = await http.get("/absences", params={name: expression, "pageSize": 100})
        assert response.status_code == 200, response.text
        assert len(response.json()) == expected
        assert response.headers["aw-totalitems"] == str(expected)


@pytest.mark.parametrize(
    "expression",
    [
        "externalProvider eq",
        "nosuchfield eq 'x'",
        "userContactInfos/any(c: c/value eq 'a')",
        "startswith(externalProvider,'x'",
        "externalProvider eq 'unterminated",
        "startOn ge datetime'yesterday'",
    ],
)
async def test_bad_filterby_is_400_invalid_filter(http: httpx.AsyncClient, expression: str) -> None:
    assert_error(
        await http.get("/absences", params={"filterby": expression}), 400, "invalid-filter-or-order"
    )


async def test_orderby(http: httpx.AsyncClient) -> None:
    rows = (await http.get("/absences", params={"orderby": "startOn desc", "pageSize": 3})).json()
    assert [r["description"] for r in rows] == ["a24", "a23", "a22"]
    assert_error(
        await http.get("/absences", params={"orderby": "bogus"}), 400, "invalid-filter-or-order"
    )


# --- absence writes -------------------------------------------------------------------------


async def test_create_read_update_delete(fake: FakeAwork, http: httpx.AsyncClient) -> None:
    created = await http.post("/absences", json=form())
    assert created.status_code == 200
    body = created.json()
    assert body["isReadOnly"] is True and body["createdBy"] == API_USER
    assert (body["startOn"], body["endOn"]) == ("2026-09-01T00:00:00Z", "2026-09-02T23:59:59Z")
    assert (await http.get(f"/absences/{body['id']}")).json() == body
    updated = (await http.put(f"/absences/{body['id']}", json=form(description="Sick"))).json()
    assert updated["description"] == "Sick" and updated["createdOn"] == body["createdOn"]
    assert (await http.delete(f"/absences/{body['id']}")).status_code == 204
    assert_error(await http.get(f"/absences/{body['id']}"), 404, "not-found")
    assert_error(await http.put(f"/absences/{body['id']}", json=form()), 404, "not-found")
    assert_error(await http.delete(f"/absences/{body['id']}"), 404, "not-found")
    assert fake.journal.entries()[0].body == form()


async def test_hand_made_absence_without_provider_is_not_read_only(http: httpx.AsyncClient) -> None:
    body = (await http.post("/absences", json=form(externalProvider=None))).json()
    assert body["isReadOnly"] is False and "externalProvider" not in body


@pytest.mark.parametrize(
    ("start", "end", "half_start", "half_end", "stored"),
    [
        (
            "2026-04-01",
            "2026-04-03",
            False,
            False,
            ("2026-04-01T00:00:00Z", "2026-04-03T23:59:59Z"),
        ),
        ("2026-04-02", "2026-04-02", True, False, ("2026-04-02T00:00:00Z", "2026-04-02T12:00:00Z")),
        ("2026-04-02", "2026-04-02", False, True, ("2026-04-02T12:00:00Z", "2026-04-02T23:59:59Z")),
        ("2026-04-01", "2026-04-03", True, False, ("2026-04-01T12:00:00Z", "2026-04-03T23:59:59Z")),
        ("2026-04-01", "2026-04-03", False, True, ("2026-04-01T00:00:00Z", "2026-04-03T12:00:00Z")),
        ("2026-04-02", "2026-04-02", True, True, ("2026-04-02T00:00:00Z", "2026-04-02T23:59:59Z")),
    ],
)
async def test_r10_times_snap_to_the_half_day_flags(
    http: httpx.AsyncClient,
    start: str,
    end: str,
    half_start: bool,
    half_end: bool,
    stored: tuple[str, str],
) -> None:
    """R10: awork snaps to 00:00:00 / 12:00:00 / 23:59:59 UTC following the flags."""
    body = form(
        startOn=f"{start}T07:13:00Z",
        endOn=f"{end}T00:00:00Z",
        isHalfDayOnStart=half_start,
        isHalfDayOnEnd=half_end,
    )
    created = (await http.post("/absences", json=body)).json()
    assert (created["startOn"], created["endOn"]) == stored
    assert (created["isHalfDayOnStart"], created["isHalfDayOnEnd"]) == (half_start, half_end)


async def test_r9_offset_times_are_taken_as_their_utc_date(http: httpx.AsyncClient) -> None:
    """R9: local midnight with +02:00 is the previous UTC day — why the operator sends Z times."""
    body = form(startOn="2026-07-01T00:00:00+02:00", endOn="2026-07-01T00:00:00+02:00")
    created = (await http.post("/absences", json=body)).json()
    assert created["startOn"] == "2026-06-30T00:00:00Z"


@pytest.mark.parametrize(
    ("changes", "prop"),
    [
        ({"isReadOnly": True}, "IsReadOnly"),
        ({"userId": None}, "UserId"),
        ({"userId": "not-a-guid"}, "UserId"),
        ({"description": "x" * 1001}, "Description"),
        ({"externalProvider": "x" * 101}, "ExternalProvider"),
        ({"isHalfDayOnStart": "yes"}, "IsHalfDayOnStart"),
        ({"startOn": "tomorrow"}, "StartOn"),
    ],
)
async def test_absence_form_validation_failed(
    http: httpx.AsyncClient, changes: dict[str, Any], prop: str
) -> None:
    body = assert_error(
        await http.post("/absences", json=form(**changes)), 400, "validation-failed"
    )
    assert prop in {v["property"] for v in body["validationErrors"]}


async def test_missing_user_id_and_limits_at_the_edge(http: httpx.AsyncClient) -> None:
    without = {k: v for k, v in form().items() if k != "userId"}
    body = assert_error(await http.post("/absences", json=without), 400, "validation-failed")
    assert body["validationErrors"][0]["property"] == "UserId"
    edge = form(description="x" * 1000, externalProvider="y" * 100)
    assert (await http.post("/absences", json=edge)).status_code == 200


async def test_unknown_user_is_404_and_reversed_dates_are_date_dependency(
    http: httpx.AsyncClient,
) -> None:
    assert_error(await http.post("/absences", json=form(userId=uid(99))), 404, "not-found")
    reversed_dates = form(startOn="2026-09-03T00:00:00Z", endOn="2026-09-02T23:59:59Z")
    assert_error(await http.post("/absences", json=reversed_dates), 400, "date-dependency")
    assert_error(await http.post("/absences", content=b"{nope"), 400, "validation-failed")


# --- rate limits, faults, admin ------------------------------------------------------------


async def test_r15_rate_limit_per_second_gives_429_with_ratelimit_reset(
    fake: FakeAwork, http: httpx.AsyncClient
) -> None:
    """R15: awork's 429 carries ratelimit-reset, which the operator honours."""
    fake.set_knobs(rate_limits=True, per_second=2)
    statuses = [(await http.get("/me")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = await http.get("/me")
    assert_error(limited, 429, "too-many-requests")
    assert limited.headers["ratelimit-remaining"] == "0"
    assert limited.headers["ratelimit-limit"] == "2" and limited.headers["ratelimit-reset"] == "1"
    assert limited.headers["x-ratelimit-limit-minute"] == "1000"


async def test_rate_limit_per_minute_and_time_scale(
    fake: FakeAwork, http: httpx.AsyncClient
) -> None:
    fake.set_knobs(rate_limits=True, per_minute=3)
    statuses = [(await http.get("/me")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await http.get("/me")
    assert limited.headers["ratelimit-limit"] == "3"
    assert 1 <= int(limited.headers["ratelimit-reset"]) <= 60
    fake.set_knobs(time_scale=600)  # a minute lasts 0.1 s: the reset is at most a second away
    assert int((await http.get("/me")).headers["ratelimit-reset"]) <= 1


async def test_rate_limit_headers_are_sent_even_when_not_enforced(http: httpx.AsyncClient) -> None:
    response = await http.get("/me")
    assert response.headers["ratelimit-limit"] == "1000"
    assert response.headers["x-ratelimit-limit-second"] == "50"


async def test_faults_on_awork(fake: FakeAwork, http: httpx.AsyncClient) -> None:
    fake.inject({"path_prefix": "/absences", "method": "POST", "kind": "status", "times": 1})
    fake.inject({"path_prefix": "/api/v1/users", "kind": "rate_limit", "times": 1})
    assert_error(await http.post("/absences", json=form()), 503, "server-error")
    assert (await http.post("/absences", json=form())).status_code == 200
    limited = await http.get("/users")
    assert_error(limited, 429, "too-many-requests")
    assert limited.headers["ratelimit-reset"] == "1"
    assert fake.journal.count("POST", "/api/v1/absences") == 2


async def test_admin_mutations(
    fake: FakeAwork, http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    new_user = {"id": uid(9), "firstName": "Dan", "emails": ["dan@example.com"]}
    assert (await admin.post("/users", json=new_user)).status_code == 200
    await admin.post(f"/users/{uid(9)}/email", json={"email": "daniel@example.com"})
    user = (await http.get(f"/users/{uid(9)}")).json()
    assert user["userContactInfos"][0]["value"] == "daniel@example.com"
    await admin.post(f"/users/{uid(9)}/archive", json={"archived": True})
    assert uid(9) not in {
        u["id"] for u in (await http.get("/users", params={"pageSize": 50})).json()
    }
    hand = {"userId": uid(1), "startOn": "2026-10-01T09:00:00Z", "endOn": "2026-10-01T10:00:00Z"}
    made = (await admin.post("/absences", json=hand)).json()
    assert (made["startOn"], made["endOn"], made["isReadOnly"]) == (
        "2026-10-01T00:00:00Z",
        "2026-10-01T23:59:59Z",
        False,
    )
    await admin.post("/api-keys", json={"key": "second-key"})
    other = {"Authorization": "Bearer second-key"}
    assert (await http.get("/me", headers=other)).json()["id"] == API_USER
    await admin.delete("/api-keys/second-key")
    assert_error(await http.get("/me", headers=other), 401, "unauthorized")
    assert (await admin.post(f"/users/{uid(99)}/archive", json={})).status_code == 404


async def test_admin_journal_state_seed_reset(
    fake: FakeAwork, http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await http.post("/absences", json=form())
    journal = (await admin.get("/journal")).json()
    assert journal[0]["body"] == form() and journal[0]["path"] == "/api/v1/absences"
    assert len((await admin.get("/state")).json()["absences"]) == 26
    seeded = (await admin.post("/seed", json={"api_keys": [KEY], "users": []})).json()
    assert seeded["absences"] == [] and seeded["api_users"][0]["id"]
    await admin.post("/reset")
    assert len(fake.state.absences) == 25 and fake.journal.entries() == []


async def test_client_leaving_mid_body_is_journaled_not_crashed(fake: FakeAwork) -> None:
    """A cancelled run drops its connection mid-request; the fake notes it and keeps serving."""
    host, port = fake.root_url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /api/v1/absences HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: 500\r\n\r\n".encode()
        + b'{"userId": '
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    gone = lambda: any(e.fault == "client_gone" for e in fake.journal.entries())  # noqa: E731
    await eventually_async(gone, within=5, interval=0.01, what="a client_gone journal entry")
    assert len(fake.state.absences) == 25


async def test_reset_forgets_rate_limit_history(fake: FakeAwork, http: httpx.AsyncClient) -> None:
    limited = FakeAwork(
        SEED, knobs=fake.knobs.model_copy(update={"rate_limits": True, "per_minute": 1})
    )
    async with limited, httpx.AsyncClient(base_url=limited.url, headers=http.headers) as client:
        assert [(await client.get("/me")).status_code for _ in range(2)] == [200, 429]
        limited.reset()
        assert (await client.get("/me")).status_code == 200
