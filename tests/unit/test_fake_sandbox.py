"""Running both fakes together (Sandbox, serve_sandbox), the seed format and the generators.

Every test here is async, even the ones that need no loop: a sync test followed by an
async one leaks an event loop under looptime + pytest-asyncio (reported to the lead).
"""

from __future__ import annotations

import asyncio
import io
import itertools
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest

from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes import (
    FakeAwork,
    FakePersonio,
    Sandbox,
    demo_seed_path,
    generate_company,
    load_seed,
    serve_sandbox,
)

TODAY = date(2026, 7, 21)


def personio_token(url: str, cid: str, secret: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    response = httpx.post(f"{url}/v2/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


async def test_sandbox_from_sync_code_serves_the_demo_and_shares_state() -> None:
    await asyncio.to_thread(_use_sandbox_from_sync_code)


def _use_sandbox_from_sync_code() -> None:
    """Plain blocking code, as the CLI and the operator's e2e tests use the sandbox."""
    with Sandbox(demo_seed_path(), today=TODAY) as sb:
        token = personio_token(sb.personio_url, "demo-client", "demo-secret")
        headers = {"Authorization": f"Bearer {token}"}
        periods = httpx.get(f"{sb.personio_url}/v2/absence-periods", headers=headers).json()
        assert len(periods["_data"]) == len(sb.personio_state.periods) == 13
        sb.personio_state.cancel("3f1e0000-0000-4000-8000-000000000001")
        periods = httpx.get(f"{sb.personio_url}/v2/absence-periods", headers=headers).json()
        assert len(periods["_data"]) == 12
        users = httpx.get(
            f"{sb.awork_url}/users", headers={"Authorization": "Bearer demo-awork-key"}
        )
        assert users.status_code == 200 and sb.awork_url.endswith("/api/v1")
        assert sb.awork.journal.count("GET", "/api/v1/users") == 1
        admin = f"{sb.personio.root_url}/_admin/state"
    with pytest.raises(httpx.ConnectError):
        httpx.get(admin)


async def test_sandbox_inside_a_running_event_loop() -> None:
    async with Sandbox({"awork": {"api_keys": ["k"]}}) as sb, httpx.AsyncClient() as http:
        me = await http.get(f"{sb.awork_url}/me", headers={"Authorization": "Bearer k"})
        assert me.status_code == 200
        sb.reset()


async def test_sandbox_reports_a_port_in_use() -> None:
    with Sandbox() as first:
        port = int(first.personio_url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="could not start"):
            Sandbox(personio_port=port).start()


async def test_serve_sandbox_prints_urls_and_credentials_until_cancelled() -> None:
    out = io.StringIO()
    task = asyncio.create_task(serve_sandbox(None, "127.0.0.1", 0, 0, latency_ms=1, out=out))
    banner = lambda: "Ctrl+C" in out.getvalue()  # noqa: E731
    await eventually_async(banner, within=10, interval=0.01, what="the sandbox's banner")
    text = out.getvalue()
    assert "demo-client" in text and "demo-secret" in text and "demo-awork-key" in text
    awork_url = next(w for w in text.split() if w.endswith("/api/v1"))
    async with httpx.AsyncClient() as http:
        me = await http.get(f"{awork_url}/me", headers={"Authorization": "Bearer demo-awork-key"})
        assert me.json()["workspace"]["name"] == "Acme"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_seed_resolves_today_offsets(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "personio:\n  x: ['@today', '@today+3', '@today-14T09:30:00', '@today+1dT23:59:59Z']\n"
    )
    assert load_seed(seed, today=TODAY)["personio"]["x"] == [
        "2026-07-21",
        "2026-07-24",
        "2026-07-07T09:30:00",
        "2026-07-22T23:59:59Z",
    ]
    with pytest.raises(ValueError, match="@today"):
        load_seed({"a": "@today+x"}, today=TODAY)


async def test_seed_typos_are_refused() -> None:
    with pytest.raises(ValueError, match="emial"):
        FakePersonio({"persons": [{"id": "1", "emial": "x@y.z"}]})
    with pytest.raises(ValueError, match="firstname"):
        FakeAwork({"users": [{"id": "1", "firstname": "x"}]})


async def test_demo_company_has_the_cases_the_demo_shows() -> None:
    doc = load_seed(demo_seed_path(), today=TODAY)
    periods = doc["personio"]["absence_periods"]
    assert {p.get("status", "APPROVED") for p in periods} == {"APPROVED", "PENDING", "REJECTED"}
    assert any(p["ends_at"] is None for p in periods)
    assert any(p["starts_from"]["type"] == "SECOND_HALF" for p in periods)
    users = doc["awork"]["users"]
    assert any(u.get("isArchived") for u in users) and any(u.get("isAgent") for u in users)
    assert all(a.get("externalProvider") is None for a in doc["awork"]["absences"])
    personio_mails = {p["email"] for p in doc["personio"]["persons"] if p["email"]}
    awork_mails = {e.lower() for u in users for e in u["emails"]}
    assert personio_mails - awork_mails and awork_mails - personio_mails


async def test_generated_company_is_deterministic_and_realistic() -> None:
    company = generate_company(50, today=TODAY, seed=7)
    assert company == generate_company(50, today=TODAY, seed=7)
    assert company != generate_company(50, today=TODAY, seed=8)
    personio, awork = company["personio"], company["awork"]
    periods = personio["absence_periods"]
    assert {p["status"] for p in periods} == {"APPROVED", "PENDING", "REJECTED"}
    hourly = {t["id"] for t in personio["absence_types"] if t["unit"] == "HOUR"}
    assert any(p["absence_type_id"] in hourly for p in periods)
    assert any(p["starts_from"]["type"] == "SECOND_HALF" for p in periods)
    assert any(u.get("isArchived") for u in awork["users"])
    assert any(u.get("isAgent") for u in awork["users"]) and awork["api_users"]
    assert awork["absences"]
    FakePersonio(company)  # the generated document is a valid seed
    FakeAwork(company)


async def test_generated_l_company_has_about_60000_absences_in_the_window() -> None:
    personio = generate_company(5000, today=TODAY, seed=1)["personio"]
    start, end = datetime(2026, 7, 7), datetime(2027, 1, 18)
    in_window = [
        p
        for p in personio["absence_periods"]
        if datetime.fromisoformat(p["starts_from"]["date_time"]) < end
        and (p["ends_at"] is None or datetime.fromisoformat(p["ends_at"]["date_time"]) > start)
    ]
    assert 50_000 <= len(in_window) <= 70_000
    by_person: dict[str, list[tuple[str, str]]] = {}
    for p in personio["absence_periods"]:
        if p["ends_at"] is not None:
            by_person.setdefault(p["person_id"], []).append(
                (p["starts_from"]["date_time"], p["ends_at"]["date_time"])
            )
    for spans in by_person.values():  # one person's periods never overlap
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
