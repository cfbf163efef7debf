"""Targeted syncs and quick polls of one resource (issue 9): resource → targeted.py → status.

The worker decides when (worker.py); this module reads the Secret, opens the clients
like a full run does (same fence, pacers and token cache), runs `targeted.sync_changes`
or lists what changed, and records the outcome in `status.lastTargetedSync`, the
change-to-awork latency histogram and the request counters. It never writes the full
run's status fields: conditions, lastRun and the schedule stay the full sync's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from personio_sync.controller.changes import Changes
from personio_sync.controller.context import Context
from personio_sync.controller.runs.full import (
    SecretSeen,
    courtesy_patch,
    ident,
    read_credentials,
    vendor_clients,
)
from personio_sync.engine.marker import keys_to_adopt
from personio_sync.engine.report import SyncReport
from personio_sync.engine.window import today_in
from personio_sync.errors import clip
from personio_sync.resource.spec import PersonioSyncSpec
from personio_sync.resource.spec_policy import policy_of
from personio_sync.resource.status import TargetedSync
from personio_sync.sync.targeted import DirectoryCache, sync_changes

log = logging.getLogger("personio_sync.controller")

# Personio reports updated_at about an hour off for absences entered in its web UI
# (reference, pitfall 7.6): each poll looks back this much further than the last one.
POLL_MARGIN = timedelta(minutes=65)


def merge(held: Changes | None, new: Changes) -> Changes:
    """Two batches as one: the earliest detection time counts for the latency."""
    if held is None:
        return new
    return Changes(
        detected_at=min(held.detected_at, new.detected_at),
        source=held.source if held.source == new.source else "mixed",
        period_ids=held.period_ids | new.period_ids,
        person_ids=held.person_ids | new.person_ids,
        full=held.full or new.full,
    )


@dataclass
class PollState:
    """What the quick poller has seen (in memory; a restart re-syncs an hour's changes)."""

    last_poll: datetime | None = None
    stamps: dict[str, str] = field(default_factory=dict)  # period id → updated_at seen

    def since(self, now: datetime) -> datetime:
        return (self.last_poll or now) - POLL_MARGIN

    def changed(self, now: datetime, listed: Mapping[str, str]) -> frozenset[str]:
        """Periods whose updated_at is new to us; forgets what fell out of the poll's range."""
        fresh = frozenset(pid for pid, stamp in listed.items() if self.stamps.get(pid) != stamp)
        self.stamps = dict(listed)
        self.last_poll = now
        return fresh


async def run_changes(
    ctx: Context,
    body: Mapping[str, Any],
    spec: PersonioSyncSpec,
    seen: SecretSeen,
    changes: Changes,
    directory: DirectoryCache,
) -> SyncReport:
    """One targeted sync; raises whatever stops it (the worker falls back to a full sync),
    TimeoutError included: it has the full run's deadline (FAIR-3)."""
    namespace, name = ident(body)
    credentials = await read_credentials(ctx, namespace, spec.secretRef.name, seen)
    owner = ctx.owner_key(namespace, name)
    opened = vendor_clients(ctx, namespace, name, credentials)
    async with opened as clients, asyncio.timeout(ctx.settings.run_timeout_seconds):
        report = await sync_changes(
            policy_of(spec),
            clients,
            owner_key=owner,
            period_ids=changes.period_ids,
            person_ids=changes.person_ids,
            directory=directory,
            today=today_in(spec.timeZone, ctx.now()),
            adopt_from=keys_to_adopt(namespace, name, owner, spec.adoptFrom),
            fence=ctx.fence,
        )
    ended = ctx.now()
    writes = report.actions.created + report.actions.updated + report.actions.deleted
    if writes and not report.dry_run:
        latency = max((ended - changes.detected_at).total_seconds(), 0.0)
        ctx.metrics.change_latency.labels(namespace, name, changes.source).observe(latency)
    ctx.metrics.targeted_runs.labels(namespace, name, "synced").inc()
    acts = report.actions
    log.info(
        "%s/%s: targeted sync (%s, %d periods): created %d, updated %d, deleted %d, failed %d",
        namespace,
        name,
        changes.source,
        len(changes.period_ids) + len(changes.person_ids),
        acts.created,
        acts.updated,
        acts.deleted,
        acts.failed,
    )
    await record(ctx, body, changes, "Synced", ended, report)
    return report


async def poll(
    ctx: Context, body: Mapping[str, Any], spec: PersonioSyncSpec, seen: SecretSeen, since: datetime
) -> dict[str, str]:
    """id → updated_at of the periods Personio says changed since `since` (NRT-4)."""
    namespace, name = ident(body)
    credentials = await read_credentials(ctx, namespace, spec.secretRef.name, seen)
    async with vendor_clients(ctx, namespace, name, credentials) as clients:
        return await clients.personio.list_period_stamps(since)


async def record(
    ctx: Context,
    body: Mapping[str, Any],
    changes: Changes,
    outcome: str,
    ended: datetime,
    report: SyncReport | None = None,
) -> None:
    """status.lastTargetedSync; best effort, like a progress write (KUBE-2)."""
    counts = report.actions if report is not None else None
    entry = TargetedSync(
        time=ended,
        source=changes.source,
        periods=len(changes.period_ids) + len(changes.person_ids),
        created=counts.created if counts else 0,
        updated=counts.updated if counts else 0,
        deleted=counts.deleted if counts else 0,
        failed=counts.failed if counts else 0,
        outcome=clip(outcome, 1000),
    )
    if ctx.leading():
        patch = {"lastTargetedSync": entry.model_dump(mode="json", exclude_none=True)}
        await courtesy_patch(ctx, body, "targeted-sync record", patch)
