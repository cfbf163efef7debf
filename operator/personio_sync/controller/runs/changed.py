"""Personio changes between full syncs, and the runs that serve them (issue 9, NRT).

A webhook or a quick poll produces `Changes`; the resource's worker coalesces them
(loop/change_queue.py) and asks for one targeted sync (`run_changes`) or lists what
changed (`poll`). Both open the vendor clients as a full run does (same fence, pacers,
token cache and request counters) and take credentials from the wake-up's Secret read.
The outcome goes to `status.lastTargetedSync`, the change-to-awork latency histogram and
the counters; never to the full run's fields: conditions, lastRun and the schedule stay
the full sync's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from personio_sync.controller.context import Context
from personio_sync.controller.runs.inputs import SecretSeen, credentials, vendor_clients
from personio_sync.controller.view import ResourceView
from personio_sync.controller.writes import WritePolicy
from personio_sync.engine.marker import keys_to_adopt
from personio_sync.engine.report import SyncReport
from personio_sync.engine.window import today_in
from personio_sync.errors import clip
from personio_sync.resource.spec import PersonioSyncSpec
from personio_sync.resource.spec_policy import policy_of
from personio_sync.resource.status import TargetedSync
from personio_sync.sync.targeted import DirectoryCache, sync_changes

log = logging.getLogger("personio_sync.controller")


@dataclass(frozen=True)
class Changes:
    """What one resource heard of between full syncs: a targeted sync serves the ids, or
    one full sync serves them all when `full` is set (a storm, or an event it cannot
    narrow down)."""

    detected_at: datetime  # the event's occurred_at, or the poll's detection time (UTC)
    source: str  # "webhook", "poll", or "mixed"
    period_ids: frozenset[str] = frozenset()
    person_ids: frozenset[str] = frozenset()
    full: bool = False
    overflowed: bool = False  # full because more ids came than a targeted sync serves

    @property
    def size(self) -> int:
        return len(self.period_ids) + len(self.person_ids)

    def capped(self, cap: int | None) -> Changes:
        """HOOK-12: past `cap` ids the ids are dropped and one full sync serves them all,
        so a flood of distinct ids holds at most `cap` of them per resource."""
        if self.full and not self.size:
            return self
        if self.full or (cap is not None and self.size > cap):
            return Changes(self.detected_at, self.source, full=True,
                           overflowed=self.overflowed or not self.full)  # fmt: skip
        return self


def merge(held: Changes | None, new: Changes, cap: int | None = None) -> Changes:
    """Two batches as one: the earliest detection time counts for the latency. Once full,
    a merge copies no ids (HOOK-12), so it costs the same for every delivery."""
    if held is None:
        return new.capped(cap)
    source = held.source if held.source == new.source else "mixed"
    detected = min(held.detected_at, new.detected_at)
    if held.full or new.full:
        overflowed = held.overflowed or new.overflowed
        return Changes(detected, source, full=True, overflowed=overflowed)
    return Changes(
        detected_at=detected,
        source=source,
        period_ids=held.period_ids | new.period_ids,
        person_ids=held.person_ids | new.person_ids,
    ).capped(cap)


async def run_changes(
    ctx: Context,
    view: ResourceView,
    spec: PersonioSyncSpec,
    seen: SecretSeen,
    changes: Changes,
    directory: DirectoryCache,
) -> SyncReport:
    """One targeted sync; raises whatever stops it (the worker falls back to a full sync),
    TimeoutError included: it has the full run's deadline (FAIR-3)."""
    found = await credentials(ctx, view.namespace, spec.secretRef.name, seen)
    owner = ctx.owner_key(*view.key)
    opened = vendor_clients(ctx, view.key, found)
    async with opened as clients, asyncio.timeout(ctx.settings.run_timeout_seconds):
        report = await sync_changes(
            policy_of(spec),
            clients,
            owner_key=owner,
            period_ids=changes.period_ids,
            person_ids=changes.person_ids,
            directory=directory,
            today=today_in(spec.timeZone, ctx.now()),
            adopt_from=keys_to_adopt(view.namespace, view.name, owner, spec.adoptFrom),
            fence=ctx.fence,
        )
    ended = ctx.now()
    acts = report.actions
    if acts.created + acts.updated + acts.deleted and not report.dry_run:
        latency = max((ended - changes.detected_at).total_seconds(), 0.0)
        ctx.metrics.observe_change_latency(*view.key, changes.source, latency)
    ctx.metrics.observe_targeted(*view.key, "synced")
    log.info(
        "%s/%s: targeted sync (%s, %d periods): created %d, updated %d, deleted %d, failed %d",
        *view.key,
        changes.source,
        changes.size,
        acts.created,
        acts.updated,
        acts.deleted,
        acts.failed,
    )
    await record(ctx, view, changes, "Synced", ended, report)
    return report


async def poll(
    ctx: Context, view: ResourceView, spec: PersonioSyncSpec, seen: SecretSeen, since: datetime
) -> dict[str, str]:
    """id → updated_at of the periods Personio says changed since `since` (NRT-4)."""
    found = await credentials(ctx, view.namespace, spec.secretRef.name, seen)
    async with vendor_clients(ctx, view.key, found) as clients:
        return await clients.personio.list_period_stamps(since)


async def record(
    ctx: Context,
    view: ResourceView,
    changes: Changes,
    outcome: str,
    ended: datetime,
    report: SyncReport | None = None,
) -> None:
    """status.lastTargetedSync; fenced and best effort, like a progress write (KUBE-2)."""
    counts = report.actions if report is not None else None
    entry = TargetedSync(
        time=ended,
        source=changes.source,
        periods=changes.size,
        created=counts.created if counts else 0,
        updated=counts.updated if counts else 0,
        deleted=counts.deleted if counts else 0,
        failed=counts.failed if counts else 0,
        outcome=clip(outcome, 1000),
    )
    patch = {"lastTargetedSync": entry.model_dump(mode="json", exclude_none=True)}
    await ctx.writes.merge_status(view.key, patch, WritePolicy.FENCED, "targeted-sync record")
