"""One asyncio task per PersonioSync: sleep until due or woken, then run (R17-R19).

Why not a kopf daemon: kopf puts its finalizer on every resource a daemon serves,
and that finalizer blocks deletion whenever the operator is not running. R19 wants a
finalizer only while `deletionPolicy: Delete`, so the worker is ours; kopf still
delivers every change (handlers.py feeds `observe`). Each resource has its own task,
so a slow tenant never delays another's schedule; `Context.slots` caps how many run
and lets quick runs past long ones (slots.py). With several replicas only the leader's
workers act (controller/leadership.py): the others wait for the Lease, and a leader
that loses it abandons its run at the fence.

An API server or etcd outage is expected weather, not a bug: the Kubernetes client logs
it once, and the worker just looks again a few seconds later, without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from personio_sync.controller import reconcile, registration
from personio_sync.controller import status as status_mod
from personio_sync.controller.changes import Changes
from personio_sync.controller.context import FINALIZER, SYNC_NOW, SYNC_NOW_HANDLED, Context
from personio_sync.controller.kube import (
    RETRY_MAX_SECONDS,
    KubeConflict,
    KubeUnavailable,
    annotation_patch,
    finalizer_patch,
    until_answered,
)
from personio_sync.controller.schedule import Decision, Observation, decide
from personio_sync.controller.slots import priority_of
from personio_sync.errors import LeadershipLost, SyncError
from personio_sync.spec import (
    ALLOW_MASS_DELETE,
    ALLOW_MASS_DELETE_HANDLED,
    SpecError,
    parse_spec,
)

log = logging.getLogger("personio_sync.controller")

MAX_SLEEP = 300.0  # re-check now and then even without events (clock jumps, lost wakes)


def is_newer(candidate: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """False for a body older than the one held (a late watch event after our own patch)."""
    new = str((candidate.get("metadata") or {}).get("resourceVersion", ""))
    old = str((current.get("metadata") or {}).get("resourceVersion", ""))
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True


def observation(body: Mapping[str, Any], *, secret_changed: bool) -> Observation:
    """The schedule's inputs, read from the resource as the API server holds it."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    annotations = meta.get("annotations") or {}
    raw_spec = body.get("spec") or {}
    try:
        interval: timedelta | None = parse_spec(raw_spec).interval_delta
    except SpecError:
        interval = None
    return Observation(
        generation=int(meta.get("generation") or 0),
        observed_generation=status.get("observedGeneration"),
        history=status_mod.history_of(status),
        interval=interval,
        suspended=bool(raw_spec.get("suspend")),
        sync_now=annotations.get(SYNC_NOW),
        sync_now_handled=annotations.get(SYNC_NOW_HANDLED),
        secret_changed=secret_changed,
        interrupted=status_mod.in_progress(status),
        allow_mass_delete=annotations.get(ALLOW_MASS_DELETE),
        allow_mass_delete_handled=annotations.get(ALLOW_MASS_DELETE_HANDLED),
    )


