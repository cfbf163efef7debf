"""HOOK-7 / HOOK-14 / HOOK-15: which Personio webhook is a resource's, against the fake
Personio over HTTP. The operator registers its own URL for a resource and knows its
webhook by the id it stored and the marker in the description (`personio-sync:<ownerKey>`),
never by URL alone: a webhook it did not mark is never updated or deleted.

`ensure` is the registration a worker runs after each full run; the API server is
controller_helpers' in-memory one (resource hr/acme, its Secret with a webhook token).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from controller_helpers import HOOK_BASE, HOOK_TOKEN, HOOK_URL, NOW, ApiServer, kube_on
from runner_helpers import DEMO

from personio_sync.clients.personio import PersonioClient, WebhookRegistration
from personio_sync.controller.context import Context
from personio_sync.controller.runs.inputs import SecretSeen
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.view import ResourceView
from personio_sync.controller.webhooks import registration
from personio_sync.controller.webhooks.catalogue import SUBSCRIBED
from personio_sync.controller.webhooks.registration import LEGACY_DESCRIPTION, Owner
from personio_sync.engine.marker import owner_key
from personio_sync.sync.config import Credentials
from personio_sync_testing.fakes import Sandbox
from personio_sync_testing.fakes.personio.webhooks import Webhook, WebhookFields

INSTANCE = "cluster-uid-1"
SCOPES = ["personio:persons:read", "personio:absences:read", "personio:webhooks:write"]
OTHER_URL = f"{HOOK_BASE}/team-a/acme"  # another resource's, in the same Personio company
OTHER = Owner(owner_key("team-a", "acme", INSTANCE), "team-a", "acme")
OURS = Owner(owner_key("hr", "acme", INSTANCE), "hr", "acme")
FOUND = Credentials(DEMO.personio_client_id, DEMO.personio_client_secret, DEMO.awork_api_key)
Posted = list[tuple[str, str, str]]


@pytest.fixture
def personio(demo: Sandbox) -> Sandbox:
    demo.personio_state.put_credential(
        {"client_id": DEMO.personio_client_id, "client_secret": DEMO.personio_client_secret,
         "scopes": SCOPES, "email_readable": True}
    )  # fmt: skip
    return demo


def hook(sandbox: Sandbox, url: str, description: str, token: str) -> Webhook:
    """A webhook someone else put into Personio (another resource, a person, an older
    version of the operator)."""
    fields = WebhookFields(url=url, description=description, token=token, status="ENABLED",
                           enabled_events=sorted(SUBSCRIBED))  # fmt: skip
    return sandbox.personio.webhooks.create(fields)


Ensure = Callable[..., Any]


@pytest.fixture
async def ensure(personio: Sandbox) -> AsyncIterator[Ensure]:
    """`await ensure(spec_webhook, status_webhook, base=...)`: one registration of hr/acme;
    returns (the status.webhook written, the Events posted)."""
    closers = []

    async def run(
        webhook: dict[str, Any] | None,
        status: dict[str, Any] | None = None,
        *,
        base: str = HOOK_BASE,
    ) -> tuple[dict[str, Any] | None, Posted]:
        server = ApiServer()
        server.body["spec"] = {"secretRef": {"name": "acme-credentials"}}
        if webhook is not None:
            server.body["spec"]["webhook"] = webhook
        server.body["status"] = {"webhook": status} if status else {}
        posted: Posted = []
        settings = OperatorSettings(
            personio_api_url=personio.personio_url,
            awork_api_url=personio.awork_url,
            webhook_base_url=base,
        )
        ctx = Context(
            settings=settings,
            kube=kube_on(server),
            instance_id=INSTANCE,
            now=lambda: NOW,
            event=lambda _, kind, reason, message: posted.append((kind, reason, message)),
        )
        closers.append(ctx.kube.close)
        view = ResourceView.of(copy.deepcopy(server.body))
        await registration.ensure(ctx, view, SecretSeen(), FOUND)
        return server.body["status"].get("webhook"), posted

    yield run
    for close in closers:
        await close()


def untouched(sandbox: Sandbox, before: Webhook) -> bool:
    after = sandbox.personio.webhooks.get(before.id)
    return after is not None and after.model_dump() == before.model_dump()


async def test_hook_7_the_operator_registers_its_own_url_with_its_marker(
    personio: Sandbox, ensure: Ensure
) -> None:
    status, posted = await ensure({"register": True})
    (created,) = personio.personio.webhooks.listed()
    assert (created.url, created.token, created.status) == (HOOK_URL, HOOK_TOKEN, "ENABLED")
    assert created.description == f"personio-sync:{OURS.key} hr/acme" == OURS.description
    assert status == {"id": created.id, "url": HOOK_URL, "state": "Registered",
                      "reason": "WebhookRegistered",
                      "message": "Personio delivers changes to this resource"}  # fmt: skip
    assert posted == []


async def test_hook_7_resource_b_cannot_take_over_resource_a_webhook_by_naming_its_url(
    personio: Sandbox, ensure: Ensure
) -> None:
    """The hijack: B's spec names A's URL. Before HOOK-7/8, B adopted A's webhook by URL and
    overwrote its token with B's; now the URL is the operator's and the field is ignored."""
    theirs = hook(personio, OTHER_URL, OTHER.description, "token-of-team-a")
    status, posted = await ensure({"url": OTHER_URL, "register": True})
    assert untouched(personio, theirs)
    mine = [h for h in personio.personio.webhooks.listed() if h.id != theirs.id]
    assert [(h.url, h.token) for h in mine] == [(HOOK_URL, HOOK_TOKEN)]
    assert status is not None and status["url"] == HOOK_URL and status["id"] == mine[0].id
    assert [reason for _, reason, _ in posted] == ["WebhookURLIgnored"]
    assert HOOK_URL in posted[0][2] and "remove the field" in posted[0][2]


async def test_hook_14_a_webhook_at_our_url_without_our_marker_is_never_adopted(
    personio: Sandbox, ensure: Ensure
) -> None:
    foreign = hook(personio, HOOK_URL, "made by hand", "someone-elses-token")
    status, posted = await ensure({"register": True})
    assert untouched(personio, foreign) and len(personio.personio.webhooks.listed()) == 1
    assert status is not None
    assert (status["state"], status["reason"]) == ("NotOwned", "WebhookNotOwned")
    assert "id" not in status and foreign.id in status["message"]
    assert OURS.description in status["message"]  # how to hand it over, if it is ours
    assert ("Warning", "WebhookNotOwned") in [(kind, reason) for kind, reason, _ in posted]
    assert HOOK_TOKEN not in repr((status, posted)) and "someone-elses" not in repr(posted)


async def test_hook_14_a_stored_id_whose_webhook_lacks_our_marker_is_left_untouched(
    personio: Sandbox, ensure: Ensure
) -> None:
    """status.webhook.id names A's webhook (a status written by hand, or an older version's
    adoption by URL): it is not updated, and the operator registers its own."""
    theirs = hook(personio, OTHER_URL, OTHER.description, "token-of-team-a")
    stored = {"id": theirs.id, "state": "Registered", "reason": "WebhookRegistered"}
    status, posted = await ensure({"register": True}, stored)
    assert untouched(personio, theirs)
    assert status is not None and status["state"] == "Registered" and status["id"] != theirs.id
    notes = [message for _, reason, message in posted if reason == "WebhookNotOwned"]
    assert len(notes) == 1 and theirs.id in notes[0] and "left untouched" in notes[0]


async def test_hook_14_removal_deletes_only_a_webhook_with_our_marker(
    personio: Sandbox, ensure: Ensure
) -> None:
    theirs = hook(personio, OTHER_URL, OTHER.description, "token-of-team-a")
    stored = {"id": theirs.id, "state": "Registered", "reason": "WebhookRegistered"}
    status, posted = await ensure({"register": False}, stored)
    assert untouched(personio, theirs) and status is None
    assert [reason for _, reason, _ in posted] == ["WebhookNotOwned"]
    mine = hook(personio, HOOK_URL, OURS.description, HOOK_TOKEN)
    stored = {"id": mine.id, "state": "Registered", "reason": "WebhookRegistered"}
    status, _ = await ensure(None, stored)
    assert status is None and personio.personio.webhooks.get(mine.id) is None
    assert untouched(personio, theirs)


async def test_hook_14_the_upgrade_moves_an_older_versions_webhook_by_its_stored_id(
    personio: Sandbox, ensure: Ensure
) -> None:
    """Registered by a version that took `spec.webhook.url` (description `personio-sync`,
    at a URL ending in this resource's /<namespace>/<name>): the next run moves it to the
    operator's URL and marks it; no second webhook."""
    old = hook(personio, "https://old.example/hooks/hr/acme", LEGACY_DESCRIPTION, "old-token")
    stored = {"id": old.id, "url": old.url, "state": "Registered", "reason": "WebhookRegistered"}
    status, _ = await ensure({"url": old.url, "register": True}, stored)
    (moved,) = personio.personio.webhooks.listed()
    assert moved.id == old.id and moved.url == HOOK_URL and moved.token == HOOK_TOKEN
    assert moved.description == OURS.description
    assert status is not None and (status["id"], status["url"]) == (old.id, HOOK_URL)


async def test_hook_14_an_older_webhook_for_another_resource_is_not_moved(
    personio: Sandbox, ensure: Ensure
) -> None:
    """The legacy description alone is not enough: the URL must be this resource's."""
    old = hook(personio, OTHER_URL, LEGACY_DESCRIPTION, "token-of-team-a")
    stored = {"id": old.id, "state": "Registered", "reason": "WebhookRegistered"}
    await ensure({"register": True}, stored)
    assert untouched(personio, old)


async def test_hook_14_our_marked_webhook_is_found_without_a_stored_id(
    personio: Sandbox, ensure: Ensure
) -> None:
    """A status lost (restored from a backup without it): the marker finds ours, and a
    new base URL moves it there."""
    mine = hook(personio, "https://before.example/webhooks/personio/hr/acme",
                OURS.description, "rotated-away")  # fmt: skip
    status, _ = await ensure({"register": True})
    (updated,) = personio.personio.webhooks.listed()
    assert updated.id == mine.id and updated.url == HOOK_URL and updated.token == HOOK_TOKEN
    assert status is not None and status["id"] == mine.id


async def test_hook_14_another_installations_marker_is_not_ours(
    personio: Sandbox, ensure: Ensure
) -> None:
    """The same namespace/name in another cluster has another owner key (D-Owner)."""
    elsewhere = Owner(owner_key("hr", "acme", "another-cluster"), "hr", "acme")
    theirs = hook(personio, "https://other-cluster.example/hr/acme", elsewhere.description, "x")
    await ensure({"register": True})
    assert untouched(personio, theirs) and len(personio.personio.webhooks.listed()) == 2


async def test_hook_15_without_a_base_url_the_status_names_the_chart_value(
    personio: Sandbox, ensure: Ensure
) -> None:
    mine = hook(personio, HOOK_URL, OURS.description, HOOK_TOKEN)
    stored = {"id": mine.id, "state": "Registered", "reason": "WebhookRegistered"}
    status, posted = await ensure({"register": True}, stored, base="")
    assert status is not None
    assert (status["state"], status["reason"]) == ("Disabled", "WebhooksDisabled")
    assert "webhooks.baseURL" in status["message"] and "id" not in status
    assert [(kind, reason) for kind, reason, _ in posted] == [("Warning", "WebhooksDisabled")]
    assert personio.personio.webhooks.listed() == []  # nothing would receive its deliveries
    status, _ = await ensure({}, None, base="")  # receive only: told just the same
    assert status is not None and status["reason"] == "WebhooksDisabled"
    status, posted = await ensure(None, None, base="")  # no spec.webhook: nothing to say
    assert status is None and posted == []


async def test_hook_14_upsert_with_the_client_alone(personio: Sandbox) -> None:
    """The recognition by itself: no create when ours exists, none adopted by URL."""
    async with httpx.AsyncClient() as http:
        client = PersonioClient(http, personio.personio_url, DEMO.personio_client_id,
                                DEMO.personio_client_secret, max_retries=0)  # fmt: skip
        wanted = WebhookRegistration(url=HOOK_URL, token=HOOK_TOKEN, events=SUBSCRIBED,
                                     description=OURS.description)  # fmt: skip
        first = await registration.upsert(client, wanted, OURS, None)
        again = await registration.upsert(client, wanted, OURS, None)
        assert first.hook is not None and again.hook is not None
        assert first.hook.id == again.hook.id and first.hook.description == OURS.description
        other = await registration.upsert(client, wanted, OTHER, None)  # same URL, not theirs
        assert other.hook is None and other.blocked_by == first.hook.id
