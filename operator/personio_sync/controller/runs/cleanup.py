"""A deleted resource's clean-up (R19, `deletionPolicy: Delete`): the absences it owns go.

Only absences whose marker carries this resource's owner key (and an older version's
key for it) are deleted, nothing else. The worker holds the resource's deletion until
this succeeds (loop/lifecycle.py); a failure raises SyncError and is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from personio_sync.controller.context import Context
from personio_sync.controller.runs.inputs import SecretSeen, credentials, vendor_clients
from personio_sync.controller.view import ResourceView
from personio_sync.engine.marker import keys_to_adopt
from personio_sync.engine.report import counted
from personio_sync.errors import SecretProblem
from personio_sync.reasons import EventReason
from personio_sync.sync import runner

Slot = Callable[[], AbstractAsyncContextManager[None]]  # a run slot (FAIR-2), given by the loop


async def clean_up(ctx: Context, view: ResourceView, seen: SecretSeen, *, slot: Slot) -> None:
    """Delete the absences this sync owns, inside a run slot. When the Secret is already
    gone (a namespace being deleted), the credentials of the last run are used if this
    process still has them."""
    lenient = view.lenient
    if not lenient.delete_on_removal:
        return
    if lenient.dry_run:
        text = "spec.dryRun is true: awork left untouched"
        ctx.event(view.body, "Normal", EventReason.CLEANUP_SKIPPED, text)
        return
    try:
        found = await credentials(ctx, view.namespace, lenient.secret_name, seen)
    except SecretProblem:
        if seen.credentials is None:
            raise
        found = seen.credentials
    owner = ctx.owner_key(*view.key)
    count = 0
    async with slot(), vendor_clients(ctx, view.key, found) as clients:
        for key in {owner, *keys_to_adopt(view.namespace, view.name, owner)}:  # an older key too
            count += await runner.delete_owned(
                found, owner_key=key, clients=clients, fence=ctx.fence
            )
    text = f"deleted {counted(count, 'awork absence', 'awork absences')} this sync wrote"
    ctx.event(view.body, "Normal", EventReason.DELETED_OWNED_ABSENCES, text)
