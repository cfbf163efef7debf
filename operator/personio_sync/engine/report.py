"""What a run tells the admin: users on both sides, action counts, item failures (R7, R16, R20)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from personio_sync.engine.model import DateRange

REPORT_VERSION = 2  # of to_json's shape; docs/rules.md UX-8 says what changed


def counted(count: int, one: str, many: str) -> str:
    """`1 person has`, `2 people have`: every count a message gives agrees with its noun
    (UX-14); `one` and `many` carry the words that change with it."""
    return f"{count} {one if count == 1 else many}"


@dataclass
class UserReport:
    """Matching outcome (R7, R8). Lists hold e-mails, sorted; counts are their lengths."""

    matched: list[str] = field(default_factory=list)
    personio_only: list[str] = field(default_factory=list)
    awork_only: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    # Personio person ids whose e-mail the credential could not read.
    without_email: list[str] = field(default_factory=list)
    # userMappings entries that point at nobody, as "personioEmail -> aworkEmail".
    broken_mappings: list[str] = field(default_factory=list)
    # userMappings entries onto an awork user another person also matches: both people
    # become ambiguous (R7), as "personioEmail -> aworkEmail".
    colliding_mappings: list[str] = field(default_factory=list)


@dataclass
class ActionCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    held_deletes: int = 0  # D-Guard: deletions waiting for consent
    conflicts: int = 0  # D-Owner: periods another owner holds


@dataclass(frozen=True, slots=True)
class HeldDeletes:
    """Deletions held back for consent (D-Guard), with the numbers to judge them by."""

    count: int
    owned_in_window: int
    limit: int
    source_empty: bool


@dataclass(frozen=True, slots=True)
class Conflict:
    """A period another owner already holds: nothing was written for it (D-Owner)."""

    period_id: str
    email: str
    owner: str  # the other owner's key


@dataclass(frozen=True)
class Failure:
    personio_id: str
    email: str
    reason: str


@dataclass(frozen=True)
class PlannedAction:
    """One line of a dry run's sample: what would happen, to whom, when; for an update,
    which fields would change (plan.CHANGES: start, end, halfDayOnStart, ...)."""

    action: str  # create | update | delete
    personio_id: str
    email: str
    start: str
    end: str
    changes: tuple[str, ...] = ()


@dataclass
class SyncReport:
    window: DateRange
    dry_run: bool
    users: UserReport
    actions: ActionCounts = field(default_factory=ActionCounts)
    failures: list[Failure] = field(default_factory=list)
    planned: list[PlannedAction] = field(default_factory=list)
    # Why periods were skipped, e.g. {"hourly": 3, "unmatchedUser": 12}.
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    held: HeldDeletes | None = None  # D-Guard: set when deletions were held back
    owner: str = ""  # this run's owner key (D-Owner)
    conflicts: list[Conflict] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The CLI's `--output json` shape (issue #2). Version 2 (UX-8): every group of
        users is a count under its name and its e-mails under `<name>Emails`, as in
        `.status.users`; version 1 had lists under personioOnly, aworkOnly, ambiguous."""
        users = self.users
        groups = {"matched": users.matched, "personioOnly": users.personio_only,
                  "aworkOnly": users.awork_only, "ambiguous": users.ambiguous}  # fmt: skip
        return {
            "reportVersion": REPORT_VERSION,
            "window": {"from": self.window.start.isoformat(), "to": self.window.end.isoformat()},
            "dryRun": self.dry_run,
            "users": {
                **{name: len(emails) for name, emails in groups.items()},
                **{f"{name}Emails": list(emails) for name, emails in groups.items()},
            },
            "actions": {
                "created": self.actions.created,
                "updated": self.actions.updated,
                "deleted": self.actions.deleted,
                "unchanged": self.actions.unchanged,
                "skipped": self.actions.skipped,
                "failed": self.actions.failed,
                "heldDeletes": self.actions.held_deletes,
                "conflicts": self.actions.conflicts,
            },
            "failures": [
                {"personioId": f.personio_id, "email": f.email, "reason": f.reason}
                for f in self.failures
            ],
            "owner": self.owner,
            "conflicts": [
                {"personioId": c.period_id, "email": c.email, "owner": c.owner}
                for c in self.conflicts
            ],
        }
