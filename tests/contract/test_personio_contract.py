"""The fake Personio's error bodies and list metadata fit Personio's v2 common components."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from personio_sync_testing.fakes import FakePersonio

from .schemas import reference_dir, validate_personio, validate_personio_error

SEED: dict[str, Any] = {
    "credentials": [
        {"client_id": "c", "client_secret": "s"},
        {"client_id": "narrow", "client_secret": "n", "scopes": ["personio:persons:read"]},
    ],
    "persons": [{"id": str(i), "email": f"p{i}@example.com"} for i in range(3)],
}


@pytest.fixture
async def fake() -> AsyncIterator[FakePersonio]:
    reference_dir()
    async with FakePersonio(SEED) as server:
        yield server


async def token(http: httpx.AsyncClient, cid: str = "c", secret: str = "s") -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    value = (await http.post("/v2/auth/token", data=form)).json()["access_token"]
    return {"Authorization": f"Bearer {value}"}


async def test_every_error_body_fits_error_response(fake: FakePersonio) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        auth = await token(http)
        responses = [
            await http.post("/v2/auth/token", json={}),
            await http.get("/v2/persons"),
            await http.get("/v2/absence-periods", headers=await token(http, "narrow", "n")),
            await http.get("/v2/persons", params={"limit": 51}, headers=auth),
            await http.get("/v2/persons/404", headers=auth),
            await http.get("/v2/unknown", headers=auth),
        ]
        for status in (500, 502, 503):
            fake.inject({"kind": "status", "status": status, "times": 1})
            responses.append(await http.get("/v2/persons", headers=auth))
        fake.inject({"kind": "rate_limit", "times": 1})
        responses.append(await http.get("/v2/persons", headers=auth))
    assert [r.status_code for r in responses] == [400, 401, 403, 400, 404, 404, 500, 502, 503, 429]
    for response in responses:
        assert response.headers["content-type"].startswith("application/problem+json")
        validate_personio_error(response.json())


@pytest.mark.parametrize("relative", [False, True])
async def test_list_meta_fits_meta_object(fake: FakePersonio, relative: bool) -> None:
    fake.set_knobs(relative_links=relative)
    async with httpx.AsyncClient(base_url=fake.url) as http:
        body = (await http.get("/v2/persons?limit=1", headers=await token(http))).json()
    validate_personio("MetaObject", body["_meta"])
    assert set(body["_meta"]["links"]) == {"self", "next"}


async def test_webhook_errors_and_list_meta_fit_the_common_components(fake: FakePersonio) -> None:
    """/v2/webhooks is not in the vendor's files; its errors and list metadata are."""
    fake.state.put_credential(
        {"client_id": "hooks", "client_secret": "h", "scopes": ["personio:webhooks:write"]}
    )
    body = {"url": "https://hooks.example/a", "enabled_events": ["absence-period.created"]}
    async with httpx.AsyncClient(base_url=fake.url) as http:
        auth = await token(http, "hooks", "h")
        listed = await http.get("/v2/webhooks", headers=auth)
        created = await http.post("/v2/webhooks", json=body, headers=auth)
        responses = [
            await http.get("/v2/webhooks"),
            await http.post("/v2/webhooks", json=body, headers=await token(http)),
            await http.get("/v2/webhooks/nope", headers=auth),
            await http.post("/v2/webhooks", content=b"{", headers=auth),
            await http.post("/v2/webhooks", json=body, headers=auth),
            await http.post("/v2/webhooks", json={**body, "url": "ftp://x"}, headers=auth),
        ]
    assert created.status_code == 201
    assert [r.status_code for r in responses] == [401, 403, 404, 400, 409, 422]
    for response in responses:
        assert response.headers["content-type"].startswith("application/problem+json")
        validate_personio_error(response.json())
    validate_personio("MetaObject", listed.json()["_meta"])
