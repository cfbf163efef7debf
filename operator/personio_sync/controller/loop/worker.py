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

The referenced Secret is never watched (SEC-1): the operator may only `get` it. Each
wake-up reads its resourceVersion with one GET, and the worker wakes at least every
PERSONIO_SYNC_SECRET_CHECK_SECONDS (≤ 5 minutes), so a rotation is noticed within that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from personio_sync.clients.kube import (
    RETRY_MAX_SECONDS,
    KubeConflict,
    KubeError,
    KubeUnavailable,
    annotation_patch,
    finalizer_patch,
    until_answered,
)
from personio_sync.controller.changes import Changes
from personio_sync.controller.context import FINALIZER, SYNC_NOW, SYNC_NOW_HANDLED, Context
from personio_sync.controller.loop.slots import Priority, priority_of
from personio_sync.controller.reporting import outcomes as status_mod
from personio_sync.controller.runs import changed as changesync
from personio_sync.controller.runs import full as runs
from personio_sync.controller.schedule import Decision, Observation, decide
from personio_sync.controller.webhooks import registration
from personio_sync.engine.slices import WiderThanTargeted
from personio_sync.errors import LeadershipLost, SyncError
from personio_sync.resource.spec import (
    ALLOW_MASS_DELETE,
    ALLOW_MASS_DELETE_HANDLED,
    PersonioSyncSpec,
    SpecError,
    parse_spec,
)
from personio_sync.sync.targeted import DirectoryCache

