"""When to run (R17, R18): pure functions of the resource's persisted state and `now`.

Everything the schedule needs is in the resource itself (status times, generation,
the sync-now annotation and its acknowledgement), so an operator restart neither
skips a due run nor fires a burst: it reads the same facts and reaches the same
answer. The back-off after failures needs no counter of its own: the previous delay
is `nextSyncTime - lastSyncTime`, and the next one doubles it, capped at the interval.
A sync-now request is served at most once per spacing (FAIR-6), measured from the start
of the previous run, which the status also holds (`lastSyncTime` minus the run's
`durationSeconds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

# Why a pending sync-now request is not served by this decision (UX-17): deferred to the
# decision's wake_at (FAIR-6), or held while the resource is suspended (R18).
HeldSyncNow = Literal["deferred", "suspended"]


@dataclass(frozen=True)
class History:
    """The schedule-relevant part of `.status` (None where the operator never wrote it)."""

    last_sync: datetime | None = None
    last_success: datetime | None = None
    next_sync: datetime | None = None
    last_run_seconds: float | None = None  # how long the last completed run took

    @property
    def last_failed(self) -> bool:
        return self.last_sync is not None and self.last_success != self.last_sync

    @property
    def last_started(self) -> datetime | None:
        """When the previous run started: exact after a completed run; after a failed one
        its end, which is never earlier (so a spacing measured from it is never short)."""
        if self.last_sync is None:
            return None
        if self.last_failed or self.last_run_seconds is None or self.last_run_seconds < 0:
            return self.last_sync
        return self.last_sync - timedelta(seconds=self.last_run_seconds)


def history_of(status: Mapping[str, Any]) -> History:
    """The schedule's view of a status as read from the API server."""
    last_run = status.get("lastRun")
    seconds = last_run.get("durationSeconds") if isinstance(last_run, Mapping) else None
    return History(
        last_sync=parse_time(status.get("lastSyncTime")),
        last_success=parse_time(status.get("lastSuccessfulSyncTime")),
        next_sync=parse_time(status.get("nextSyncTime")),
        last_run_seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )


def parse_time(raw: object) -> datetime | None:
    """A status time as written (RFC 3339); None for anything else."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@dataclass(frozen=True)
class Observation:
    """What the worker knows about one resource at one moment."""

    generation: int
    observed_generation: int | None
    history: History
    interval: timedelta | None  # None: the spec is invalid
    suspended: bool
    sync_now: str | None = None  # the annotation's value
    sync_now_handled: str | None = None  # the value last acted upon
    secret_changed: bool = False  # set by the worker's Secret check (SEC-1), in memory
    interrupted: bool = False  # status says a run is in flight, but none is (KUBE-4)
    allow_mass_delete: str | None = None  # D-Guard consent annotation's value
    allow_mass_delete_handled: str | None = None

    @property
    def sync_now_pending(self) -> bool:
        """A sync-now value no run has answered yet (R17)."""
        return bool(self.sync_now) and self.sync_now != self.sync_now_handled

    @property
    def consent_pending(self) -> bool:
        """A new allow-mass-delete value: the next run may delete past the guard, once."""
        return bool(self.allow_mass_delete) and (
            self.allow_mass_delete != self.allow_mass_delete_handled
        )


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    wake_at: datetime | None = None  # None with run=False: only a change can wake it
    held_sync_now: HeldSyncNow | None = None  # a pending sync-now this does not run now


def backoff(history: History, interval: timedelta, base: timedelta) -> timedelta:
    """Delay after a failed run: base, then doubling, never beyond the interval."""
    previous = None
    if history.last_failed and history.last_sync and history.next_sync:
        previous = history.next_sync - history.last_sync
    if previous is None or previous <= timedelta(0) or previous >= interval:
        return min(base, interval)
    return min(previous * 2, interval)


def next_sync_time(
    *, run_end: datetime, failed: bool, before: History, interval: timedelta, base: timedelta
) -> datetime:
    """nextSyncTime to write after a run ending at `run_end`."""
    return run_end + (backoff(before, interval, base) if failed else interval)


def due_time(history: History, interval: timedelta) -> datetime | None:
    """When the next scheduled run is due; None means now (never synced)."""
    if history.last_sync is None:
        return None
    cap = history.last_sync + interval  # an interval shortened since stays binding
    if history.next_sync is None:
        return cap
    return min(history.next_sync, cap)


def sync_now_not_before(history: History, spacing: timedelta) -> datetime | None:
    """The earliest start for a sync-now run (FAIR-6): `spacing` after the previous run
    started. None: at once (no spacing, or never run)."""
    started = history.last_started
    if spacing <= timedelta(0) or started is None:
        return None
    return started + spacing


def decide(
    obs: Observation, now: datetime, *, sync_now_spacing: timedelta = timedelta(0)
) -> Decision:
    """Run now, or sleep until when? Triggers first, then the persisted schedule.

    A sync-now request inside `sync_now_spacing` after the previous run started is kept,
    not dropped: the resource wakes when the spacing is over and runs then (FAIR-6), or
    earlier if the schedule is due first. `held_sync_now` says why a pending request is
    not served now, so the worker can say so (UX-17)."""
    if obs.suspended:  # a sync-now waits: resuming is a spec change, whose run answers it
        return Decision(
            False, "Suspended", held_sync_now="suspended" if obs.sync_now_pending else None
        )
    if obs.interval is None:
        # An invalid spec is reported once per generation; only a spec change helps.
        changed = obs.observed_generation != obs.generation
        return Decision(changed, "InvalidSpec")
    if obs.observed_generation is None:
        return Decision(True, "Created")
    if obs.observed_generation != obs.generation:
        return Decision(True, "SpecChanged")
    deferred = None
    if obs.sync_now_pending:
        deferred = sync_now_not_before(obs.history, sync_now_spacing)
        if deferred is None or deferred <= now:
            return Decision(True, "SyncRequested")
    if obs.consent_pending:
        return Decision(True, "MassDeleteAllowed")
    if obs.secret_changed:
        return Decision(True, "SecretChanged")
    if obs.interrupted:  # its process died mid-run: finish the job, and clear the mark
        return Decision(True, "Interrupted")
    due = due_time(obs.history, obs.interval)
    if due is None:
        return Decision(True, "FirstSync")
    if due <= now:
        return Decision(True, "Retry" if obs.history.last_failed else "Scheduled")
    held: HeldSyncNow | None = None if deferred is None else "deferred"
    if deferred is not None and deferred < due:
        return Decision(False, "SyncRequestSpaced", wake_at=deferred, held_sync_now=held)
    return Decision(False, "Waiting", wake_at=due, held_sync_now=held)  # due serves it
