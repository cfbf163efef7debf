"""A worker's Personio changes between full runs (issue 9, NRT-3, NRT-4).

Webhooks and quick polls note changes here; they are gathered for a short debounce,
then served by one targeted sync, or by one full sync when they are too many, cannot be
narrowed down, or the targeted sync failed (`full_requested`, which the worker honours
at its next step). Quick polls run here too: a period whose `updated_at` is new becomes
a pending change, once per stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from personio_sync.controller.context import Context
from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.slots import FairSlots, Priority
from personio_sync.controller.runs.changed import Changes, merge, record
from personio_sync.controller.runs.inputs import SecretSeen
from personio_sync.controller.view import ResourceView
from personio_sync.errors import LeadershipLost, SyncError, WiderThanTargeted
from personio_sync.resource.spec import PersonioSyncSpec
from personio_sync.sync.targeted import DirectoryCache

log = logging.getLogger("personio_sync.controller")

# Personio reports updated_at about an hour off for absences entered in its web UI
# (reference, pitfall 7.6): each poll looks back this much further than the last one.
POLL_MARGIN = timedelta(minutes=65)


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


class ChangeQueue:
    """Pending changes, when their debounce ends, a full sync they asked for, the quick
    poller's memory and the directory targeted syncs share."""

    def __init__(
        self,
        ctx: Context,
        slots: FairSlots,
        calls: Collaborators,
        wake: Callable[[], None],
    ) -> None:
        self.ctx, self.slots, self.calls, self._wake = ctx, slots, calls, wake
        self.pending: Changes | None = None
        self.pending_due: datetime | None = None
        self.full_requested = False
        self.directory = DirectoryCache()
        self.polls = PollState()
        self.next_poll: datetime | None = None

    def note(self, changes: Changes) -> None:
        """Gather for a short debounce; never blocks, and holds at most the threshold's
        ids (HOOK-12): past it, one full sync serves them all."""
        self.pending = merge(self.pending, changes, self.ctx.settings.change_full_threshold)
        if self.pending_due is None:
            debounce = timedelta(seconds=self.ctx.settings.change_debounce_seconds)
            self.pending_due = self.ctx.now() + debounce
        self._wake()

    def covered_by_full_run(self) -> None:
        """A full run starts: it covers every change noted so far; later ones stay pending."""
        self.full_requested, self.pending, self.pending_due = False, None, None

    async def between_full_runs(self, view: ResourceView, seen: SecretSeen) -> float | None:
        """Poll when due and serve pending changes; returns seconds until either is due."""
        spec = view.spec
        if spec is None or not self.ctx.holds(view.key):
            return None  # the full run reports an invalid spec; a standby waits
        floor = timedelta(seconds=self.ctx.settings.min_quick_interval_seconds)
        interval = spec.quick_interval_delta(floor)
        now = self.ctx.now()
        if interval is None:
            self.next_poll = None
        elif self.next_poll is None or now >= self.next_poll:
            await self._poll(view, spec, seen, now)
            self.next_poll = self.ctx.now() + interval  # from its end: it may have queued
        if self.pending_due is not None and self.ctx.now() >= self.pending_due:
            await self._serve(view, spec, seen)
            return 0.0  # look again at once: a fallback or new changes may be waiting
        waits = [
            (moment - self.ctx.now()).total_seconds()
            for moment in (self.next_poll, self.pending_due)
            if moment is not None
        ]
        return min(waits) if waits else None

    async def _poll(
        self, view: ResourceView, spec: PersonioSyncSpec, seen: SecretSeen, now: datetime
    ) -> None:
        """Quick polling (NRT-4): periods whose updated_at is new become pending changes."""
        try:
            async with self.slots.slot(Priority.QUICK, view.namespace):  # FAIR-7
                if not self.ctx.holds(view.key):
                    return  # lost the lease while queued: the next leader polls
                listed = await self.calls.poll(self.ctx, view, spec, seen, self.polls.since(now))
        except LeadershipLost:
            raise
        except Exception as exc:  # the next poll or the full sync catches up
            log.warning("%s/%s: quick poll failed: %s", *view.key, _why(exc))
            return
        changed = self.polls.changed(now, listed)
        if changed:
            self.note(Changes(detected_at=now, source="poll", period_ids=changed))

    async def _serve(self, view: ResourceView, spec: PersonioSyncSpec, seen: SecretSeen) -> None:
        """One targeted sync for everything pending, or a full sync instead (NRT-3)."""
        changes, self.pending, self.pending_due = self.pending, None, None
        if changes is None:
            return
        limit = self.ctx.settings.change_full_threshold
        if changes.full or changes.size > limit:
            if changes.overflowed:
                why = f"more than {limit} changes"
            elif changes.full:
                why = "a change Personio did not narrow down"
            else:
                why = f"{changes.size} changes"
            await self._fall_back(view, changes, f"{why}: one full sync serves them")
            return
        if changes.size == 0:
            return
        failure: str | None = None
        async with self.slots.slot(Priority.QUICK, view.namespace):  # FAIR-7
            if not self.ctx.holds(view.key):
                self.pending = merge(self.pending, changes, limit)
                self.pending_due = self.ctx.now()
                return
            try:
                await self.calls.targeted(self.ctx, view, spec, seen, changes, self.directory)
            except LeadershipLost:
                raise
            except Exception as exc:
                failure = _why(exc)
        if failure is not None:
            log.warning("%s/%s: targeted sync failed (%s); a full sync follows", *view.key, failure)
            self.ctx.metrics.observe_targeted(*view.key, "failed")
            await self._fall_back(view, changes, f"targeted sync failed: {failure}", count=False)

    async def _fall_back(
        self, view: ResourceView, changes: Changes, why: str, *, count: bool = True
    ) -> None:
        self.full_requested = True
        if count:
            self.ctx.metrics.observe_targeted(*view.key, "full_sync")
        await record(self.ctx, view, changes, f"FullSync: {why}", self.ctx.now())


def _why(exc: Exception) -> str:
    """What a log line may say of a failure: a SyncError's message (never a secret, R21),
    otherwise only the exception's type, since its text might quote a payload."""
    if isinstance(exc, SyncError):
        return exc.message
    if isinstance(exc, WiderThanTargeted):
        return str(exc)
    return type(exc).__name__