log = logging.getLogger("personio_sync.controller")


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
        self.namespace, self.name = runs.ident(body)
        self.uid = (body.get("metadata") or {}).get("uid")
        self.body: dict[str, Any] = dict(body)
        self.wake = asyncio.Event()
        self.seen = runs.SecretSeen()
        self.secret_changed = False
        self.cleanup_failures = 0
        self.task: asyncio.Task[None] | None = None
        # Between full runs (issue 9): changes waiting for a targeted sync, when their
        # debounce ends, a full sync they asked for, and the quick poller's memory.
        self.pending: Changes | None = None
        self.pending_due: datetime | None = None
        self.full_requested = False
        self.directory = DirectoryCache()
        self.polls = changesync.PollState()
        self.next_poll: datetime | None = None

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

    def note_changes(self, changes: Changes) -> None:
        """Personio changes a webhook or a poll reported: gathered for a short debounce,
        then served by one targeted sync (or a full one). Never blocks."""
        self.pending = changesync.merge(self.pending, changes)
        if self.pending_due is None:
            debounce = timedelta(seconds=self.ctx.settings.change_debounce_seconds)
            self.pending_due = self.ctx.now() + debounce
        self.wake.set()

    def secret_seen(self, secret_name: str, version: str | None) -> None:
        """The referenced Secret's version as just read (None: missing). Only a change
        after the first sighting counts, so a restart fires no burst of runs."""
        seen = self.seen
        if not seen.known or seen.name != secret_name:
            seen.name, seen.version, seen.known = secret_name, version, True
            return
        if version != seen.version:
            seen.version = version
            self.secret_changed = True
            self.directory.forget()  # other credentials may read another company
            self.wake.set()

    async def _loop(self) -> None:
        while True:
            self.wake.clear()
            leadership = self.ctx.leadership
            if leadership is not None and not leadership.leading():
                await leadership.wait_leading()  # whatever is due then runs at once
                continue
            try:
                await self._check_secret()
                delay = await self._step()
            except LeadershipLost:
                log.warning("%s/%s: run abandoned, the lease was lost", self.namespace, self.name)
                continue
            except KubeUnavailable:  # logged once by the client; look again soon (KUBE-1)
                delay = RETRY_MAX_SECONDS
            except Exception:  # a bug: log it, keep the worker alive
                log.exception("%s/%s: reconcile failed", self.namespace, self.name)
                delay = self.ctx.settings.retry_base_seconds
            # SEC-1: wake at least this often, for the Secret check (and clock jumps).
            cap = self.ctx.settings.secret_check_seconds
            delay = cap if delay is None else min(max(delay, 0.0), cap)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)

    async def _check_secret(self) -> None:
        """SEC-1: one GET of the referenced Secret; a new resourceVersion means a run
        (reason SecretChanged). Unreadable now: the next run reports why."""
        meta = self.body.get("metadata") or {}
        name = ((self.body.get("spec") or {}).get("secretRef") or {}).get("name")
        if not name or meta.get("deletionTimestamp"):
            return
        try:
            secret = await self.ctx.kube.get_secret(self.namespace, str(name))
        except KubeError:  # includes KubeUnavailable, already logged once by the client
            return
        version = None if secret is None else (secret.get("metadata") or {}).get("resourceVersion")
        self.secret_seen(str(name), None if version is None else str(version))

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
        if not decision.run and self.full_requested:
            return await self._run(forced=True)
        if not decision.run:
            quick = await self._between_full_runs()
            if decision.wake_at is None:
                return quick
            due = (decision.wake_at - self.ctx.now()).total_seconds()
            return due if quick is None else min(due, quick)
        return await self._run()

    def _decide(self) -> Decision:
        obs = observation(self.body, secret_changed=self.secret_changed)
        spacing = timedelta(seconds=self.ctx.settings.sync_now_spacing_seconds)
        return decide(obs, self.ctx.now(), sync_now_spacing=spacing)  # FAIR-6

    async def _run(self, forced: bool = False) -> float:
        """Run if still due once a slot is free; returns when to look again. `forced`: a
        full sync that pending changes asked for (NRT-3), due or not."""
        priority = priority_of(self.body.get("status") or {})
        async with self.ctx.slots.slot(priority, self.namespace):  # FAIR-2, FAIR-5
            decision = self._decide()  # the resource may have changed while we queued
            due = decision.run or (forced and self.full_requested)
            if not due or (self.body.get("metadata") or {}).get("deletionTimestamp"):
                return 0.0
            if not self.ctx.leading():
                return 0.0  # lost the lease while queued: the loop waits for it again
            body = self.body
            reason = decision.reason if decision.run else "Changes"
            log.info("%s/%s: sync started (%s)", self.namespace, self.name, reason)
            self.secret_changed = False
            # A full run covers every change noted so far; later ones stay pending.
            self.full_requested, self.pending, self.pending_due = False, None, None
            allow = observation(body, secret_changed=False).consent_pending
            self.ctx.metrics.in_progress.inc()
            try:
                written = await runs.sync(self.ctx, body, self.seen, allow_mass_delete=allow)
            finally:
                self.ctx.metrics.in_progress.dec()
        if written is not None:
            self.observe(written)
        await registration.after_run(self.ctx, self.body, self.seen)  # spec.webhook (issue 9)
        await self._acknowledge(body)
        return 0.0

    # --- between full runs: quick polls and targeted syncs (issue 9) --------------------

    async def _between_full_runs(self) -> float | None:
        """Poll when due and serve pending changes; returns seconds until either is due."""
        try:
            spec = parse_spec(self.body.get("spec") or {})
        except SpecError:
            return None  # the full run reports it
        if not self.ctx.leading():
            return None
        floor = timedelta(seconds=self.ctx.settings.min_quick_interval_seconds)
        interval = spec.quick_interval_delta(floor)
        now = self.ctx.now()
        if interval is None:
            self.next_poll = None
        elif self.next_poll is None or now >= self.next_poll:
            await self._poll(spec, now)
            self.next_poll = now + interval
        if self.pending_due is not None and self.ctx.now() >= self.pending_due:
            await self._serve_changes(spec)
            return 0.0  # look again at once: a fallback or new changes may be waiting
        waits = [
            (moment - self.ctx.now()).total_seconds()
            for moment in (self.next_poll, self.pending_due)
            if moment is not None
        ]
        return min(waits) if waits else None

    async def _poll(self, spec: PersonioSyncSpec, now: datetime) -> None:
        """Quick polling (NRT-4): periods whose updated_at is new become pending changes."""
        since = self.polls.since(now)
        try:
            listed = await changesync.poll(self.ctx, self.body, spec, self.seen, since)
        except LeadershipLost:
            raise
        except Exception as exc:  # the next poll or the full sync catches up
            log.warning("%s/%s: quick poll failed: %s", self.namespace, self.name, _why(exc))
            return
        changed = self.polls.changed(now, listed)
        if changed:
            self.note_changes(Changes(detected_at=now, source="poll", period_ids=changed))

    async def _serve_changes(self, spec: PersonioSyncSpec) -> None:
        """One targeted sync for everything pending, or a full sync instead (NRT-3)."""
        changes, self.pending, self.pending_due = self.pending, None, None
        if changes is None:
            return
        size = len(changes.period_ids) + len(changes.person_ids)
        limit = self.ctx.settings.change_full_threshold
        if changes.full or size > limit:
            why = "a change Personio did not narrow down" if changes.full else f"{size} changes"
            await self._fall_back(changes, f"{why}: one full sync serves them")
            return
        if size == 0:
            return
        failure: str | None = None
        async with self.ctx.slots.slot(Priority.QUICK):
            if not self.ctx.leading():
                self.pending = changesync.merge(self.pending, changes)
                self.pending_due = self.ctx.now()
                return
            try:
                await changesync.run_changes(
                    self.ctx, self.body, spec, self.seen, changes, self.directory
                )
            except LeadershipLost:
                raise
            except Exception as exc:
                failure = _why(exc)
        if failure is not None:
            log.warning(
                "%s/%s: targeted sync failed (%s); a full sync follows",
                self.namespace,
                self.name,
                failure,
            )
            self.ctx.metrics.targeted_runs.labels(self.namespace, self.name, "failed").inc()
            await self._fall_back(changes, f"targeted sync failed: {failure}", count=False)

    async def _fall_back(self, changes: Changes, why: str, *, count: bool = True) -> None:
        self.full_requested = True
        if count:
            self.ctx.metrics.targeted_runs.labels(self.namespace, self.name, "full_sync").inc()
        await changesync.record(self.ctx, self.body, changes, f"FullSync: {why}", self.ctx.now())

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
        new_status = status_mod.suspended(status, stamp=stamp, lists=runs.shows_lists(self.body))
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
            await runs.clean_up(self.ctx, self.body, self.seen)
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


def _why(exc: Exception) -> str:
    """What a log line may say of a failure: a SyncError's message (never a secret, R21),
    otherwise only the exception's type, since its text might quote a payload."""
    if isinstance(exc, SyncError):
        return exc.message
    if isinstance(exc, WiderThanTargeted):
        return str(exc)
    return type(exc).__name__
