"""Who holds which absence (D-Owner, D-Settle): this sync, an owner it adopts, or another.

Every personio-sync marker in the workspace is read, not only this owner's: a period
that another owner already holds is a conflict, and nothing is created or changed for
it, so two syncs on one workspace never fight. Absences of adopted owners
(`spec.adoptFrom`, and the key older versions wrote) become this sync's by rewriting
their marker in place.

When two owners both hold a period (their first runs raced: two installations, which
no lock spans), the one whose copy awork created first holds it (`age`: awork's
`createdOn`, then the smaller id). Both sides compute that from the same awork data, so
they agree without talking: the winner goes on as usual, the loser reports the conflict
and deletes its own copies (`Conflicts.settled`), through the normal delete path.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from personio_sync.engine.marker import make_marker, parse_marker, period_id_of
from personio_sync.engine.model import AbsenceBody, AworkAbsence
from personio_sync.engine.report import Conflict
from personio_sync.engine.source import Desired

Age = tuple[datetime, str]
_UNKNOWN = datetime.max.replace(tzinfo=UTC)  # no createdOn: younger than any known one


def age(absence: AworkAbsence) -> Age:
    """Orders copies oldest first: awork's createdOn, then the id (D-Settle, R14)."""
    return (absence.created_on or _UNKNOWN, absence.id)


@dataclass(frozen=True, slots=True)
class Claim:
    """Another owner's hold on a period: its key and the age of its oldest copy."""

    owner: str
    age: Age


@dataclass
class Holdings:
    """The workspace's personio-sync absences, sorted by owner."""

    ours: list[AworkAbsence] = field(default_factory=list)  # adopted ones already re-marked
    adopting: set[str] = field(default_factory=set)  # absence ids whose marker is rewritten
    others: dict[str, Claim] = field(default_factory=dict)  # period id → the oldest other claim


@dataclass
class Conflicts:
    """Periods left to another owner, and this owner's own copies of them to delete."""

    conflicts: list[Conflict] = field(default_factory=list)
    settled: list[AworkAbsence] = field(default_factory=list)


def sort_holdings(
    absences: Sequence[AworkAbsence], owner: str, adopt_from: Collection[str]
) -> Holdings:
    """Markers are checked here, whatever awork's filter let through (D-Owner, R12)."""
    holdings = Holdings()
    for absence in absences:
        parsed = parse_marker(absence.external_provider)
        if parsed is None:
            continue  # hand-made or foreign: hands off (R12)
        key, period_id = parsed
        if key == owner:
            holdings.ours.append(absence)
        elif key in adopt_from:
            remarked = replace(absence, external_provider=make_marker(owner, period_id))
            holdings.ours.append(remarked)
            holdings.adopting.add(absence.id)
        else:
            held = holdings.others.get(period_id)
            if held is None or age(absence) < held.age:
                holdings.others[period_id] = Claim(key, age(absence))
    return holdings


def body_of(absence: AworkAbsence) -> AbsenceBody:
    """An absence as it is, as a write body: adopting it rewrites only its marker."""
    return AbsenceBody(
        user_id=absence.user_id,
        start_on=absence.start_on,
        end_on=absence.end_on,
        is_half_day_on_start=absence.is_half_day_on_start,
        is_half_day_on_end=absence.is_half_day_on_end,
        description=absence.description or "",
        external_provider=absence.external_provider or "",
    )


def set_aside_conflicts(desired: Desired, holdings: Holdings, owner: str) -> Conflicts:
    """Periods another owner holds leave the plan: not created, changed or deleted. Where
    this owner holds one too, the older copy decides (D-Settle): ours older, the period
    stays ours; theirs older, our copies of it are `settled` (to be deleted)."""
    oldest: dict[str, Age] = {}
    for absence in holdings.ours:
        period_id = period_id_of(absence.external_provider, owner)
        if period_id is not None and (period_id not in oldest or age(absence) < oldest[period_id]):
            oldest[period_id] = age(absence)
    mine = desired.bodies.keys() | desired.kept | oldest.keys()
    found = Conflicts()
    for period_id in sorted(holdings.others.keys() & mine):
        claim = holdings.others[period_id]
        if period_id in oldest and oldest[period_id] < claim.age:
            continue  # we hold it longest: the other owner settles it
        found.conflicts.append(Conflict(period_id, desired.emails.get(period_id, ""), claim.owner))
        desired.bodies.pop(period_id, None)
        desired.emails.pop(period_id, None)
        desired.kept.discard(period_id)
    taken = {c.period_id for c in found.conflicts}
    kept: list[AworkAbsence] = []
    for absence in holdings.ours:
        lost = period_id_of(absence.external_provider, owner) in taken
        (found.settled if lost else kept).append(absence)
    holdings.ours = kept
    return found
