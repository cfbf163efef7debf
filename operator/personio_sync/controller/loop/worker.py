"""One asyncio task per PersonioSync: sleep until due or woken, then run (R17-R19).

Why not a kopf daemon: kopf puts its finalizer on every resource a daemon serves,
and that finalizer blocks deletion whenever the operator is not running. R19 wants a
finalizer only while `deletionPolicy: Delete`, so the worker is ours; kopf still
delivers every change (startup/handlers.py feeds `observe`). Each resource has its own
task, so a slow tenant never delays another's schedule; the supervisor's slots cap how
many run and let quick runs past long ones (slots.py). With several replicas a worker
acts only while its replica holds the Lease of the resource's shard (shard_leases.py):
elsewhere it waits for it, and a replica that loses it abandons the run at the fence.

An API server or etcd outage is expected weather, not a bug: the Kubernetes client logs
it once, and the worker just looks again a few seconds later, without a traceback.

The referenced Secret is never watched (SEC-1): the operator may only `get` it. Each
wake-up reads it with one GET, and the worker wakes at least every
PERSONIO_SYNC_SECRET_CHECK_SECONDS (≤ 5 minutes), so a rotation is noticed within that;
the checks are spread and a failed one is retried sooner and reported (secret_checks.py).
That one read also feeds whatever the wake-up runs (runs/inputs.py): a wake-up that
runs a full sync reads the Secret once. The steps a wake-up takes at once after a run
or a write of its own are the same wake-up.

The worker's parts: this loop, its change queue (change_queue.py), its lifecycle
(lifecycle.py); what it runs is injected (collaborators.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from personio_sync.clients.kube import RETRY_MAX_SECONDS
from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED, Context
from personio_sync.controller.loop.change_queue import ChangeQueue
from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.lifecycle import Lifecycle
from personio_sync.controller.loop.secret_checks import SecretChecks
from personio_sync.controller.loop.slots import FairSlots, priority_of
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.runs.inputs import SecretSeen, read_secret
from personio_sync.controller.schedule import (
    Decision,
    Observation,
    decide,
    sync_now_not_before,
)
from personio_sync.controller.shard_leases import ACTING_FOR
from personio_sync.controller.view import ResourceView, is_newer, version_of
from personio_sync.errors import KubeUnavailable, LeadershipLost
from personio_sync.resource.spec import ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED

log = logging.getLogger("personio_sync.controller")


def observation(view: ResourceView, *, secret_changed: bool) -> Observation:
    """The schedule's inputs, read from the resource as the API server holds it."""
    spec = view.spec
    return Observation(
        generation=view.generation or 0,
        observed_generation=view.status.get("observedGeneration"),
        history=view.history,
        interval=None if spec is None else spec.interval_delta,
        suspended=view.lenient.suspend,
        sync_now=view.annotation(SYNC_NOW),
        sync_now_handled=view.annotation(SYNC_NOW_HANDLED),
        secret_changed=secret_changed,
        interrupted=view.interrupted,
        allow_mass_delete=view.annotation(ALLOW_MASS_DELETE),
        allow_mass_delete_handled=view.annotation(ALLOW_MASS_DELETE_HANDLED),
    )


