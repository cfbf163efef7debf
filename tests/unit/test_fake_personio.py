"""The fake Personio v2 over real HTTP: auth, scopes, paging, filters, errors, knobs, faults, admin.

These pin the fake to the vendor's documented behaviour (shared/reference/personio-api.md),
so client tests against it mean something.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from personio_sync_testing.fakes import FakePersonio, PersonioKnobs

CID, SECRET = "cid", "s3cret-value"
VAC, DOC = "t-vac", "t-doc"


def period(pid: str, start: str, end: str | None, **changes: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "person_id": "1",
        "absence_type_id": VAC,
        "starts_from": {"date_time": start, "type": "FIRST_HALF"},
        "ends_at": None if end is None else {"date_time": end, "type": "SECOND_HALF"},
        "updated_at": "2026-01-02T10:00:00",
        **changes,
    }


SEED: dict[str, Any] = {
    "personio": {
        "credentials": [
            {"client_id": CID, "client_secret": SECRET},
            {
                "client_id": "persons-only",
                "client_secret": "x",
                "scopes": ["personio:persons:read"],
            },
            {"client_id": "no-email", "client_secret": "y", "email_readable": False},
        ],
        "absence_types": [
            {"id": VAC, "name": "Vacation", "category": "paid_vacation", "unit": "DAY"},
            {"id": DOC, "name": "Doctor", "category": "OTHER", "unit": "HOUR"},
        ],
        "persons": [
            {"id": str(i), "email": f"p{i}@example.com", "first_name": f"F{i}", "last_name": "L"}
            for i in range(1, 24)
        ],
        "absence_periods": [
            period("a-before", "2026-06-01T00:00:00", "2026-06-05T00:00:00"),
            period("b-edge", "2026-07-01T00:00:00", "2026-07-10T00:00:00"),
            period("c-inside", "2026-08-03T00:00:00", "2026-08-04T00:00:00"),
            period("d-after", "2027-03-01T00:00:00", "2027-03-02T00:00:00"),
            period("e-open", "2026-05-01T00:00:00", None, person_id="2"),
            period("f-hours", "2026-08-10T09:00:00", "2026-08-10T11:30:00", absence_type_id=DOC),
            period("g-rejected", "2026-09-01T00:00:00", "2026-09-02T00:00:00", status="REJECTED"),
        ],
    }
}


@pytest.fixture
async def fake() -> AsyncIterator[FakePersonio]:
    async with FakePersonio(SEED) as server:
        yield server


@pytest.fixture
async def http(fake: FakePersonio) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, timeout=5) as client:
        yield client


async def token_for(http: httpx.AsyncClient, cid: str = CID, secret: str = SECRET) -> str:
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    response = await http.post("/v2/auth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def get(
    http: httpx.AsyncClient, path: str, token: str | None = None, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or await token_for(http)}"}
    return await http.get(path, params=params, headers=headers)


def assert_problem(response: httpx.Response, status: int, detail_part: str = "") -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"personio_trace_id", "timestamp", "errors"}
    assert body["errors"][0]["title"] and detail_part in body["errors"][0]["detail"]


# --- auth -------------------------------------------------------------------------------


async def test_token_is_papi_bearer_stable_for_the_same_credential(http: httpx.AsyncClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET}
    first = (await http.post("/v2/auth/token", data=form)).json()
    second = (await http.post("/v2/auth/token", data=form)).json()
    assert first["access_token"].startswith("papi-")
    assert first["token_type"] == "Bearer" and first["expires_in"] == 86400
    assert set(first["scope"].split()) == {"personio:persons:read", "personio:absences:read"}
    assert second["access_token"] == first["access_token"]


async def test_token_refuses_a_json_body(http: httpx.AsyncClient) -> None:
    body = {"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET}
    assert_problem(await http.post("/v2/auth/token", json=body), 400, "x-www-form-urlencoded")


async def test_wrong_secret_is_401_invalid_client_without_echoing_it(
    http: httpx.AsyncClient,
) -> None:
    form = {"grant_type": "client_credentials", "client_id": CID, "client_secret": "wrong-one"}
    response = await http.post("/v2/auth/token", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "wrong-one" not in response.text and SECRET not in response.text


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": CID}, "invalid_request"),
        (
            {"grant_type": "password", "client_id": CID, "client_secret": SECRET},
            "unsupported_grant_type",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "persons-only",
                "client_secret": "x",
                "scope": "personio:absences:read",
            },
            "invalid_scope",
        ),
    ],
)
async def test_token_oauth_errors(
    http: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    response = await http.post("/v2/auth/token", data=form)
    assert response.status_code == 400 and response.json()["error"] == error


async def test_token_with_a_narrower_scope_gets_403_elsewhere(http: httpx.AsyncClient) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": CID,
        "client_secret": SECRET,
        "scope": "personio:persons:read",
    }
    token = (await http.post("/v2/auth/token", data=form)).json()["access_token"]
    assert (await get(http, "/v2/persons", token)).status_code == 200
    assert_problem(await get(http, "/v2/absence-periods", token), 403)


@pytest.mark.parametrize("header", [None, "Bearer papi-unknown", "Basic abc"])
async def test_data_endpoints_need_a_valid_bearer_token(
    http: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    assert_problem(await http.get("/v2/persons", headers=headers), 401)


async def test_missing_scope_is_403_insufficient_access_scope(http: httpx.AsyncClient) -> None:
    token = await token_for(http, "persons-only", "x")
    response = await get(http, "/v2/absence-periods", token)
    assert_problem(response, 403)
    assert response.json()["errors"][0]["title"] == "Insufficient access scope"


async def test_expired_tokens_and_rotated_secrets_stop_working(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    fake.state.expire_tokens()
    assert_problem(await get(http, "/v2/persons", token), 401)
    token = await token_for(http)
    fake.state.put_credential({"client_id": CID, "client_secret": "rotated"})
    assert_problem(await get(http, "/v2/persons", token), 401)
    form = {"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET}
    assert (await http.post("/v2/auth/token", data=form)).status_code == 401
    assert (
        await get(http, "/v2/persons", await token_for(http, CID, "rotated"))
    ).status_code == 200


async def test_token_ttl_knob_sets_expires_in(fake: FakePersonio, http: httpx.AsyncClient) -> None:
    fake.set_knobs(token_ttl_s=5)
    form = {"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET}
    assert (await http.post("/v2/auth/token", data=form)).json()["expires_in"] == 5


# --- persons ----------------------------------------------------------------------------


async def test_persons_shape_and_default_limit_10(http: httpx.AsyncClient) -> None:
    body = (await get(http, "/v2/persons")).json()
    assert len(body["_data"]) == 10
    assert set(body["_data"][0]) == {
        "id",
        "email",
        "first_name",
        "last_name",
        "preferred_name",
        "employments",
        "custom_attributes",
    }
    assert body["_meta"]["links"]["self"]["href"].startswith("http://127.0.0.1:")


async def test_r7_persons_without_email_permission_lack_email_and_names(
    http: httpx.AsyncClient,
) -> None:
    """R7: without the e-mail attribute only id, employments, custom_attributes come back."""
    body = (await get(http, "/v2/persons", await token_for(http, "no-email", "y"))).json()
    assert set(body["_data"][0]) == {"id", "employments", "custom_attributes"}


@pytest.mark.parametrize("limit", ["51", "0", "-1", "ten"])
async def test_persons_limit_out_of_range_is_400(http: httpx.AsyncClient, limit: str) -> None:
    assert_problem(
        await get(http, "/v2/persons", limit=limit), 400, "Provided value for limit is not valid"
    )


@pytest.mark.parametrize("relative", [False, True])
async def test_persons_cursor_paging_follows_next_href(
    fake: FakePersonio, http: httpx.AsyncClient, relative: bool
) -> None:
    fake.set_knobs(relative_links=relative)
    token = await token_for(http)
    ids: list[str] = []
    url: str | None = "/v2/persons?limit=10"
    while url is not None:
        body = (await http.get(url, headers={"Authorization": f"Bearer {token}"})).json()
        ids += [p["id"] for p in body["_data"]]
        url = body["_meta"]["links"].get("next", {}).get("href")
        if url is not None:
            assert url.startswith("/v2/persons?cursor=") == relative
    assert sorted(ids, key=int) == [str(i) for i in range(1, 24)]
    assert len(fake.journal.entries()) == 1 + 3  # token + three pages


async def test_persons_filter_by_ids_and_emails(http: httpx.AsyncClient) -> None:
    token = await token_for(http)
    by_mail = (await get(http, "/v2/persons", token, email="P3@example.com,p5@example.com")).json()
    assert sorted(p["id"] for p in by_mail["_data"]) == ["3", "5"]
    by_id = (await get(http, "/v2/persons", token, id="7,8")).json()
    assert sorted(p["id"] for p in by_id["_data"]) == ["7", "8"]


async def test_unknown_query_parameter_is_400(http: httpx.AsyncClient) -> None:
    assert_problem(await get(http, "/v2/absence-periods", person_id="1"), 400, "person_id")


async def test_single_person_and_missing_person(http: httpx.AsyncClient) -> None:
    token = await token_for(http)
    assert (await get(http, "/v2/persons/3", token)).json()["email"] == "p3@example.com"
    assert_problem(await get(http, "/v2/persons/999", token), 404)


# --- absence types and periods ------------------------------------------------------------


async def test_absence_types_shape_and_limit(http: httpx.AsyncClient) -> None:
    token = await token_for(http)
    body = (await get(http, "/v2/absence-types", token)).json()
    assert body["_data"][1] == {
        "id": VAC,
        "name": "Vacation",
        "category": "PAID_VACATION",
        "unit": "DAY",
    }
    assert_problem(await get(http, "/v2/absence-types", token, limit=101), 400)


async def test_r3_period_shape_naive_times_exclusive_end(http: httpx.AsyncClient) -> None:
    """R3: naive local date-times; day-based ends_at is the exclusive next midnight."""
    token = await token_for(http)
    body = (await get(http, "/v2/absence-periods/c-inside", token)).json()
    assert body == {
        "id": "c-inside",
        "person": {"id": "1"},
        "absence_type": {"id": VAC},
        "starts_from": {"date_time": "2026-08-03T00:00:00", "type": "FIRST_HALF"},
        "ends_at": {"date_time": "2026-08-04T00:00:00", "type": "SECOND_HALF"},
        "timezone_id": "Europe/Berlin",
        "comment": "",
        "approval": {"status": "APPROVED"},
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    hours = (await get(http, "/v2/absence-periods/f-hours", token)).json()
    assert hours["ends_at"]["date_time"] == "2026-08-10T11:30:00"
    opened = (await get(http, "/v2/absence-periods/e-open", token)).json()
    assert opened["ends_at"] is None


async def test_periods_default_limit_100_max_100(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    for i in range(120):
        fake.state.put_period(period(f"z{i:03d}", "2026-10-01T00:00:00", "2026-10-02T00:00:00"))
    token = await token_for(http)
    assert len((await get(http, "/v2/absence-periods", token)).json()["_data"]) == 100
    assert_problem(await get(http, "/v2/absence-periods", token, limit=101), 400)


@pytest.mark.parametrize("suffix", ["", "Z", "+02:00"])
async def test_r2_date_filters_match_overlapping_periods(
    http: httpx.AsyncClient, suffix: str
) -> None:
    """R2: the window filter returns every period overlapping it, open-ended ones included."""
    body = (
        await get(
            http,
            "/v2/absence-periods",
            **{
                "starts_from.date_time.gte": "2026-07-07T00:00:00" + suffix,
                "ends_at.date_time.lte": "2027-01-17T00:00:00" + suffix,
            },
        )
    ).json()
    assert sorted(p["id"] for p in body["_data"]) == [
        "b-edge",
        "c-inside",
        "e-open",
        "f-hours",
        "g-rejected",
    ]


async def test_periods_filter_by_person_type_id_and_updated(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)

    async def ids(**params: Any) -> list[str]:
        body = (await get(http, "/v2/absence-periods", token, **params)).json()
        return sorted(p["id"] for p in body["_data"])

    assert await ids(**{"person.id": "2"}) == ["e-open"]
    assert await ids(**{"absence_type.id": DOC}) == ["f-hours"]
    assert await ids(id="a-before,d-after") == ["a-before", "d-after"]
    fake.state.approve("a-before")
    assert await ids(**{"updated_at.gte": "2026-01-03T00:00:00"}) == ["a-before"]
    assert len(await ids(**{"updated_at.lte": "2026-01-03T00:00:00"})) == 6
    assert_problem(await get(http, "/v2/absence-periods", token, **{"updated_at.gte": "soon"}), 400)


async def test_rejected_periods_stay_cancelled_ones_vanish(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    fake.state.reject("c-inside")
    fake.state.cancel("d-after")
    body = (await get(http, "/v2/absence-periods", token)).json()
    status = {p["id"]: p["approval"]["status"] for p in body["_data"]}
    assert status["c-inside"] == "REJECTED" and "d-after" not in status
    assert_problem(await get(http, "/v2/absence-periods/d-after", token), 404)


async def test_cursor_survives_deletions_between_pages(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    first = (await get(http, "/v2/absence-periods", token, limit=3)).json()
    fake.state.cancel(first["_data"][2]["id"])
    nxt = first["_meta"]["links"]["next"]["href"]
    second = (await http.get(nxt, headers={"Authorization": f"Bearer {token}"})).json()
    seen = [p["id"] for p in first["_data"] + second["_data"]]
    assert seen == ["a-before", "b-edge", "c-inside", "d-after", "e-open", "f-hours"]


async def test_cursor_keeps_the_filters_and_bad_cursor_is_400(http: httpx.AsyncClient) -> None:
    token = await token_for(http)
    first = (await get(http, "/v2/absence-periods", token, limit=1, **{"person.id": "1"})).json()
    nxt = first["_meta"]["links"]["next"]["href"]
    assert "person.id" not in nxt
    rest = (await http.get(nxt + "&limit=100", headers={"Authorization": f"Bearer {token}"})).json()
    assert "e-open" not in [p["id"] for p in rest["_data"]]
    assert_problem(await get(http, "/v2/absence-periods", token, cursor="nonsense"), 400)


async def test_unknown_endpoint_is_404_problem_with_path(http: httpx.AsyncClient) -> None:
    response = await get(http, "/v2/holidays")
    assert_problem(response, 404)
    assert response.json()["errors"][0]["_meta"] == {"path": "/v2/holidays"}


# --- rate limits, latency, faults ------------------------------------------------------


async def test_rate_limit_429_has_no_retry_after_and_ratelimit_headers(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    fake.set_knobs(rate_limits=True, persons_rps=1)
    first = await get(http, "/v2/persons", token)
    second = await get(http, "/v2/persons", token)
    assert first.status_code == 200 and first.headers["x-ratelimit-burst-capacity"] == "1"
    assert_problem(second, 429)
    assert "retry-after" not in second.headers
    assert second.headers["x-ratelimit-remaining"] == "0"


async def test_rate_limits_are_off_by_default_and_scaled_by_time_scale(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    fake.set_knobs(persons_rps=1)
    assert {(await get(http, "/v2/persons", token)).status_code for _ in range(5)} == {200}
    fake.set_knobs(rate_limits=True, time_scale=1e9)  # refills in nanoseconds
    assert {(await get(http, "/v2/persons", token)).status_code for _ in range(5)} == {200}


async def test_auth_endpoint_has_its_own_limit(fake: FakePersonio, http: httpx.AsyncClient) -> None:
    fake.set_knobs(rate_limits=True, auth_per_minute=2)
    form = {"grant_type": "client_credentials", "client_id": CID, "client_secret": SECRET}
    statuses = [(await http.post("/v2/auth/token", data=form)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_latency_knob_delays_requests_and_time_scale_shrinks_it(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    fake.set_knobs(route_latency_ms={"/v2/persons": 300.0})
    started = time.monotonic()
    await get(http, "/v2/persons", token)
    assert time.monotonic() - started >= 0.3
    assert fake.knobs.latency_s("/v2/absence-periods") == 0
    fake.set_knobs(time_scale=10)
    assert fake.knobs.latency_s("/v2/persons") == pytest.approx(0.03)


async def test_status_fault_after_and_times(fake: FakePersonio, http: httpx.AsyncClient) -> None:
    token = await token_for(http)
    fake.inject(
        {"path_prefix": "/v2/persons", "kind": "status", "status": 503, "after": 1, "times": 2}
    )
    statuses = [(await get(http, "/v2/persons", token)).status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    faulted = [e for e in fake.journal.entries() if e.fault]
    assert [e.status for e in faulted] == [503, 503]


async def test_fault_bodies_are_vendor_shaped(fake: FakePersonio, http: httpx.AsyncClient) -> None:
    token = await token_for(http)
    fake.inject({"path_prefix": "/v2/persons", "kind": "status", "status": 502, "times": 1})
    fake.inject({"path_prefix": "/v2/persons", "kind": "rate_limit", "times": 1})
    assert_problem(await get(http, "/v2/persons", token), 502)
    limited = await get(http, "/v2/persons", token)
    assert_problem(limited, 429)
    assert "retry-after" not in limited.headers


async def test_malformed_drop_and_timeout_faults(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    headers = {"Authorization": f"Bearer {token}"}
    fake.inject({"path_prefix": "/v2/absence-types", "kind": "malformed", "times": 1})
    fake.inject({"path_prefix": "/v2/absence-types", "kind": "drop", "times": 1})
    fake.inject(
        {"path_prefix": "/v2/absence-types", "method": "GET", "kind": "timeout", "times": 1}
    )
    malformed = await http.get("/v2/absence-types", headers=headers)
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get("/v2/absence-types", headers=headers)
    with pytest.raises(httpx.ReadTimeout):
        await http.get("/v2/absence-types", headers=headers, timeout=0.3)
    assert (await http.get("/v2/absence-types", headers=headers)).status_code == 200


# --- admin API ----------------------------------------------------------------------------


async def test_admin_journal_counts_requests_and_skips_admin_calls(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    token = await token_for(http)
    await get(http, "/v2/persons", token, limit=5)
    journal = (await http.get("/_admin/journal")).json()
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/v2/auth/token", 200),
        ("GET", "/v2/persons", 200),
    ]
    assert journal[1]["query"] == {"limit": "5"} and journal[0]["body"] is None  # no secrets
    assert fake.journal.count("GET", "/v2/persons") == 1
    await http.delete("/_admin/journal")
    assert fake.journal.entries() == []


async def test_admin_faults_and_knobs_over_http(
    fake: FakePersonio, http: httpx.AsyncClient
) -> None:
    rules = (
        await http.post("/_admin/faults", json=[{"kind": "status", "path_prefix": "/v2"}])
    ).json()
    assert rules[0]["kind"] == "status" and rules[0]["fired"] == 0
    assert_problem(await http.get("/v2/persons"), 503)
    await http.delete("/_admin/faults")
    assert (await http.get("/_admin/faults")).json() == []
    knobs = (await http.put("/_admin/knobs", json={"latency_ms": 5, "rate_limits": True})).json()
    assert knobs["latency_ms"] == 5 and fake.knobs.rate_limits
    assert (await http.put("/_admin/knobs", json={"time_scale": 0.5})).status_code == 400
    assert (await http.put("/_admin/knobs", json={"nonsense": 1})).status_code == 400


async def test_admin_mutations_over_http(fake: FakePersonio, http: httpx.AsyncClient) -> None:
    base = "/_admin/absence-periods"
    new = period("n1", "2026-11-02T00:00:00", "2026-11-03T00:00:00")
    assert (await http.put(base, json=new)).status_code == 200
    moved = {
        "starts_from": {"date_time": "2026-11-09T00:00:00", "type": None},
        "ends_at": {"date_time": "2026-11-11T00:00:00", "type": None},
    }
    assert (await http.post(f"{base}/n1/move", json=moved)).status_code == 200
    assert (await http.post(f"{base}/n1/reject", json={})).json()["status"] == "REJECTED"
    assert (await http.post(f"{base}/n1/approve", json={})).json()["status"] == "APPROVED"
    stored = fake.state.periods["n1"]
    assert stored.starts_from.date_time.isoformat() == "2026-11-09T00:00:00"
    assert (await http.delete(f"{base}/n1")).status_code == 200
    assert "n1" not in fake.state.periods
    assert (await http.delete(f"{base}/n1")).status_code == 404
    assert (
        await http.post("/_admin/persons", json={"id": "77", "email": "x@y.z"})
    ).status_code == 200
    await http.post("/_admin/persons/77/email", json={"email": "new@y.z"})
    assert fake.state.persons["77"].email == "new@y.z"
    await http.put("/_admin/credentials", json={"client_id": "c2", "client_secret": "s2"})
    assert await token_for(http, "c2", "s2")
    await http.post("/_admin/tokens/expire")
    assert (await http.put(base, json={"id": "broken"})).status_code == 400


async def test_admin_seed_state_and_reset(fake: FakePersonio, http: httpx.AsyncClient) -> None:
    assert len((await http.get("/_admin/state")).json()["persons"]) == 23
    seeded = (await http.post("/_admin/seed", json={"personio": {"persons": [{"id": "1"}]}})).json()
    assert [p["id"] for p in seeded["persons"]] == ["1"] and seeded["credentials"] == []
    fake.set_knobs(latency_ms=1)
    await http.post("/_admin/reset")
    assert len(fake.state.persons) == 23 and fake.knobs == PersonioKnobs()
