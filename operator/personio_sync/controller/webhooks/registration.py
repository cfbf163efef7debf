"""Personio webhook self-registration (issue 9, HOOK-7): `spec.webhook.register: true`.

After each full run the operator makes sure Personio holds one enabled webhook for the
resource, with the events the receiver acts on (catalogue.py) and the Secret's
personioWebhookToken; it removes it when registration is switched off or the resource
is deleted. A missing scope is reported in `.status.webhook` and as a Warning, and
nothing else stops: the scheduled syncs go on, only the near-real-time path is missing.

Its requests go through the runs' vendor clients (runs/inputs.py): counted on /metrics,
with the clients' retries and bounds; the token comes from the wake-up's Secret read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from personio_sync.clients.personio import (
    PersonioClient,
    RegisteredWebhook,
    WebhookRegistration,
)
from personio_sync.controller.context import Context
from personio_sync.controller.runs.inputs import (
    SecretSeen,
    credentials,
    secret_for,
    vendor_clients,
)
from personio_sync.controller.view import ResourceView
from personio_sync.controller.webhooks.catalogue import SUBSCRIBED
from personio_sync.controller.webhooks.tokens import MIN_LENGTH, TOKEN_KEY, too_short
from personio_sync.controller.writes import WritePolicy
from personio_sync.errors import PersonioError, PersonioScopeError, PersonioStatusError
from personio_sync.reasons import ConditionReason, EventReason
from personio_sync.resource.status import WebhookStatus
from personio_sync.sync.config import Credentials
from personio_sync.sync.credentials import secret_value

log = logging.getLogger("personio_sync.controller")

WebhookState = Literal["Registered", "NotPermitted", "TokenMissing", "TokenTooShort", "Failed"]


async def ensure(
    ctx: Context, view: ResourceView, seen: SecretSeen, found: Credentials
) -> dict[str, Any] | None:
    """Register, update or remove the webhook as the spec says; returns the resource as
    written with the new `.status.webhook` (None: nothing to write). A token too short
    to open the receiver (HOOK-11) is said whether or not the operator registers."""
    spec = view.spec
    if spec is None:
        return None
    wanted, previous = spec.webhook, view.webhook_status
    read = await secret_for(ctx, view.namespace, spec.secretRef.name, seen)
    token = None if read.body is None else secret_value(read.body, TOKEN_KEY)
    short = token is not None and too_short(token)
    if wanted is None or not wanted.register_:
        if previous.get("id"):
            await remove(ctx, view, found)
        elif not short and previous.get("state") != "TokenTooShort":
            return None  # nothing registered, nothing to say
        status = _too_short(ctx, view, None, None) if short else None
        if status is not None and _same(previous, status):
            return None
        return await _write(ctx, view, status)
    if token is None:
        text = f"the Secret has no {TOKEN_KEY}: add it to register the Personio webhook"
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_TOKEN_MISSING, text)
        status = _state(wanted.url, "TokenMissing", ConditionReason.WEBHOOK_TOKEN_MISSING, text)
    elif short:  # never sent to Personio: the receiver would refuse what it delivers
        status = _too_short(ctx, view, wanted.url, previous.get("id"))
    else:
        registration = WebhookRegistration(url=wanted.url, token=token, events=SUBSCRIBED)
        status = await _register(ctx, view, found, registration, previous.get("id"))
    if _same(previous, status):
        return None
    return await _write(ctx, view, status)


def _same(previous: Mapping[str, Any], status: WebhookStatus) -> bool:
    return previous == status.model_dump(mode="json", exclude_none=True)


def _too_short(
    ctx: Context, view: ResourceView, url: str | None, hook: str | None
) -> WebhookStatus:
    """HOOK-11: a Warning and the state; a hook registered before keeps its id, so that
    deleting the resource still removes it."""
    text = (
        f"the Secret's {TOKEN_KEY} is shorter than {MIN_LENGTH} characters: the receiver "
        "refuses it; put a longer one (e.g. `openssl rand -hex 32`) in the Secret"
    )
    ctx.event(view.body, "Warning", EventReason.WEBHOOK_TOKEN_TOO_SHORT, text)
    return WebhookStatus(
        id=hook,
        url=url,
        state="TokenTooShort",
        reason=ConditionReason.WEBHOOK_TOKEN_TOO_SHORT,
        message=text,
    )


async def _register(
    ctx: Context,
    view: ResourceView,
    found: Credentials,
    wanted: WebhookRegistration,
    known: str | None,
) -> WebhookStatus:
    try:
        async with vendor_clients(ctx, view.key, found) as clients:
            hook = await _upsert(clients.personio, wanted, known)
    except PersonioScopeError as exc:
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_NOT_PERMITTED, exc.message)
        return _state(
            wanted.url, "NotPermitted", ConditionReason.WEBHOOK_NOT_PERMITTED, exc.message
        )
    except PersonioError as exc:
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_FAILED, exc.message)
        return _state(wanted.url, "Failed", ConditionReason.WEBHOOK_FAILED, exc.message)
    text = "Personio delivers changes to this resource"
    return _state(hook.url, "Registered", ConditionReason.WEBHOOK_REGISTERED, text, hook.id)


def _state(
    url: str, state: WebhookState, reason: ConditionReason, message: str, hook: str | None = None
) -> WebhookStatus:
    """`.status.webhook`: Personio's id when registered, else why not (message cut short)."""
    return WebhookStatus(id=hook, url=url, state=state, reason=reason, message=message[:1024])


