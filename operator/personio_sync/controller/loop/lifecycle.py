"""A resource's own state around its runs: finalizer (R19), suspension (R18), the
annotations a run answers (sync-now, D-Guard consent), what it says of a sync-now it
does not run at once (UX-17), and its deletion.

Why not kopf's finalizer: kopf puts one on every resource a daemon serves, which blocks
deletion whenever the operator is down. Ours exists exactly while the resource needs
something done at deletion: `deletionPolicy: Delete`, or a registered webhook to remove.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import Any

from personio_sync.clients.kube import annotation_patch, finalizer_patch
from personio_sync.controller.context import FINALIZER, SYNC_NOW, SYNC_NOW_HANDLED, Context
from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.slots import FairSlots, Priority
from personio_sync.controller.reporting import outcomes
from personio_sync.controller.runs.inputs import SecretSeen
from personio_sync.controller.schedule import Decision
from personio_sync.controller.view import ResourceView
from personio_sync.controller.writes import WritePolicy
from personio_sync.engine.dates import rfc3339
from personio_sync.errors import KubeConflict, SyncError
from personio_sync.reasons import EventReason
from personio_sync.resource.spec import ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED

Observe = Callable[[Mapping[str, Any]], None]  # the worker takes what a write returned
_IGNORED = (
    "sync-now request ignored while spec.suspend is true: no sync runs; setting suspend to "
    "false runs a sync at once (a spec change), and that sync answers this request"
)


class Lifecycle:
    def __init__(
        self, ctx: Context, slots: FairSlots, calls: Collaborators, observe: Observe
    ) -> None:
        self.ctx, self.slots, self.calls, self._observe = ctx, slots, calls, observe
        self.cleanup_failures = 0
        self._told: tuple[str, str] | None = None  # (sync-now value, its fate) last said

    def _took(self, written: Mapping[str, Any] | None) -> None:
        if written is not None:
            self._observe(written)

    async def align_finalizer(self, view: ResourceView) -> bool:
        """Our finalizer exists exactly while deletion has work to do. True: patched."""
        want = view.lenient.delete_on_removal or view.lenient.registers_webhook
        patch = finalizer_patch(view.body, FINALIZER, want)
        if patch is None:
            return False
        try:
            written = await self.ctx.writes.patch_metadata(
                view.key, patch, WritePolicy.ONCE, "finalizer"
            )
        except KubeConflict:
            return False  # a newer version is on its way through the watch
        self._took(written)
        return True

    async def suspend(self, view: ResourceView) -> None:
        """Status while spec.suspend is true, written once per generation (R18)."""
        status = view.status
        if status.get("suspended") and status.get("observedGeneration") == view.generation:
            return
        stamp = outcomes.Stamp(generation=view.generation, now=self.ctx.now())
        new_status = outcomes.suspended(status, stamp=stamp, lists=view.lenient.lists)
        written = await self.ctx.writes.replace_status(view.key, new_status, WritePolicy.ONCE)
        text = "spec.suspend is true: syncs stopped"
        self.ctx.event(view.body, "Normal", EventReason.SUSPENDED, text)
        self._took(written)

    def tell_held_sync_now(self, view: ResourceView, decision: Decision) -> None:
        """A sync-now request the worker does not run now gets one Normal Event per value
        (not per wake-up): when it will run (FAIR-6), or that suspension holds it (R18)."""
        value = view.annotation(SYNC_NOW)
        if decision.held_sync_now is None or not value:
            return
        told = (value, decision.held_sync_now)
        if told == self._told:
            return
        self._told = told
        if decision.held_sync_now == "suspended":
            reason, text = EventReason.SYNC_REQUEST_IGNORED, _IGNORED
        else:
            reason, text = EventReason.SYNC_REQUEST_DEFERRED, self._deferred(view, decision)
        self.ctx.event(view.body, "Normal", reason, text)

    def _deferred(self, view: ResourceView, decision: Decision) -> str:
        spacing = self.ctx.settings.sync_now_spacing_seconds
        started, at = view.history.last_started, decision.wake_at
        if started is None or at is None:  # a deferral always has both: the schedule's
            return "sync-now request deferred (FAIR-6)"
        wait = max(0, round((at - self.ctx.now()).total_seconds()))
        return (
            f"sync-now request deferred: a sync started at {rfc3339(started)}, and sync-now "
            f"runs at most once every {spacing:g} s per resource "
            f"(PERSONIO_SYNC_SYNC_NOW_SPACING_SECONDS); it runs at {rfc3339(at)} (in {wait} s)"
        )

    async def acknowledge(self, view: ResourceView) -> None:
        """Any run satisfies a pending sync-now request and uses up a mass-delete consent
        (D-Guard): record their values as handled, until the API server answers, since
        unrecorded the request would run twice."""
        handled = {}
        pairs = ((SYNC_NOW, SYNC_NOW_HANDLED), (ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED))
        for key, done in pairs:
            value = view.annotation(key)
            if value and value != view.annotation(done):
                handled[done] = value
        if not handled:
            return
        patch = annotation_patch(handled)
        policy = WritePolicy.UNTIL_ANSWERED
        self._took(await self.ctx.writes.patch_metadata(view.key, patch, policy, "annotations"))

    async def finalize(self, view: ResourceView, seen: SecretSeen) -> float | None:
        """Remove the webhook, clean up (R19), then let the resource go; a failed clean-up
        is retried with doubling back-off and holds the resource. Returns the next try."""
        if FINALIZER not in view.finalizers:
            return None  # not ours to hold; the DELETED event retires this worker
        await self.calls.on_delete(self.ctx, view, seen)
        try:
            slot = functools.partial(self.slots.slot, Priority.LONG, view.namespace)  # FAIR-7
            await self.calls.clean_up(self.ctx, view, seen, slot=slot)
        except SyncError as exc:
            self.cleanup_failures += 1
            self.ctx.event(
                view.body,
                "Warning",
                EventReason.CLEANUP_FAILED,
                f"{exc.message}; the resource stays until its awork absences are deleted "
                f"(remove the finalizer {FINALIZER} to keep them instead)",
            )
            base = self.ctx.settings.retry_base_seconds
            return min(base * float(2 ** min(self.cleanup_failures, 10)), 3600.0)
        patch = finalizer_patch(view.body, FINALIZER, False)
        if patch is not None:
            with contextlib.suppress(KubeConflict):
                await self.ctx.writes.patch_metadata(view.key, patch, WritePolicy.ONCE, "finalizer")
        return None
