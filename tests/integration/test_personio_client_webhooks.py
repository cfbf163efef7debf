"""HOOK-7: the Personio client's webhook calls against the fake Personio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from personio_sync.clients.personio import PersonioClient, TokenCache, WebhookRegistration
from personio_sync.errors import PersonioError, PersonioScopeError
from personio_sync_testing.fakes import FakePersonio

READ = ["personio:persons:read", "personio:absences:read"]
SEED: dict[str, Any] = {
    "personio": {
        "credentials": [
            {"client_id": "hooks", "client_secret": "h-secret",
             "scopes": [*READ, "personio:webhooks:write"]},
            {"client_id": "plain", "client_secret": "p-secret", "scopes": READ},
        ]
    }
}  # fmt: skip
WANTED = WebhookRegistration(
    url="https://hooks.example/webhooks/personio/hr/acme",
    token="Bearer tok-1",
    events=("absence-period.created", "absence-period.deleted"),
)


@pytest.fixture
async def fake() -> AsyncIterator[FakePersonio]:
    async with FakePersonio(SEED) as server:
        yield server


async def test_hook_7_create_list_update_delete(fake: FakePersonio) -> None:
    async with httpx.AsyncClient() as http:
        client = PersonioClient(http, fake.url, "hooks", "h-secret", max_retries=0)
        created = await client.create_webhook(WANTED)
        assert created.enabled and created.events == set(WANTED.events)
        assert fake.webhooks.get(created.id).token == "Bearer tok-1"  # type: ignore[union-attr]
        assert [h.id for h in await client.list_webhooks()] == [created.id]
        rotated = WebhookRegistration(url=WANTED.url, token="tok-2", events=WANTED.events)
        await client.update_webhook(created.id, rotated)
        assert fake.webhooks.get(created.id).token == "tok-2"  # type: ignore[union-attr]
        await client.delete_webhook(created.id)
        await client.delete_webhook(created.id)  # gone already: fine
        assert await client.list_webhooks() == []


async def test_hook_7_without_the_scope_names_it(fake: FakePersonio) -> None:
    async with httpx.AsyncClient() as http:
        client = PersonioClient(http, fake.url, "plain", "p-secret", max_retries=0)
        with pytest.raises(PersonioScopeError, match="personio:webhooks:write") as caught:
            await client.create_webhook(WANTED)
    assert "tok-1" not in str(caught.value) and "tok-1" not in repr(WANTED)


async def test_hook_7_a_scope_granted_after_a_403_is_used_by_the_next_call(
    fake: FakePersonio,
) -> None:
    """A token carries the scopes of its issue: after a 403 the cached token is dropped, so
    the admin's fix works on the next attempt, not when the 24 h token expires."""
    tokens = TokenCache()
    async with httpx.AsyncClient() as http:
        client = PersonioClient(http, fake.url, "plain", "p-secret", max_retries=0, tokens=tokens)
        with pytest.raises(PersonioScopeError):
            await client.list_webhooks()
        fake.state.put_credential(
            {"client_id": "plain", "client_secret": "p-secret",
             "scopes": [*READ, "personio:webhooks:write"]}
        )  # fmt: skip
        again = PersonioClient(http, fake.url, "plain", "p-secret", max_retries=0, tokens=tokens)
        assert await again.list_webhooks() == []


async def test_hook_8_a_webhook_id_stays_one_path_segment(fake: FakePersonio) -> None:
    """The id is read from `.status`, which is not the operator's alone: quoted, an id
    like `../x?y#z` is one segment of /v2/webhooks/{id}, never another endpoint, query
    or fragment."""
    paths: list[bytes] = []

    async def seen(request: httpx.Request) -> None:
        paths.append(request.url.raw_path)

    async with httpx.AsyncClient(event_hooks={"request": [seen]}) as http:
        client = PersonioClient(http, fake.url, "hooks", "h-secret", max_retries=0)
        with pytest.raises(PersonioError):
            await client.update_webhook("../x?y#z", WANTED)
        await client.delete_webhook("../x?y#z")  # 404: gone already
    hooks = [path for path in paths if path.startswith(b"/v2/webhooks")]
    assert hooks == [b"/v2/webhooks/..%2Fx%3Fy%23z"] * 2
