"""The engine's one entry point: both systems' data and `today` in, a plan and a report out.

Pure: the runner fetches, calls this, then applies the plan. Tests call it directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from personio_sync.engine.guard import DeletionGuard, hold_mass_deletions, owned_in_window
from personio_sync.engine.matching import Matching, match_users
from personio_sync.engine.model import AbsencePeriod, AbsenceType, AworkAbsence, AworkUser, Person
from personio_sync.engine.ownership import set_aside_conflicts, sort_holdings
from personio_sync.engine.plan import Plan, plan_changes, settle_deletes
from personio_sync.engine.policy import SyncPolicy
from personio_sync.engine.report import PlannedAction, SyncReport, counted
from personio_sync.engine.source import Desired, SourcePolicy, desired_absences
from personio_sync.engine.window import sync_window
from personio_sync.errors import ConfigError, PersonioDataIncomplete

SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Snapshot:
    """Everything read from Personio and awork for one run."""

    persons: Sequence[Person]
    types: Sequence[AbsenceType]
    periods: Sequence[AbsencePeriod]
    users: Sequence[AworkUser]
    owned: Sequence[AworkAbsence]


@dataclass
class Outcome:
    plan: Plan
    matching: Matching
    desired: Desired
    report: SyncReport


def check_type_filters(source: SourcePolicy, types: Sequence[AbsenceType]) -> None:
    """A misspelt type in `include` would select nothing and delete every owned absence:
    refuse to plan instead, naming the entry (R23: bad input changes nothing)."""
    known = {t.id.casefold() for t in types} | {t.name.casefold() for t in types}
    for field, entries in (
        ("include", source.include_types),
        ("exclude", source.exclude_types),
    ):
        unknown = [e for e in entries if e.casefold() not in known]
        if unknown:
            names = ", ".join(sorted(t.name for t in types)) or "none"
            raise ConfigError(
                f"spec.absenceTypes.{field}: {', '.join(map(repr, unknown))} matches no "
                f"Personio absence type (known: {names})"
            )


def check_complete(snapshot: Snapshot) -> None:
    """Periods without a single absence type cannot be a whole answer (D-Guard): refuse
    to plan rather than rewrite every description to a guess."""
    if snapshot.periods and not snapshot.types:
        raise PersonioDataIncomplete(
            f"Personio listed {counted(len(snapshot.periods), 'absence period', 'absence periods')}"
            " but no absence types; "
            "nothing was changed (the next run tries again)"
        )


def reconcile(
    policy: SyncPolicy,
    snapshot: Snapshot,
    *,
    today: date,
    owner: str,
    allow_mass_delete: bool = False,
    adopt_from: Collection[str] = (),
) -> Outcome:
    """`adopt_from`: owner keys whose absences become this owner's (D-Owner)."""
    check_complete(snapshot)
    check_type_filters(policy.source, snapshot.types)
    window = sync_window(today, policy.past_days, policy.future_days)
    matching = match_users(snapshot.persons, snapshot.users, list(policy.overrides))
    types = {t.id: t for t in snapshot.types}
    desired = desired_absences(snapshot.periods, types, matching, window, owner, policy.source)
    holdings = sort_holdings(snapshot.owned, owner, adopt_from)
    found = set_aside_conflicts(desired, holdings, owner)
    conflicts = found.conflicts
    plan = plan_changes(desired, holdings.ours, owner, window, holdings.adopting)
    plan.deletes[:0] = settle_deletes(found.settled, owner)
    guard = DeletionGuard(policy.max_delete_percent, allow_mass_delete)
    owned = owned_in_window(holdings.ours, owner, window)
    held = hold_mass_deletions(plan, owned=owned, source_empty=not snapshot.periods, guard=guard)
    report = SyncReport(window=window, dry_run=policy.dry_run, users=matching.report, held=held)
    report.actions.held_deletes = len(plan.held)
    report.owner = owner
    report.conflicts = conflicts
    report.actions.conflicts = len(conflicts)
    report.actions.unchanged = plan.unchanged
    report.actions.skipped = sum(desired.skipped.values())
    report.skipped_reasons = dict(desired.skipped)
    report.planned = sample(plan)
    if policy.dry_run:  # nothing gets applied, so the plan's counts are the report's (R16)
        report.actions.created = len(plan.creates)
        report.actions.updated = len(plan.updates)
        report.actions.deleted = len(plan.deletes)
    return Outcome(plan, matching, desired, report)


def sample(plan: Plan, size: int = SAMPLE_SIZE) -> list[PlannedAction]:
    """A bounded preview of the plan, for dry runs (R16)."""
    rows = [
        PlannedAction("create", c.period_id, c.email, _d(c.body.start_on), _d(c.body.end_on))
        for c in plan.creates
    ]
    rows += [
        PlannedAction(
            "update", u.period_id, u.email, _d(u.body.start_on), _d(u.body.end_on), u.changes
        )
        for u in plan.updates
    ]
    rows += [PlannedAction("delete", d.period_id or "", "", "", "") for d in plan.deletes]
    return rows[:size]


def _d(moment: object) -> str:
    return str(moment).replace("+00:00", "Z").replace(" ", "T")
