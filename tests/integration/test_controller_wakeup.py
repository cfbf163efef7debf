"""SEC-1 / HOOK-7 / issue 17, end to end below the API server: one wake-up of a worker
runs a full sync of the demo company and registers its webhook with one Secret GET.

The worker has its real runs; the vendors are the fakes over HTTP; the operator's real
Kubernetes client talks to an in-memory API server on an httpx2 mock transport, which
counts the Secret GETs. The clock is the context's: the run's window follows it, not
the machine's date. Registration goes through the runs' vendor clients, so its
requests are counted on /metrics like the run's.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from controller_helpers import HOOK_BASE, HOOK_TOKEN, HOOK_URL, NOW, ApiServer, b64, kube_on
from runner_helpers import DEMO

from personio_sync.controller.context import Context
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.webhooks.catalogue import SUBSCRIBED
from personio_sync.controller.webhooks.tokens import MIN_LENGTH
from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes import Sandbox


def personio_requests(ctx: Context) -> float:
    value = ctx.metrics.registry.get_sample_value(
        "personio_sync_api_requests_total",
        {"namespace": "hr", "vendor": "personio"},  # METRICS-4: per namespace
    )
    return value or 0.0


async def woken_until(
    demo: Sandbox, server: ApiServer, state: str, **context: Any
) -> tuple[Context, dict[str, Any]]:
    """One worker on the demo company, with webhook scopes and webhooks on (HOOK-15),
    until its status.webhook says `state`; the context (stopped) and that status."""
    scopes = ["personio:persons:read", "personio:absences:read", "personio:webhooks:write"]
    demo.personio_state.put_credential(
        {"client_id": DEMO.personio_client_id, "client_secret": DEMO.personio_client_secret,
         "scopes": scopes, "email_readable": True}
    )  # fmt: skip
    settings = OperatorSettings(
        personio_api_url=demo.personio_url,
        awork_api_url=demo.awork_url,
        webhook_base_url=HOOK_BASE,
    )
    ctx = Context(settings=settings, kube=kube_on(server), now=lambda: NOW, **context)
    worker = Worker(ctx, copy.deepcopy(server.body), slots=FairSlots(1))
    worker.start()
    try:

        async def reached() -> bool:
            return bool(server.body["status"].get("webhook", {}).get("state") == state)

        await eventually_async(reached, within=30, what=f"a run and status.webhook {state}")
    finally:
        await worker.stop()
        await ctx.kube.close()
    return ctx, server.body["status"]


async def test_sec_1_hook_7_one_wake_up_syncs_and_registers_with_one_secret_get(
    demo: Sandbox,
) -> None:
    server = ApiServer()
    ctx, status = await woken_until(demo, server, "Registered")
    assert status["lastRun"]["window"] == {"from": "2026-07-07", "to": "2027-01-17"}  # ctx clock
    assert status["lastRun"]["created"] == 7
    assert server.secret_gets == 1  # the wake-up's read fed the run and the registration
    (hook,) = demo.personio.webhooks.listed()
    assert hook.token == HOOK_TOKEN and sorted(hook.enabled_events) == sorted(SUBSCRIBED)
    assert hook.url == HOOK_URL and status["webhook"]["url"] == HOOK_URL
    sent = [e for e in demo.personio.journal.entries() if not e.path.startswith("/_admin")]
    assert personio_requests(ctx) == len(sent)  # the webhook calls counted too


@pytest.mark.parametrize("register", [True, False])
async def test_hook_11_a_token_too_short_is_never_registered_and_is_said(
    demo: Sandbox, register: bool
) -> None:
    """Under 32 characters the receiver refuses the token (404): registering it would
    only have Personio deliver into a wall. Said in status.webhook and a Warning, also
    when the webhook is registered by hand (no `register`)."""
    server = ApiServer()
    server.secret["data"]["personioWebhookToken"] = b64("Bearer " + "s" * (MIN_LENGTH - 1))
    if not register:
        del server.body["spec"]["webhook"]
    events: list[tuple[str, str, str]] = []
    await woken_until(
        demo, server, "TokenTooShort",
        event=lambda body, kind, reason, text: events.append((kind, reason, text)),
    )  # fmt: skip
    webhook = server.body["status"]["webhook"]
    assert webhook["reason"] == "WebhookTokenTooShort" and "32 characters" in webhook["message"]
    assert demo.personio.webhooks.listed() == []
    [(kind, _, text)] = [e for e in events if e[1] == "WebhookTokenTooShort"]
    assert kind == "Warning" and "s" * 8 not in text