class Worker:
    """Lives as long as the resource; everything it needs to decide is in its view."""

    def __init__(
        self,
        ctx: Context,
        body: Mapping[str, Any],
        *,
        slots: FairSlots,
        calls: Collaborators | None = None,
    ) -> None:
        self.ctx, self.slots = ctx, slots
        self.calls = calls or Collaborators()
        self.view = ResourceView.of(body)
        self.wake = asyncio.Event()
        self.seen = SecretSeen()
        self.checks = SecretChecks(ctx, self.view.namespace, self.view.name)
        self.secret_changed = False
        self.task: asyncio.Task[None] | None = None
        self.changes = ChangeQueue(ctx, slots, self.calls, wake=self.wake.set)
        self.lifecycle = Lifecycle(ctx, slots, self.calls, observe=self.observe)

    @property
    def namespace(self) -> str:
        return self.view.namespace

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def uid(self) -> str | None:
        return self.view.uid

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name=f"sync {self.namespace}/{self.name}")

    def cancel(self) -> None:
        """No further step runs (the loop's next resume raises CancelledError)."""
        if self.task is not None:
            self.task.cancel()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def observe(self, body: Mapping[str, Any]) -> None:
        """A newer body (the watch's, or what a write returned); older ones and the echo of
        our own write are dropped."""
        if is_newer(version_of(body), self.view.resource_version):
            self.view = ResourceView.of(body, previous=self.view)
            self.wake.set()

    def note_changes(self, changes: Changes) -> None:
        """Personio changes a webhook or a poll reported (change_queue.py). Never blocks."""
        self.changes.note(changes)

    async def _loop(self) -> None:
        ACTING_FOR.set(self.view.key)  # this task's writes are fenced by its shard (SHARD-4)
        woken = True  # a wake-up (not a step at once after the last): read the Secret
        while True:
            self.wake.clear()
            leadership = self.ctx.leadership
            if leadership is not None and not leadership.holds(self.view.key):
                await leadership.wait_holding(self.view.key)  # what is due then runs at once
                woken = True
                continue
            try:
                if woken or not self._read_usable():
                    await self._check_secret()
                delay = await self._step()
            except LeadershipLost:
                log.warning("%s/%s: run abandoned, the lease was lost", self.namespace, self.name)
                woken = True
                continue
            except KubeUnavailable:  # logged once by the client; look again soon (KUBE-1)
                delay = RETRY_MAX_SECONDS
            except Exception:  # a bug: log it, keep the worker alive
                log.exception("%s/%s: reconcile failed", self.namespace, self.name)
                delay = self.ctx.settings.retry_base_seconds
            # SEC-1: wake at least this often, for the Secret check (and clock jumps);
            # spread, and sooner after a failed check (SCALE-2).
            cap = self.checks.within()
            delay = cap if delay is None else min(max(delay, 0.0), cap)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=delay)
            woken = delay > 0

    def _busy(self) -> contextlib.AbstractContextManager[None]:
        leadership = self.ctx.leadership
        return contextlib.nullcontext() if leadership is None else leadership.busy(self.view.key)

    def _read_usable(self) -> bool:
        """The wake-up's read still serves: it succeeded, for the Secret the spec names."""
        read = self.seen.current
        return (
            read is not None
            and read.failure is None
            and (read.name == self.view.lenient.secret_name)
        )

    async def _check_secret(self) -> None:
        """SEC-1: one GET of the referenced Secret; a new resourceVersion means a run
        (reason SecretChanged). Unreadable now: the run reports why."""
        name = self.view.lenient.secret_name
        if not name:
            self.seen.current = None
            return
        read = await read_secret(self.ctx, self.namespace, name)
        self.checks.record(read)  # SCALE-2: a failed check is counted and logged
        if self.seen.saw(read):
            self.secret_changed = True
            self.changes.directory.forget()  # other credentials may read another company

    async def _step(self) -> float | None:
        """Do what the resource needs now; returns seconds until it needs something again."""
        view = self.view
        if view.deleting:
            return await self.lifecycle.finalize(view, self.seen)
        if await self.lifecycle.align_finalizer(view):
            return 0.0
        decision = self._decide()
        if decision.reason == "Suspended":
            await self.lifecycle.suspend(view)
            self.lifecycle.tell_held_sync_now(view, decision)  # UX-17
            return None
        if not decision.run and self.changes.full_requested:
            spaced = self._forced_full_spaced(decision)
            return await self._run(forced=True) if spaced is None else spaced
        if not decision.run:
            self.lifecycle.tell_held_sync_now(view, decision)  # UX-17: FAIR-6 deferred it
            quick = await self.changes.between_full_runs(view, self.seen)
            if decision.wake_at is None:
                return quick
            due = (decision.wake_at - self.ctx.now()).total_seconds()
            return due if quick is None else min(due, quick)
        return await self._run()

    def _forced_full_spaced(self, decision: Decision) -> float | None:
        """HOOK-13: a full sync that changes asked for (too many ids, a failed targeted
        sync) waits out the FAIR-6 spacing after the previous run started, so a flood
        cannot run full syncs back to back; None: it may run now."""
        spacing = timedelta(seconds=self.ctx.settings.sync_now_spacing_seconds)
        not_before = sync_now_not_before(self.view.history, spacing)
        now = self.ctx.now()
        if not_before is None or not_before <= now:
            return None
        waits = [not_before] if decision.wake_at is None else [not_before, decision.wake_at]
        return (min(waits) - now).total_seconds()

    def _decide(self) -> Decision:
        obs = observation(self.view, secret_changed=self.secret_changed)
        spacing = timedelta(seconds=self.ctx.settings.sync_now_spacing_seconds)
        return decide(obs, self.ctx.now(), sync_now_spacing=spacing)  # FAIR-6

    async def _run(self, forced: bool = False) -> float:
        """Run if still due once a slot is free; returns when to look again. `forced`: a
        full sync that pending changes asked for (NRT-3), due or not."""
        priority = priority_of(self.view.status)
        with contextlib.ExitStack() as busy:  # the run and what answers it (SHARD-5)
            async with self.slots.slot(priority, self.namespace):  # FAIR-2, FAIR-5
                decision = self._decide()  # the resource may have changed while we queued
                due = decision.run or (forced and self.changes.full_requested)
                if not due or self.view.deleting:
                    return 0.0
                if not self.ctx.holds(self.view.key):
                    return 0.0  # lost the shard while queued: the loop waits for it again
                busy.enter_context(self._busy())  # its shard is handed over after this
                view = self.view
                reason = decision.reason if decision.run else "Changes"
                log.info("%s/%s: sync started (%s)", self.namespace, self.name, reason)
                self.secret_changed = False
                self.changes.covered_by_full_run()
                allow = observation(view, secret_changed=False).consent_pending
                self.ctx.metrics.in_progress.inc()
                try:
                    written = await self.calls.full(
                        self.ctx, view, self.seen, allow_mass_delete=allow
                    )
                finally:
                    self.ctx.metrics.in_progress.dec()
            if written is not None:
                self.observe(written)
            await self.calls.after_run(self.ctx, self.view, self.seen)  # spec.webhook (HOOK-7)
            await self.lifecycle.acknowledge(view)  # a sync-now answered by the same holder
        return 0.0
