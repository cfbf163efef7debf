"""Personio webhook self-registration (issue 9, HOOK-7): `spec.webhook.register: true`.

After each full run the operator makes sure Personio holds one enabled webhook for the
resource, with the events the receiver acts on and the Secret's personioWebhookToken;
it removes it when registration is switched off or the resource is deleted. A missing
scope is reported in `.status.webhook` and as a Warning, and nothing else stops: the
scheduled syncs go on, only the near-real-time path is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from personio_sync.clients.kube import KubeError
from personio_sync.clients.personio import (
    PersonioClient,
    RegisteredWebhook,
    WebhookRegistration,
)
from personio_sync.controller.context import Context
from personio_sync.controller.runs.full import SecretSeen, ident, read_credentials
from personio_sync.controller.webhooks.receiver import ABSENCE_EVENTS, TOKEN_KEY
from personio_sync.errors import PersonioError, PersonioScopeError, PersonioStatusError
from personio_sync.resource.spec import PersonioSyncSpec, SpecError, parse_spec
from personio_sync.resource.status import WebhookStatus
from personio_sync.sync.config import Credentials
from personio_sync.sync.credentials import secret_value

log = logging.getLogger("personio_sync.controller")

EVENTS = (*sorted(ABSENCE_EVENTS), "person.created", "person.deleted", "person.updated")
NOT_PERMITTED = "WebhookNotPermitted"
TOKEN_MISSING = "WebhookTokenMissing"
FAILED = "WebhookFailed"


def _client(ctx: Context, http: httpx.AsyncClient, credentials: Credentials) -> PersonioClient:
    return PersonioClient(
        http,
        ctx.settings.endpoints.personio_url,
        credentials.personio_client_id,
        credentials.personio_client_secret,
        tokens=ctx.tokens,
    )


async def ensure(
    ctx: Context, body: Mapping[str, Any], credentials: Credentials
) -> dict[str, Any] | None:
    """Register, update or remove the webhook as the spec says; returns the resource as
    written with the new `.status.webhook` (None: nothing to write)."""
    try:
        spec: PersonioSyncSpec | None = parse_spec(body.get("spec") or {})
    except SpecError:
        return None
    wanted = spec.webhook if spec is not None else None
    previous = (body.get("status") or {}).get("webhook") or {}
    if wanted is None or not wanted.register_:
        if not previous.get("id"):
            return None
        await remove(ctx, body, credentials)
        return await _write(ctx, body, None)
    token = await _token(ctx, body, spec.secretRef.name if spec else "")
    if token is None:
        text = f"the Secret has no {TOKEN_KEY}: add it to register the Personio webhook"
        ctx.event(body, "Warning", TOKEN_MISSING, text)
        status = WebhookStatus(
            url=wanted.url, state="TokenMissing", reason=TOKEN_MISSING, message=text
        )
    else:
        registration = WebhookRegistration(url=wanted.url, token=token, events=EVENTS)
        status = await _register(ctx, body, credentials, registration, previous.get("id"))
    if previous == status.model_dump(mode="json", exclude_none=True):
        return None
    return await _write(ctx, body, status)


async def _token(ctx: Context, body: Mapping[str, Any], secret: str) -> str | None:
    namespace, _ = ident(body)
    try:
        found = await ctx.kube.get_secret(namespace, secret)
    except KubeError:
        return None
    return None if found is None else secret_value(found, TOKEN_KEY)


async def _register(
    ctx: Context,
    body: Mapping[str, Any],
    credentials: Credentials,
    wanted: WebhookRegistration,
    known: str | None,
) -> WebhookStatus:
    try:
        async with httpx.AsyncClient(timeout=30.0) as http:
            hook = await _upsert(_client(ctx, http, credentials), wanted, known)
    except PersonioScopeError as exc:
        ctx.event(body, "Warning", NOT_PERMITTED, exc.message)
        return WebhookStatus(url=wanted.url, state="NotPermitted", reason=NOT_PERMITTED,
                             message=exc.message[:1024])  # fmt: skip
    except PersonioError as exc:
        ctx.event(body, "Warning", FAILED, exc.message)
        return WebhookStatus(url=wanted.url, state="Failed", reason=FAILED,
                             message=exc.message[:1024])  # fmt: skip
    return WebhookStatus(id=hook.id, url=hook.url, state="Registered", reason="WebhookRegistered",
                         message="Personio delivers changes to this resource")  # fmt: skip


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


async def remove(ctx: Context, body: Mapping[str, Any], credentials: Credentials) -> None:
    """Delete the webhook recorded in `.status.webhook` (resource deleted or register off)."""
    hook_id = ((body.get("status") or {}).get("webhook") or {}).get("id")
    if not hook_id:
        return
    async with httpx.AsyncClient(timeout=30.0) as http:
        await _client(ctx, http, credentials).delete_webhook(str(hook_id))
    log.info("%s/%s: Personio webhook %s removed", *ident(body), hook_id)


async def on_delete(ctx: Context, body: Mapping[str, Any], seen: SecretSeen) -> None:
    """Best effort at deletion: a webhook left behind only meets 404s until Personio gives
    up, so it never holds the resource up."""
    if not ((body.get("status") or {}).get("webhook") or {}).get("id"):
        return
    secret = str(((body.get("spec") or {}).get("secretRef") or {}).get("name", ""))
    credentials: Credentials | None
    try:
        credentials = await read_credentials(ctx, ident(body)[0], secret, seen)
    except Exception:
        credentials = seen.credentials  # a namespace being deleted may take the Secret first
    try:
        if credentials is None:
            raise LookupError("no credentials")
        await remove(ctx, body, credentials)
    except Exception as exc:
        why = getattr(exc, "message", type(exc).__name__)
        text = f"the Personio webhook could not be removed ({why}); delete it in Personio"
        ctx.event(body, "Warning", "WebhookNotRemoved", text)


async def after_run(ctx: Context, body: Mapping[str, Any], seen: SecretSeen) -> None:
    """The worker's hook after each run; never fails the run."""
    if seen.credentials is None:
        return
    try:
        await ensure(ctx, body, seen.credentials)
    except Exception as exc:  # KubeError, a vendor error while removing: next run again
        log.warning("%s/%s: webhook registration not checked (%s)", *ident(body),
                    type(exc).__name__)  # fmt: skip


async def _write(
    ctx: Context, body: Mapping[str, Any], status: WebhookStatus | None
) -> dict[str, Any] | None:
    value = None if status is None else status.model_dump(mode="json", exclude_none=True)
    return await ctx.kube.merge_status(*ident(body), {"webhook": value})
