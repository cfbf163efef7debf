"""Personio webhook self-registration (issue 9, HOOK-7, HOOK-14): `spec.webhook.register`.

After each full run the operator makes sure Personio holds one enabled webhook for the
resource, at the operator's URL for it (`PERSONIO_SYNC_WEBHOOK_BASE_URL/<namespace>/<name>`,
never a URL of the resource author's choosing), with the events the receiver acts on
(catalogue.py) and the Secret's personioWebhookToken; it removes it when registration is
switched off or the resource is deleted. A missing scope is reported in `.status.webhook`
and as a Warning, and nothing else stops: the scheduled syncs go on, only the
near-real-time path is missing.

Which webhook is ours (HOOK-14): the one whose description carries our marker,
`personio-sync:<ownerKey>`, found by the id stored in `.status.webhook` or else by that
marker, never by URL alone. A webhook without the marker is never updated or deleted,
even at our URL or under the stored id: another resource's, another installation's, or
one registered by hand.

Its requests go through the runs' vendor clients (runs/inputs.py): counted on /metrics,
with the clients' retries and bounds; the token comes from the wake-up's Secret read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

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

WebhookState = Literal[
    "Registered", "NotPermitted", "TokenMissing", "TokenTooShort", "Failed", "NotOwned", "Disabled"
]
MARKER = "personio-sync:"
# The description versions before HOOK-14 gave every webhook they registered (no owner).
LEGACY_DESCRIPTION = "personio-sync"
BASE_URL_VALUE = "webhooks.baseURL"  # the chart value that sets PERSONIO_SYNC_WEBHOOK_BASE_URL


@dataclass(frozen=True)
class Owner:
    """One resource of this installation, as its webhook's description marks it."""

    key: str  # status.ownerKey (D-Owner): the instance id and namespace/name
    namespace: str
    name: str

    @property
    def description(self) -> str:
        return f"{MARKER}{self.key} {self.namespace}/{self.name}"

    def marked(self, hook: RegisteredWebhook) -> bool:
        """HOOK-14: the first word of the description is our marker, exactly."""
        words = hook.description.split(maxsplit=1)
        return bool(words) and words[0] == f"{MARKER}{self.key}"

    def registered_before(self, hook: RegisteredWebhook) -> bool:
        """A webhook an older version registered for this resource (upgrade): the old
        description, at a URL that ends in this resource's own /<namespace>/<name>."""
        path = urlsplit(hook.url).path.rstrip("/")
        return hook.description == LEGACY_DESCRIPTION and path.endswith(
            f"/{self.namespace}/{self.name}"
        )


@dataclass(frozen=True)
class Upserted:
    """What one registration found: ours (updated or created), or the webhook that holds
    our URL without our marker; and a stored id whose webhook is not ours (left alone)."""

    hook: RegisteredWebhook | None = None
    blocked_by: str | None = None  # a webhook at our URL, not marked as ours
    passed_over: str | None = None  # status.webhook.id named a webhook not marked as ours


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
    if wanted is not None and wanted.url is not None:  # every run: the poster thins repeats
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_URL_IGNORED, _ignored(ctx, view))
    if wanted is not None and not ctx.settings.webhooks_enabled:  # HOOK-15
        text = (
            "the operator receives no Personio webhooks: set the chart value "
            f"{BASE_URL_VALUE} (PERSONIO_SYNC_WEBHOOK_BASE_URL) to the receiver's public URL"
        )
        ctx.event(view.body, "Warning", EventReason.WEBHOOKS_DISABLED, text)
        status = _state(None, "Disabled", ConditionReason.WEBHOOKS_DISABLED, text)
        return await _replace(ctx, view, found, previous, status)
    read = await secret_for(ctx, view.namespace, spec.secretRef.name, seen)
    token = None if read.body is None else secret_value(read.body, TOKEN_KEY)
    short = token is not None and too_short(token)
    if wanted is None or not wanted.register_:
        if not previous.get("id") and not short and previous.get("state") != "TokenTooShort":
            return None  # nothing registered, nothing to say
        said = _too_short(ctx, view, None, None) if short else None
        return await _replace(ctx, view, found, previous, said)
    url = ctx.settings.webhook_url(*view.key)
    if token is None:
        text = f"the Secret has no {TOKEN_KEY}: add it to register the Personio webhook"
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_TOKEN_MISSING, text)
        status = _state(url, "TokenMissing", ConditionReason.WEBHOOK_TOKEN_MISSING, text)
    elif short:  # never sent to Personio: the receiver would refuse what it delivers
        status = _too_short(ctx, view, url, previous.get("id"))
    else:
        owner = Owner(ctx.owner_key(*view.key), *view.key)
        registration = WebhookRegistration(
            url=url, token=token, events=SUBSCRIBED, description=owner.description
        )
        status = await _register(ctx, view, found, registration, owner, previous.get("id"))
    if previous == _dumped(status):
        return None
    return await _write(ctx, view, status)


async def _replace(
    ctx: Context,
    view: ResourceView,
    found: Credentials,
    previous: Mapping[str, Any],
    status: WebhookStatus | None,
) -> dict[str, Any] | None:
    """No webhook of ours is wanted in Personio: remove a registered one, say `status`."""
    if previous.get("id"):
        await remove(ctx, view, found)
    elif previous == _dumped(status):
        return None
    return await _write(ctx, view, status)


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