class Worker:
    """Lives as long as the resource; everything it needs to decide is in `body`."""

    def __init__(self, ctx: Context, body: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.namespace, self.name = reconcile.ident(body)
        self.uid = (body.get("metadata") or {}).get("uid")
        self.body: dict[str, Any] = dict(body)
        self.wake = asyncio.Event()
        self.seen = reconcile.SecretSeen()
        self.secret_changed = False
        self.personio_changed = False  # stand-in for issue 9's targeted sync: a full run
        self.cleanup_failures = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name=f"sync {self.namespace}/{self.name}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def observe(self, body: Mapping[str, Any]) -> None:
        if is_newer(body, self.body):
            self.body = dict(body)
            self.wake.set()

    def secret_seen(self, secret_name: str, version: str | None) -> None:
        """The watch saw the referenced Secret (None: deleted). Only a change wakes us."""
        seen = self.seen
        if not seen.known or seen.name != secret_name:
            seen.name, seen.version, seen.known = secret_name, version, True
            return
        if version != seen.version:
            seen.version = version
            self.secret_changed = True
            self.wake.set()

    def note_changes(self, changes: Changes) -> None:
        """Personio reported a change (webhook or poll): one coalesced run soon."""
        self.personio_changed = True
        self.wake.set()

    async def _loop(self) -> None:
        while True:
            self.wake.clear()
            leadership = self.ctx.leadership
            if leadership is not None and not leadership.leading():
                await leadership.wait_leading()  # whatever is due then runs at once
                continue
            try:
                delay = await self._step()
            except LeadershipLost:
                log.warning("%s/%s: run abandoned, the lease was lost", self.namespace, self.name)
                continue
            except KubeUnavailable:  # logged once by the client; look again soon (KUBE-1)
                delay = RETRY_MAX_SECONDS
            except Exception:  # a bug: log it, keep the worker alive
                log.exception("%s/%s: reconcile failed", self.namespace, self.name)
                delay = self.ctx.settings.retry_base_seconds
            delay = MAX_SLEEP if delay is None else min(max(delay, 0.0), MAX_SLEEP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)

    async def _step(self) -> float | None:
        """Do what the resource needs now; returns seconds until it needs something again."""
        meta = self.body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return await self._finalize()
        if await self._align_finalizer():
            return 0.0
        decision = self._decide()
        if decision.reason == "Suspended":
            await self._suspend()
            return None
        if not decision.run:
            if decision.wake_at is None:
                return None
            return (decision.wake_at - self.ctx.now()).total_seconds()
        return await self._run()

    def _decide(self) -> Decision:
        obs = observation(self.body, secret_changed=self.secret_changed)
        decision = decide(obs, self.ctx.now())
        if self.personio_changed and decision.reason in ("Waiting", "Scheduled", "Retry"):
            return Decision(True, "PersonioChanged")
        return decision

    async def _run(self) -> float:
        """Run if still due once a slot is free; returns when to look again."""
        priority = priority_of(self.body.get("status") or {})
        async with self.ctx.slots.slot(priority):
            decision = self._decide()  # the resource may have changed while we queued
            if not decision.run or (self.body.get("metadata") or {}).get("deletionTimestamp"):
                return 0.0
            if not self.ctx.leading():
                return 0.0  # lost the lease while queued: the loop waits for it again
            body = self.body
            log.info("%s/%s: sync started (%s)", self.namespace, self.name, decision.reason)
            self.secret_changed = self.personio_changed = False
            allow = observation(body, secret_changed=False).consent_pending
            self.ctx.metrics.in_progress.inc()
            try:
                written = await reconcile.sync(self.ctx, body, self.seen, allow_mass_delete=allow)
            finally:
                self.ctx.metrics.in_progress.dec()
        if written is not None:
            self.observe(written)
        await registration.after_run(self.ctx, self.body, self.seen)  # spec.webhook (issue 9)
        await self._acknowledge(body)
        return 0.0

    async def _acknowledge(self, body: Mapping[str, Any]) -> None:
        """Any run satisfies a pending sync-now request and uses up a mass-delete consent
        (D-Guard): record their values as handled."""
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        handled = {}
        pairs = ((SYNC_NOW, SYNC_NOW_HANDLED), (ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED))
        for key, done in pairs:
            value = annotations.get(key)
            if value and value != annotations.get(done):
                handled[done] = str(value)
        if not handled:
            return
        patch = annotation_patch(handled)
        written = await until_answered(  # unrecorded, the request would run twice
            lambda: self.ctx.kube.patch_resource(self.namespace, self.name, patch),
            sleep=self.ctx.sleep,
        )
        if written is not None:
            self.observe(written)

    async def _suspend(self) -> None:
        status = self.body.get("status") or {}
        generation = (self.body.get("metadata") or {}).get("generation")
        if status.get("suspended") and status.get("observedGeneration") == generation:
            return
        stamp = status_mod.Stamp(generation=generation, now=self.ctx.now())
        new_status = status_mod.suspended(status, stamp=stamp)
        written = await self.ctx.kube.replace_status(self.namespace, self.name, new_status)
        self.ctx.event(self.body, "Normal", "Suspended", "spec.suspend is true: syncs stopped")
        if written is not None:
            self.observe(written)

    async def _align_finalizer(self) -> bool:
        """Our finalizer exists exactly while deletionPolicy is Delete (R19). True: patched."""
        spec = self.body.get("spec") or {}
        webhook = (spec.get("webhook") or {}).get("register") is True  # removed on deletion
        want = spec.get("deletionPolicy") == "Delete" or webhook
        patch = finalizer_patch(self.body, FINALIZER, want)
        if patch is None:
            return False
        try:
            written = await self.ctx.kube.patch_resource(self.namespace, self.name, patch)
        except KubeConflict:
            return False  # a newer version is on its way through the watch
        if written is not None:
            self.observe(written)
        return True

    async def _finalize(self) -> float | None:
        if FINALIZER not in ((self.body.get("metadata") or {}).get("finalizers") or []):
            return None  # not ours to hold; the DELETED event retires this worker
        await registration.on_delete(self.ctx, self.body, self.seen)
        try:
            await reconcile.clean_up(self.ctx, self.body, self.seen)
        except SyncError as exc:
            self.cleanup_failures += 1
            self.ctx.event(
                self.body,
                "Warning",
                "CleanupFailed",
                f"{exc.message}; the resource stays until its awork absences are deleted "
                f"(remove the finalizer {FINALIZER} to keep them instead)",
            )
            base = self.ctx.settings.retry_base_seconds
            return min(base * float(2 ** min(self.cleanup_failures, 10)), 3600.0)
        patch = finalizer_patch(self.body, FINALIZER, False)
        if patch is not None:
            with contextlib.suppress(KubeConflict):
                await self.ctx.kube.patch_resource(self.namespace, self.name, patch)
        return None
