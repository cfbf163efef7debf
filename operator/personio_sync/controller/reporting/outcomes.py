"""`.status` from a run's outcome (R20): pure functions over the CRD's status model.

Built with `personio_sync.resource.status.PersonioSyncStatus`, so whatever comes out
here the API server accepts; a completed run's parts come from report_parts.py. What a
failed run cannot know (users, last run) keeps the previous run's values, so one outage
does not blank the admin's view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from personio_sync.controller.reporting import conditions
from personio_sync.controller.reporting.conditions import Cond
from personio_sync.controller.reporting.report_parts import (
    counts_only,
    failures,
    last_run,
    ownership_conflicts,
    summary,
    user_status,
)
from personio_sync.controller.schedule import history_of
from personio_sync.engine.dates import rfc3339
from personio_sync.engine.report import SyncReport
from personio_sync.errors import SyncError, clip
from personio_sync.reasons import ConditionReason, ConditionType
from personio_sync.resource.status import (
    MAX_CONFLICTS,
    MAX_FAILURES,
    ItemFailure,
    LastEvent,
    LastRun,
    OwnershipConflict,
    PersonioSyncStatus,
    ProgressStatus,
    TargetedSync,
    UserStatus,
    WebhookStatus,
)
from personio_sync.sync.progress import Progress


@dataclass(frozen=True)
class Stamp:
    """Which generation a status describes and when it was written."""

    generation: int | None
    now: datetime


def _previous(model: type[Any], raw: object) -> Any:
    """Carry a previous sub-object over; drop it if it no longer fits the schema."""
    if not isinstance(raw, Mapping):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _previous_ownership(previous: Mapping[str, Any]) -> dict[str, Any]:
    """ownerKey and conflicts describe the last completed run: they stay until the next."""
    items = previous.get("conflicts")
    kept = [_previous(OwnershipConflict, c) for c in (items if isinstance(items, list) else [])]
    key = previous.get("ownerKey")
    return {
        "ownerKey": key if isinstance(key, str) else None,
        "conflicts": [c for c in kept[:MAX_CONFLICTS] if c is not None],
    }


def _between_runs(previous: Mapping[str, Any]) -> dict[str, Any]:
    """What happens between full runs (targeted syncs, webhook events, the registered
    webhook): every status write carries it over."""
    return {
        "lastTargetedSync": _previous(TargetedSync, previous.get("lastTargetedSync")),
        "lastEvent": _previous(LastEvent, previous.get("lastEvent")),
        "webhook": _previous(WebhookStatus, previous.get("webhook")),
    }


def _last_completed_run(previous: Mapping[str, Any]) -> dict[str, Any]:
    """What the last completed run found: a status without a new run keeps it."""
    return {
        "users": _previous(UserStatus, previous.get("users")),
        "lastRun": _previous(LastRun, previous.get("lastRun")),
        "failures": _previous_failures(previous.get("failures")),
        **_previous_ownership(previous),
    }


def _previous_failures(raw: object) -> list[ItemFailure]:
    items = raw if isinstance(raw, list) else []
    kept = [_previous(ItemFailure, item) for item in items[:MAX_FAILURES]]
    return [item for item in kept if item is not None]


def after_report(
    previous: Mapping[str, Any],
    report: SyncReport,
    *,
    stamp: Stamp,
    next_sync: datetime,
    lists: bool = True,
) -> dict[str, Any]:
    """Status after a completed run (with or without item failures).

    `lists=False` (spec.statusDetail Counts) keeps e-mail addresses out of it."""
    decided = conditions.for_report(report, lists=lists)
    status = PersonioSyncStatus(
        observedGeneration=stamp.generation,
        conditions=_conditions(previous, decided, stamp),
        lastSyncTime=stamp.now,
        lastSuccessfulSyncTime=stamp.now,
        nextSyncTime=next_sync,
        message=summary(report),
        users=user_status(report.users),
        lastRun=last_run(report),
        failures=failures(report),
        ownerKey=report.owner or None,
        conflicts=ownership_conflicts(report),
        **_between_runs(previous),
    )
    return dump(status, lists=lists)


def after_error(
    previous: Mapping[str, Any],
    error: SyncError,
    *,
    stamp: Stamp,
    next_sync: datetime | None,
    attempted: bool = True,
    lists: bool = True,
) -> dict[str, Any]:
    """Status after a run that could not run; the last completed run's facts stay.

    `attempted=False` (an invalid spec: nothing was tried) leaves lastSyncTime alone."""
    history = history_of(previous)
    status = PersonioSyncStatus(
        observedGeneration=stamp.generation,
        conditions=_conditions(previous, conditions.for_error(error), stamp),
        lastSyncTime=stamp.now if attempted else history.last_sync,
        lastSuccessfulSyncTime=history.last_success,
        nextSyncTime=next_sync,
        message=clip(f"{error.reason}: {error.message}", 4096),
        **_last_completed_run(previous),
        **_between_runs(previous),
    )
    return dump(status, lists=lists)


def suspended(previous: Mapping[str, Any], *, stamp: Stamp, lists: bool = True) -> dict[str, Any]:
    """Status while spec.suspend is true (R18): no next sync, Ready says why."""
    history = history_of(previous)
    decided = conditions.for_suspended(_condition_list(previous))
    status = PersonioSyncStatus(
        observedGeneration=stamp.generation,
        conditions=_conditions(previous, decided, stamp),
        lastSyncTime=history.last_sync,
        lastSuccessfulSyncTime=history.last_success,
        nextSyncTime=None,
        suspended=True,
        message="suspended: no syncs while spec.suspend is true",
        **_last_completed_run(previous),
        **_between_runs(previous),
    )
    return dump(status, lists=lists)


def syncing(previous: Mapping[str, Any], *, stamp: Stamp) -> dict[str, Any]:
    """Merge patch for run start (KUBE-4): `Synced` says a run is in flight, nothing else moves.

    Synced keeps its status (so lastTransitionTime does not flap every run); only the
    reason and message change. The run's own outcome replaces it; a process that dies
    mid-run leaves it behind, and the next operator re-runs such a resource at once."""
    kept = [conditions.from_dict(c) for c in _condition_list(previous)]
    before = {c.type: c for c in kept} or {c.type: c for c in conditions.pending()}
    synced = ConditionType.SYNCED
    synced_status = before[synced].status if synced in before else "Unknown"
    when = rfc3339(stamp.now)
    text = f"a run started at {when} is in progress"
    mark = Cond(synced, synced_status, ConditionReason.SYNCING, text)
    decided = [c for c in before.values() if c.type != synced] + [mark]
    merged = _conditions(previous, decided, stamp)
    return {"conditions": [c.model_dump(mode="json", exclude_none=True) for c in merged]}


def progress(update: Progress) -> dict[str, Any]:
    """`status.progress` while a long run is in flight (merged into status, not replacing it)."""
    message = "writing absences"
    if update.bottleneck:
        message += f", paced by {update.bottleneck}'s rate limit"
    eta = None if update.eta_seconds is None else round(max(0.0, update.eta_seconds), 1)
    model = ProgressStatus(
        done=max(0, update.done), total=max(0, update.total), etaSeconds=eta, message=message
    )
    return model.model_dump(mode="json", exclude_none=True)


def _condition_list(previous: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = previous.get("conditions")
    return [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []


def _conditions(previous: Mapping[str, Any], decided: list[Cond], stamp: Stamp) -> Any:
    return conditions.merge(
        _condition_list(previous), decided, now=stamp.now, generation=stamp.generation
    )


def with_last_event(status: dict[str, Any], event: LastEvent | None) -> dict[str, Any]:
    """A status to write, with the newest webhook event this process knows of: the run's
    status was built from the resource as it was when the run began."""
    if event is None:
        return status
    kept = _previous(LastEvent, status.get("lastEvent"))
    if kept is not None and kept.time > event.time:
        return status
    return {**status, "lastEvent": event.model_dump(mode="json")}


def dump(status: PersonioSyncStatus, *, lists: bool = True) -> dict[str, Any]:
    shown = status if lists else counts_only(status)
    return shown.model_dump(mode="json", exclude_none=True)
