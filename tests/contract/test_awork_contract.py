"""Every response the fake awork sends fits awork's published OpenAPI schemas.

An httpx response hook validates each response against the schema the OpenAPI
file names for that route and status, while a scenario walks every route,
error and knob the fake has.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from personio_sync_testing.fakes import FakeAwork

from .schemas import reference_dir, validate_awork

KEY = "contract-key"
USER = "11111111-0000-4000-8000-000000000001"
SEED: dict[str, Any] = {
    "api_keys": [KEY],
    "api_users": [{"id": "22222222-0000-4000-8000-000000000001", "name": "sync", "clientId": "c"}],
    "users": [
        {"id": USER, "firstName": "Ann", "lastName": "A", "emails": ["ann@example.com"]},
        {"id": "11111111-0000-4000-8000-000000000002", "isDeactivated": True, "emails": []},
        {"id": "11111111-0000-4000-8000-000000000003", "isArchived": True, "firstName": "Old"},
        {"id": "11111111-0000-4000-8000-000000000004", "isAgent": True, "firstName": "Bot"},
    ],
    "absences": [
        {
            "id": "33333333-0000-4000-8000-000000000001",
            "userId": USER,
            "startOn": "2026-08-03T00:00:00Z",
            "endOn": "2026-08-03T23:59:59Z",
        },
    ],
}
_ABSENCE_ID = re.compile(r"^/api/v1/absences/[^/]+$")
_USER_ID = re.compile(r"^/api/v1/users/[^/]+$")
validated: list[str] = []


def schema_for(method: str, path: str, status: int) -> tuple[str, bool] | None:
    """(schema name, is an array) the OpenAPI file gives for this response."""
    if status >= 400:
        return "ErrorResponse", False
    if status == 204:
        return None
    if path in ("/api/v1/me", "/api/v1/users/me"):
        return "UserAndWorkspace", False
    table = {"/api/v1/users": ("User", True), "/api/v1/apiusers": ("ApiUser", True)}
    if method == "GET" and path == "/api/v1/absences":
        return "Absence", True
    if path == "/api/v1/absences" or _ABSENCE_ID.match(path):
        return "Absence", False
    if _USER_ID.match(path):
        return "User", False
    return table[path]


async def check(response: httpx.Response) -> None:
    await response.aread()
    found = schema_for(response.request.method, response.request.url.path, response.status_code)
    if found is not None:
        validate_awork(found[0], response.json(), array=found[1])
        validated.append(f"{found[0]}{'[]' if found[1] else ''} {response.status_code}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAwork]:
    reference_dir()
    async with FakeAwork(SEED) as server:
        yield server


@pytest.fixture
async def http(fake: FakeAwork) -> AsyncIterator[httpx.AsyncClient]:
    validated.clear()
    async with httpx.AsyncClient(
        base_url=fake.url,
        headers={"Authorization": f"Bearer {KEY}"},
        event_hooks={"response": [check]},
    ) as client:
        yield client


def form(**changes: Any) -> dict[str, Any]:
    body = {
        "userId": USER,
        "startOn": "2026-09-01T00:00:00Z",
        "endOn": "2026-09-01T00:00:00Z",
        "description": "Vacation",
        "externalProvider": "personio-sync:abc:p1",
        "isHalfDayOnStart": True,
        "isHalfDayOnEnd": False,
        **changes,
    }
    validate_awork(
        "AbsenceForm", {k: v for k, v in body.items() if k != "isReadOnly"}, request=True
    )
    return body


async def test_every_success_response_fits_the_schemas(http: httpx.AsyncClient) -> None:
    await http.get("/users", params={"showArchived": "true", "pageSize": 100})
    await http.get(f"/users/{USER}")
    await http.get("/users/me")
    await http.get("/me")
    await http.get("/apiusers")
    created = (await http.post("/absences", json=form())).json()
    await http.put(f"/absences/{created['id']}", json=form(externalProvider=None, description=None))
    await http.get(f"/absences/{created['id']}")
    await http.get(
        "/absences", params={"filterby": "externalProvider eq null", "orderby": "startOn"}
    )
    await http.delete(f"/absences/{created['id']}")
    assert set(validated) >= {
        "User[] 200",
        "User 200",
        "UserAndWorkspace 200",
        "ApiUser[] 200",
        "Absence 200",
        "Absence[] 200",
    }


async def test_every_error_response_fits_error_response(
    fake: FakeAwork, http: httpx.AsyncClient
) -> None:
    await http.get("/absences", headers={"Authorization": "Bearer wrong"})
    await http.get("/absences/33333333-0000-4000-8000-00000000ffff")
    await http.get("/users/11111111-0000-4000-8000-00000000ffff")
    await http.post("/absences", json=form(isReadOnly=True))
    await http.post("/absences", json=form(userId="11111111-0000-4000-8000-00000000ffff"))
    await http.post("/absences", json=form(endOn="2026-08-01T00:00:00Z"))
    await http.get("/absences", params={"filterby": "bogus"})
    await http.get("/absences", params={"pageSize": 5000})
    await http.get("/nothing-here")
    fake.inject({"kind": "status", "status": 500, "times": 1}, {"kind": "rate_limit", "times": 1})
    await http.get("/me")
    await http.get("/me")
    fake.set_knobs(rate_limits=True, per_second=1)
    await http.get("/me")
    await http.get("/me")
    statuses = sorted({entry.split()[1] for entry in validated if entry.startswith("Error")})
    assert statuses == ["400", "401", "404", "429", "500"]
