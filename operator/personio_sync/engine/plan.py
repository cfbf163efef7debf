"""Converge: the difference between what awork should hold and what this sync owns (R12-R14).

Only absences carrying this sync's marker are ever looked at (R12): the caller
lists them with the marker's prefix, and anything else is filtered out here too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from personio_sync.engine.marker import period_id_of
from personio_sync.engine.model import AbsenceBody, AworkAbsence, DateRange
from personio_sync.engine.ownership import age, body_of
from personio_sync.engine.source import Desired

LEFT_SOURCE = "left source"
DUPLICATE = "duplicate"
SETTLED = "settled"  # another owner's older copy holds the period (D-Settle)


@dataclass(frozen=True, slots=True)
class Create:
    period_id: str
    body: AbsenceBody
    email: str


@dataclass(frozen=True, slots=True)
class Update:
    absence_id: str
    period_id: str
    body: AbsenceBody
    email: str
    changes: tuple[str, ...] = ()  # what differs from awork now (CHANGES), for dry runs


# What an update may change, in the order reports list them (UX-7).
CHANGES = ("user", "start", "end", "halfDayOnStart", "halfDayOnEnd", "description", "owner")


@dataclass(frozen=True, slots=True)
class Delete:
    absence_id: str
    period_id: str | None
    reason: str  # LEFT_SOURCE | DUPLICATE | SETTLED


@dataclass
class Plan:
    creates: list[Create] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    held: list[Delete] = field(default_factory=list)  # mass deletions awaiting consent
    unchanged: int = 0

    @property
    def writes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def changed_fields(absence: AworkAbsence, body: AbsenceBody) -> tuple[str, ...]:
    """Which of CHANGES writing `body` would change (the marker aside: "owner" is the
    plan's to add, for adopted absences). A half day moves the time of day (awork snaps
    it to the flags), so the date is named only when the date moves."""
    start_flag = absence.is_half_day_on_start != body.is_half_day_on_start
    end_flag = absence.is_half_day_on_end != body.is_half_day_on_end
    differs = {
        "user": absence.user_id != body.user_id,
        "start": absence.start_on.date() != body.start_on.date()
        or (absence.start_on != body.start_on and not start_flag),
        "end": absence.end_on.date() != body.end_on.date()
        or (absence.end_on != body.end_on and not end_flag),
        "halfDayOnStart": start_flag,
        "halfDayOnEnd": end_flag,
        "description": (absence.description or "") != body.description,
    }
    return tuple(name for name in CHANGES if differs.get(name))


def matches(absence: AworkAbsence, body: AbsenceBody) -> bool:
    """Equal in every field the operator writes: user, dates, half-day flags, text (R13)."""
    return not changed_fields(absence, body)


def awork_dates(absence: AworkAbsence) -> DateRange:
    """awork stores UTC instants built from calendar dates: the UTC date part is the date."""
    start: date = absence.start_on.date()
    return DateRange(start, max(start, absence.end_on.date()))


def plan_changes(
    desired: Desired,
    owned: Sequence[AworkAbsence],
    owner: str,
    window: DateRange,
    adopting: Collection[str] = (),
) -> Plan:
    """`adopting`: ids of absences whose marker must be rewritten to ours (D-Owner)."""
    plan = Plan()
    by_period: dict[str, list[AworkAbsence]] = defaultdict(list)
    for absence in owned:
        period_id = period_id_of(absence.external_provider, owner)
        if period_id is not None:  # anything else is not ours: hands off (R12)
            by_period[period_id].append(absence)

    for period_id, body in desired.bodies.items():
        existing = sorted(
            by_period.pop(period_id, []), key=lambda a: (not matches(a, body), age(a))
        )
        email = desired.emails.get(period_id, "")
        if not existing:
            plan.creates.append(Create(period_id, body, email))
            continue
        keep, *extra = existing  # R14: one absence per period, the rest are duplicates
        plan.deletes.extend(Delete(a.id, period_id, DUPLICATE) for a in extra)
        changes = changed_fields(keep, body) + (("owner",) if keep.id in adopting else ())
        if changes:
            plan.updates.append(Update(keep.id, period_id, body, email, changes))
        else:
            plan.unchanged += 1

    for period_id, leftovers in by_period.items():
        keep_one = period_id in desired.kept
        for index, absence in enumerate(sorted(leftovers, key=age)):
            if keep_one and index == 0 and absence.id in adopting:
                plan.updates.append(Update(absence.id, period_id, body_of(absence), "", ("owner",)))
            elif keep_one and index == 0:
                plan.unchanged += 1
            elif keep_one:
                plan.deletes.append(Delete(absence.id, period_id, DUPLICATE))
            elif awork_dates(absence).overlaps(window):  # history outside stays (R13)
                plan.deletes.append(Delete(absence.id, period_id, LEFT_SOURCE))
    return plan


def settle_deletes(settled: Sequence[AworkAbsence], owner: str) -> list[Delete]:
    """This owner's copies of periods another owner holds longer (D-Settle): the period
    keeps that owner's absence, so the deletion guard never holds these back."""
    return [Delete(a.id, period_id_of(a.external_provider, owner), SETTLED) for a in settled]
