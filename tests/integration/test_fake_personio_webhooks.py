"""The fake Personio's webhooks over real HTTP (reference §6): registration with the
write scope, the documented envelope on every change, the 3 s acknowledgement, the
retries, the activity log, and the knobs that drop, duplicate, delay and reorder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes import FakePersonio, PersonioKnobs

WRITE = "personio:webhooks:write"
HOOK_TOKEN = "Bearer hook-7c21"
SEED: dict[str, Any] = {
    "personio": {
        "credentials": [
            {"client_id": "admin", "client_secret": "a-secret",
             "scopes": ["personio:persons:read", "personio:absences:read", WRITE]},
            {"client_id": "reader", "client_secret": "r-secret"},
        ],
        "absence_types": [{"id": "t-vac", "name": "Vacation"}],
        "persons": [{"id": "1", "email": "p1@example.com"}],
        "absence_periods": [],
    }
}  # fmt: skip
PERIOD = {
    "id": "p-1",
    "person_id": "1",
    "absence_type_id": "t-vac",
    "starts_from": {"date_time": "2026-06-10T00:00:00", "type": "FIRST_HALF"},
    "ends_at": {"date_time": "2026-06-11T00:00:00", "type": "SECOND_HALF"},
    "status": "PENDING",
}
FAST = PersonioKnobs(
    webhook_timeout_s=0.5, webhook_fast_retry_delay_s=0.0, webhook_retry_delays_s=[0.05] * 5
)


@dataclass
class Receiver:
    """A webhook endpoint that answers with the statuses queued in `answers` (then 200)."""

    answers: list[int] = field(default_factory=list)
    hang: int = 0  # the first N requests are never answered in time
    got: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    url: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)  # set at teardown

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((await request.json(), request.headers.get("Authorization")))
        if self.hang:
            self.hang -= 1
            with contextlib.suppress(TimeoutError):  # past the fake's 3 s-style deadline
                await asyncio.wait_for(self.released.wait(), timeout=2)
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    rec.released.set()  # a hung answer ends now rather than outlive the test
    await runner.cleanup()


@pytest.fixture
async def personio() -> AsyncIterator[FakePersonio]:
    async with FakePersonio(SEED, knobs=FAST.model_copy()) as fake:
        yield fake


async def client(fake: FakePersonio, cid: str = "admin", secret: str = "a-secret") -> Any:
    http = httpx.AsyncClient(base_url=fake.url)
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    token = (await http.post("/v2/auth/token", data=form)).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


async def register(http: httpx.AsyncClient, url: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "token": HOOK_TOKEN, "status": "ENABLED",
            "enabled_events": ["absence-period.created", "absence-period.updated.status",
                               "absence-period.updated.timerange", "absence-period.deleted",
                               "person.created", "person.updated"], **extra}  # fmt: skip
    response = await http.post("/v2/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def activity(http: httpx.AsyncClient, hook_id: str, count: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        data: list[dict[str, Any]] = (await http.get(f"/v2/webhooks/{hook_id}/activity")).json()[
            "_data"
        ]
        return data if len(data) >= count else None

    return await eventually_async(enough, within=10, what=f"{count} deliveries")


async def test_registration_needs_the_write_scope_and_never_shows_the_token(
    personio: FakePersonio, receiver: Receiver
) -> None:
    reader = await client(personio, "reader", "r-secret")
    denied = await reader.post("/v2/webhooks", json={"url": receiver.url, "enabled_events": []})
    assert denied.status_code == 403
    admin = await client(personio)
    body = {"url": "https://hooks.example/x", "enabled_events": ["absence-period.created"]}
    created = (await admin.post("/v2/webhooks", json={**body, "token": "t-secret"})).json()
    assert created["status"] == "DISABLED" and created["auth_type"] == "TOKEN"  # defaults
    assert "t-secret" not in str(created)
    assert (await admin.post("/v2/webhooks", json=body)).status_code == 409  # same url
    listed = (await admin.get("/v2/webhooks")).json()["_data"]
    assert [w["id"] for w in listed] == [created["id"]] and "t-secret" not in str(listed)
    enabled = await admin.patch(f"/v2/webhooks/{created['id']}", json={"status": "ENABLED"})
    assert enabled.json()["status"] == "ENABLED"
    assert (await admin.delete(f"/v2/webhooks/{created['id']}")).status_code == 204
    assert (await admin.get(f"/v2/webhooks/{created['id']}")).status_code == 404
    await reader.aclose()
    await admin.aclose()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "http://hooks.example/x", "enabled_events": ["absence-period.created"]}, 422),
        ({"url": "https://hooks.example/x", "enabled_events": ["absence-period.eaten"]}, 422),
        ({"url": "https://hooks.example/x"}, 400),
        ({"url": "https://hooks.example/x", "enabled_events": ["person.created"],
          "custom_headers": [{"name": "X-A", "value": "b"}]}, 422),
    ],
)  # fmt: skip
async def test_registration_is_validated(
    personio: FakePersonio, body: dict[str, Any], status: int
) -> None:
    admin = await client(personio)
    response = await admin.post("/v2/webhooks", json=body)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/problem+json")
    await admin.aclose()


async def test_every_change_is_delivered_in_the_documented_envelope(
    personio: FakePersonio, receiver: Receiver
) -> None:
    admin = await client(personio)
    hook = await register(admin, receiver.url)
    personio.state.put_period(PERIOD)
    personio.state.approve("p-1")
    personio.state.move_period("p-1", {"date_time": "2026-06-12T00:00:00"}, None)
    personio.state.cancel("p-1")
    personio.state.set_person_email("1", "new@example.com")
    personio.state.put_absence_type({"id": "t-2", "name": "Sick"})  # no event for types
    await activity(admin, hook["id"], 5)
    names = [(body["event_name"], body["payload"]["id"]) for body, _ in receiver.got]
    assert names == [
        ("absence-period.created", "p-1"),
        ("absence-period.updated.status", "p-1"),
        ("absence-period.updated.timerange", "p-1"),
        ("absence-period.deleted", "p-1"),
        ("person.updated", "1"),
    ]
    body, auth = receiver.got[0]
    assert set(body) == {"company_id", "event_name", "occurred_at", "payload", "meta"}
    assert auth == HOOK_TOKEN  # as-is, the Bearer prefix is ours
    await admin.aclose()


async def test_disabled_or_unsubscribed_webhooks_get_nothing(
    personio: FakePersonio, receiver: Receiver
) -> None:
    admin = await client(personio)
    await register(admin, receiver.url, enabled_events=["person.created"])
    await register(admin, receiver.url + "?off", status="DISABLED")
    personio.state.put_period(PERIOD)
    personio.state.add_person({"id": "2", "email": "p2@example.com"})
    await eventually_async(lambda: _true(len(receiver.got) >= 1), within=10)
    assert [b["event_name"] for b, _ in receiver.got] == ["person.created"]
    assert len(personio.webhooks.activity_of()) == 1
    await admin.aclose()


async def _true(value: bool) -> bool:
    return value


async def test_5xx_and_timeouts_are_retried_4xx_and_501_are_not(
    personio: FakePersonio, receiver: Receiver
) -> None:
    admin = await client(personio)
    hook = await register(admin, receiver.url)
    receiver.answers = [503, 500]
    receiver.hang = 1
    personio.state.put_period(PERIOD)  # timeout, 503, 500, then 200
    log = await activity(admin, hook["id"], 4)
    assert [a["outcome"] for a in log] == ["TIMED_OUT", "FAILED", "FAILED", "SUCCEEDED"]
    assert [a["attempt"] for a in log] == [1, 1, 1, 2]  # two fast retries, then attempt 2
    receiver.answers = [400, 501]
    personio.state.approve("p-1")
    personio.state.cancel("p-1")
    log = await activity(admin, hook["id"], 6)
    assert sorted(a["status_code"] for a in log[4:]) == [400, 501]
    await admin.aclose()


async def test_at_most_14_requests_per_delivery(personio: FakePersonio, receiver: Receiver) -> None:
    admin = await client(personio)
    hook = await register(admin, receiver.url)
    receiver.answers = [503] * 30
    personio.state.put_period(PERIOD)
    log = await activity(admin, hook["id"], 14)
    await asyncio.sleep(0)  # nothing is pending: all 6 attempts are used up
    assert len(personio.webhooks.activity_of(hook["id"])) == 14
    assert max(a["attempt"] for a in log) <= 6
    await admin.aclose()


async def test_knobs_drop_duplicate_and_reorder(personio: FakePersonio, receiver: Receiver) -> None:
    admin = await client(personio)
    hook = await register(admin, receiver.url)
    personio.set_knobs(webhook_drop_rate=1.0)
    personio.state.put_period(PERIOD)
    assert [a["outcome"] for a in await activity(admin, hook["id"], 1)] == ["DROPPED"]
    personio.set_knobs(webhook_drop_rate=0.0, webhook_duplicate=True)
    personio.state.approve("p-1")
    await activity(admin, hook["id"], 3)
    assert [b["event_name"] for b, _ in receiver.got] == ["absence-period.updated.status"] * 2
    personio.set_knobs(webhook_duplicate=False, webhook_reorder_window_ms=200)
    personio.state.move_period("p-1", {"date_time": "2026-06-12T00:00:00"}, None)
    personio.state.cancel("p-1")
    await activity(admin, hook["id"], 5)
    assert [b["event_name"] for b, _ in receiver.got[2:]] == [
        "absence-period.deleted",
        "absence-period.updated.timerange",
    ]
    await admin.aclose()


async def test_admin_delivery_log_and_events_endpoint(
    personio: FakePersonio, receiver: Receiver
) -> None:
    admin = await client(personio)
    hook = await register(admin, receiver.url)
    personio.state.put_period(PERIOD)
    await activity(admin, hook["id"], 1)
    async with httpx.AsyncClient(base_url=personio.root_url) as raw:
        log = (await raw.get("/_admin/webhooks/deliveries")).json()
    assert [(d["event_name"], d["resource_id"], d["status_code"]) for d in log] == [
        ("absence-period.created", "p-1", 200)
    ]
    events = (await admin.get(f"/v2/webhooks/{hook['id']}/events")).json()["_data"]
    assert [e["event_name"] for e in events] == ["absence-period.created"]
    await admin.aclose()
