"""Who holds which absence (D-Owner): this sync, an owner it adopts, or another sync.

Every personio-sync marker in the workspace is read, not only this owner's: a period
that another owner already holds is a conflict, and nothing is created, changed or
deleted for it, so two syncs on one workspace never duplicate and never fight.
Absences of adopted owners (`spec.adoptFrom`, and the key older versions wrote) become
this sync's by rewriting their marker in place.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from personio_sync.engine.marker import make_marker, parse_marker, period_id_of
from personio_sync.engine.model import AbsenceBody, AworkAbsence
from personio_sync.engine.report import Conflict
from personio_sync.engine.source import Desired


@dataclass
class Holdings:
    """The workspace's personio-sync absences, sorted by owner."""

    ours: list[AworkAbsence] = field(default_factory=list)  # adopted ones already re-marked
    adopting: set[str] = field(default_factory=set)  # absence ids whose marker is rewritten
    others: dict[str, str] = field(default_factory=dict)  # period id → another owner's key


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
            holdings.others.setdefault(period_id, key)
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


def set_aside_conflicts(desired: Desired, holdings: Holdings, owner: str) -> list[Conflict]:
    """Periods another owner holds leave the plan: not created, changed or deleted."""
    ours = {period_id_of(a.external_provider, owner) for a in holdings.ours}
    mine = desired.bodies.keys() | desired.kept | ours
    conflicts = []
    for period_id in sorted(holdings.others.keys() & mine):
        conflicts.append(
            Conflict(period_id, desired.emails.get(period_id, ""), holdings.others[period_id])
        )
        desired.bodies.pop(period_id, None)
        desired.emails.pop(period_id, None)
        desired.kept.discard(period_id)
    taken = {c.period_id for c in conflicts}
    holdings.ours = [
        a for a in holdings.ours if period_id_of(a.external_provider, owner) not in taken
    ]
    return conflicts