async def _upsert(
    client: PersonioClient, wanted: WebhookRegistration, known: str | None
) -> RegisteredWebhook:
    """Ours is the one with the id we recorded, or else the one with our URL. It is always
    updated: Personio never shows the token, so a rotated one cannot be detected."""
    hooks = await client.list_webhooks()
    mine = [h for h in hooks if h.id == known] or [h for h in hooks if h.url == wanted.url]
    if mine:
        return await client.update_webhook(mine[0].id, wanted)
    try:
        return await client.create_webhook(wanted)
    except PersonioStatusError as exc:
        if exc.status_code != 409:
            raise
        again = [h for h in await client.list_webhooks() if h.url == wanted.url]
        if not again:
            raise
        return await client.update_webhook(again[0].id, wanted)


async def remove(ctx: Context, view: ResourceView, found: Credentials) -> None:
    """Delete the webhook recorded in `.status.webhook` (resource deleted or register off)."""
    hook_id = view.webhook_status.get("id")
    if not hook_id:
        return
    async with vendor_clients(ctx, view.key, found) as clients:
        await clients.personio.delete_webhook(str(hook_id))
    log.info("%s/%s: Personio webhook %s removed", *view.key, hook_id)


async def on_delete(ctx: Context, view: ResourceView, seen: SecretSeen) -> None:
    """Best effort at deletion: a webhook left behind only meets 404s until Personio gives
    up, so it never holds the resource up."""
    if not view.webhook_status.get("id"):
        return
    found: Credentials | None
    try:
        found = await credentials(ctx, view.namespace, view.lenient.secret_name, seen)
    except Exception:
        found = seen.credentials  # a namespace being deleted may take the Secret first
    try:
        if found is None:
            raise LookupError("no credentials")
        await remove(ctx, view, found)
    except Exception as exc:
        why = getattr(exc, "message", type(exc).__name__)
        text = f"the Personio webhook could not be removed ({why}); delete it in Personio"
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_NOT_REMOVED, text)


async def after_run(ctx: Context, view: ResourceView, seen: SecretSeen) -> None:
    """The worker's hook after each run; never fails the run."""
    if seen.credentials is None:
        return
    try:
        await ensure(ctx, view, seen, seen.credentials)
    except Exception as exc:  # KubeError, a vendor error while removing: next run again
        log.warning("%s/%s: webhook registration not checked (%s)", *view.key,
                    type(exc).__name__)  # fmt: skip


async def _write(
    ctx: Context, view: ResourceView, status: WebhookStatus | None
) -> dict[str, Any] | None:
    value = None if status is None else status.model_dump(mode="json", exclude_none=True)
    return await ctx.writes.merge_status(view.key, {"webhook": value}, WritePolicy.ONCE, "webhook")