def _ignored(ctx: Context, view: ResourceView) -> str:
    """HOOK-7: the deprecated field is never read; say which URL counts instead."""
    where = (
        ctx.settings.webhook_url(*view.key)
        if ctx.settings.webhooks_enabled
        else "<base URL>/<namespace>/<name>"
    )
    return (
        f"spec.webhook.url is ignored: the operator registers its own URL for this resource, "
        f"{where} (the chart value {BASE_URL_VALUE}); remove the field"
    )


def redacted(message: str, token: str) -> str:
    """R21: the request carried the token, and an error answer may echo what it was sent
    (a proxy, a validation message): the message never shows it."""
    return message.replace(token, "[redacted]") if token else message


async def _register(
    ctx: Context,
    view: ResourceView,
    found: Credentials,
    wanted: WebhookRegistration,
    owner: Owner,
    known: str | None,
) -> WebhookStatus:
    try:
        async with vendor_clients(ctx, view.key, found) as clients:
            result = await upsert(clients.personio, wanted, owner, known)
    except PersonioScopeError as exc:
        message = redacted(exc.message, wanted.token)
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_NOT_PERMITTED, message)
        return _state(wanted.url, "NotPermitted", ConditionReason.WEBHOOK_NOT_PERMITTED, message)
    except PersonioError as exc:
        message = redacted(exc.message, wanted.token)
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_FAILED, message)
        return _state(wanted.url, "Failed", ConditionReason.WEBHOOK_FAILED, message)
    if result.passed_over is not None:
        text = (
            f"status.webhook.id {result.passed_over} names a Personio webhook that is not "
            f"marked as this resource's (description {owner.description!r}): it is left "
            "untouched"
        )
        log.warning("%s/%s: %s", *view.key, text)
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_NOT_OWNED, text)
    if result.hook is None:
        text = (
            f"Personio holds a webhook to {wanted.url} (id {result.blocked_by}) that is not "
            f"marked as this resource's, so it is left alone: delete it in Personio (or, if "
            f"it is this resource's, set its description to {owner.description!r})"
        )
        ctx.event(view.body, "Warning", EventReason.WEBHOOK_NOT_OWNED, text)
        return _state(wanted.url, "NotOwned", ConditionReason.WEBHOOK_NOT_OWNED, text)
    text = "Personio delivers changes to this resource"
    hook = result.hook
    return _state(hook.url, "Registered", ConditionReason.WEBHOOK_REGISTERED, text, hook.id)


def _state(
    url: str | None,
    state: WebhookState,
    reason: ConditionReason,
    message: str,
    hook: str | None = None,
) -> WebhookStatus:
    """`.status.webhook`: Personio's id when registered, else why not (message cut short)."""
    return WebhookStatus(id=hook, url=url, state=state, reason=reason, message=message[:1024])


def _dumped(status: WebhookStatus | None) -> dict[str, Any]:
    return {} if status is None else status.model_dump(mode="json", exclude_none=True)


async def upsert(
    client: PersonioClient, wanted: WebhookRegistration, owner: Owner, known: str | None
) -> Upserted:
    """Ours is the one with the id we recorded, or else the one with our marker, and only
    if it carries the marker (HOOK-14): a URL alone adopts nothing. It is always updated,
    URL and description included (that moves an older version's webhook to the operator's
    URL): Personio never shows the token, so a rotated one cannot be detected."""
    hooks = await client.list_webhooks()
    stored = next((h for h in hooks if known and h.id == known), None)
    if stored is not None and (owner.marked(stored) or owner.registered_before(stored)):
        return Upserted(await client.update_webhook(stored.id, wanted))
    passed_over = None if stored is None else stored.id
    marked = [h for h in hooks if owner.marked(h)]
    if marked:
        return Upserted(await client.update_webhook(marked[0].id, wanted), None, passed_over)
    try:
        return Upserted(await client.create_webhook(wanted), None, passed_over)
    except PersonioStatusError as exc:
        if exc.status_code != 409:
            raise
    again = await client.list_webhooks()  # a concurrent create of ours, or someone else's
    marked = [h for h in again if owner.marked(h)]
    if marked:
        return Upserted(await client.update_webhook(marked[0].id, wanted), None, passed_over)
    blocking = next((h.id for h in again if h.url == wanted.url), "unknown")
    return Upserted(None, blocking, passed_over)


async def remove(ctx: Context, view: ResourceView, found: Credentials) -> None:
    """Delete the webhook recorded in `.status.webhook` (resource deleted or register off),
    only if it carries our marker (HOOK-14); one that does not is left and reported."""
    hook_id = view.webhook_status.get("id")
    if not hook_id:
        return
    owner = Owner(ctx.owner_key(*view.key), *view.key)
    async with vendor_clients(ctx, view.key, found) as clients:
        hooks = await clients.personio.list_webhooks()
        stored = next((h for h in hooks if h.id == str(hook_id)), None)
        if stored is None:
            return  # gone already
        if not (owner.marked(stored) or owner.registered_before(stored)):
            text = (
                f"status.webhook.id {hook_id} names a Personio webhook that is not marked as "
                "this resource's: it is left untouched"
            )
            ctx.event(view.body, "Warning", EventReason.WEBHOOK_NOT_OWNED, text)
            return
        await clients.personio.delete_webhook(stored.id)
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
    value = None if status is None else _dumped(status)
    return await ctx.writes.merge_status(view.key, {"webhook": value}, WritePolicy.ONCE, "webhook")
