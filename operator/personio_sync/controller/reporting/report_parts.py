"""The parts of `.status` a completed run's report fills in (R7), and what
`spec.statusDetail: Counts` takes out of a status (D-Privacy).

Lists are cut to the schema's bounds here (counts stay exact) and a note says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from personio_sync.engine.report import SyncReport, UserReport
from personio_sync.errors import clip
from personio_sync.resource.status import (
    MAX_CONFLICTS,
    MAX_FAILURES,
    MAX_LISTED_USERS,
    MAX_PLANNED,
    ItemFailure,
    LastRun,
    OwnershipConflict,
    PersonioSyncStatus,
    PlannedEntry,
    RunWindow,
    UserStatus,
)

CUT_NOTE = f"lists show at most {MAX_LISTED_USERS} entries; counts are exact"
COUNTS_NOTE = "spec.statusDetail is Counts: no e-mail lists, counts are exact"


def _bounded(items: Sequence[str]) -> list[str]:
    return sorted(items)[:MAX_LISTED_USERS]


def user_status(users: UserReport) -> UserStatus:
    """Exact counts, lists cut to the schema's bound with a note when cut (R7)."""
    lists = (
        users.matched,
        users.personio_only,
        users.awork_only,
        users.ambiguous,
        users.without_email,
        users.broken_mappings,
    )
    truncated = any(len(items) > MAX_LISTED_USERS for items in lists)
    return UserStatus(
        matched=len(users.matched),
        personioOnly=len(users.personio_only),
        aworkOnly=len(users.awork_only),
        ambiguous=len(users.ambiguous),
        withoutEmail=len(users.without_email),
        matchedEmails=_bounded(users.matched),
        personioOnlyEmails=_bounded(users.personio_only),
        aworkOnlyEmails=_bounded(users.awork_only),
        ambiguousEmails=_bounded(users.ambiguous),
        withoutEmailIds=_bounded(users.without_email),
        brokenMappings=_bounded(users.broken_mappings),
        truncated=truncated,
        note=CUT_NOTE if truncated else None,
    )


def last_run(report: SyncReport) -> LastRun:
    acts = report.actions
    return LastRun(
        window=RunWindow(from_=report.window.start, to=report.window.end),
        dryRun=report.dry_run,
        created=acts.created,
        updated=acts.updated,
        deleted=acts.deleted,
        unchanged=acts.unchanged,
        skipped=acts.skipped,
        failed=acts.failed,
        heldDeletes=acts.held_deletes,
        conflicts=acts.conflicts,
        skippedReasons=dict(report.skipped_reasons),
        planned=[
            PlannedEntry(
                action=p.action,  # the engine uses the same three words
                personioId=p.personio_id,
                email=p.email,
                start=p.start,
                end=p.end,
                changes=list(p.changes),  # plan.CHANGES, the status model checks them
            )
            for p in (report.planned[:MAX_PLANNED] if report.dry_run else [])
        ],
        durationSeconds=max(0.0, report.duration_seconds),
    )


def ownership_conflicts(report: SyncReport) -> list[OwnershipConflict]:
    return [
        OwnershipConflict(personioId=c.period_id, email=c.email, owner=c.owner)
        for c in report.conflicts[:MAX_CONFLICTS]
    ]


def failures(report: SyncReport) -> list[ItemFailure]:
    return [
        ItemFailure(personioId=f.personio_id, email=f.email, reason=clip(f.reason, 1024))
        for f in report.failures[:MAX_FAILURES]
    ]


def summary(report: SyncReport) -> str:
    """One line without e-mail addresses: it is also the Normal Event's message."""
    users, acts = report.users, report.actions
    # One tense for every verb: a dry run did none of it.
    made, changed, removed = (
        ("would create", "would update", "would delete")
        if report.dry_run
        else ("created", "updated", "deleted")
    )
    text = (
        f"{len(users.matched)} matched, {len(users.personio_only)} only in Personio, "
        f"{len(users.awork_only)} only in awork, {len(users.ambiguous)} ambiguous; "
        f"{made} {acts.created}, {changed} {acts.updated}, {removed} {acts.deleted}, "
        f"failed {acts.failed}"
    )
    return text + (" (dry run)" if report.dry_run else "")


def counts_only(status: PersonioSyncStatus) -> PersonioSyncStatus:
    """spec.statusDetail Counts: every e-mail out, counts and ids stay (R7, issue 7)."""
    users = status.users and status.users.model_copy(
        update={
            "matchedEmails": [],
            "personioOnlyEmails": [],
            "aworkOnlyEmails": [],
            "ambiguousEmails": [],
            "brokenMappings": [],
            "truncated": False,
            "note": COUNTS_NOTE,
        }
    )
    run = status.lastRun and status.lastRun.model_copy(
        update={"planned": [p.model_copy(update={"email": None}) for p in status.lastRun.planned]}
    )
    return status.model_copy(
        update={
            "users": users,
            "lastRun": run,
            "failures": [f.model_copy(update={"email": None}) for f in status.failures],
            "conflicts": [c.model_copy(update={"email": None}) for c in status.conflicts],
        }
    )
