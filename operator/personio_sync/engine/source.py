"""Which Personio periods count, and what each should look like in awork (R1, R2, R4, R5, R9).

Holidays never enter here: the Personio client does not read them (R5).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from personio_sync.engine.absence import absence_body
from personio_sync.engine.dates import is_hourly, period_days
from personio_sync.engine.marker import MAX_LENGTH, make_marker, owner_prefix
from personio_sync.engine.matching import Matching
from personio_sync.engine.model import (
    AbsenceBody,
    AbsencePeriod,
    AbsenceType,
    ApprovalStatus,
    DateRange,
)


@dataclass(frozen=True)
class SourcePolicy:
    """The spec fields that shape the source set, in engine terms."""

    include_pending: bool = False
    include_types: tuple[str, ...] = ()
    exclude_types: tuple[str, ...] = ()
    hourly_as_full_day: bool = False
    generic_text: str | None = None  # set when description mode is Generic


@dataclass
class Desired:
    """period id → what awork should hold; `kept` are periods whose owned absence stays as is."""

    bodies: dict[str, AbsenceBody] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)
    skipped: Counter[str] = field(default_factory=Counter)


def type_selected(kind: AbsenceType | None, type_id: str, policy: SourcePolicy) -> bool:
    """Include/exclude by type name (case-insensitive) or id; exclude wins; empty include = all."""
    keys = {type_id.casefold()} | ({kind.name.casefold()} if kind else set())
    if keys & {k.casefold() for k in policy.exclude_types}:
        return False
    return not policy.include_types or bool(keys & {k.casefold() for k in policy.include_types})


def _counts(period: AbsencePeriod, policy: SourcePolicy) -> bool:
    if period.status is ApprovalStatus.APPROVED:
        return True
    return policy.include_pending and period.status is ApprovalStatus.PENDING


def desired_absences(
    periods: Sequence[AbsencePeriod],
    types: Mapping[str, AbsenceType],
    matching: Matching,
    window: DateRange,
    owner: str,
    policy: SourcePolicy,
) -> Desired:
    desired = Desired()
    for period in periods:
        kind = types.get(period.type_id)
        if not _counts(period, policy):
            continue  # not in the source set: an owned absence for it gets deleted (R13)
        days = period_days(period, window)
        if not days.dates.overlaps(window):
            continue
        if kind is None:
            # D-Guard: incomplete data changes nothing; no guessed text, no deletion.
            desired.kept.add(period.id)
            desired.skipped["unknownType"] += 1
            continue
        if not type_selected(kind, period.type_id, policy):
            continue
        hourly = is_hourly(period) or kind.unit == "HOUR"
        if hourly and not policy.hourly_as_full_day:
            desired.skipped["hourly"] += 1
            continue
        user_id = matching.user_of.get(period.person_id)
        if user_id is None:
            # Still in the source set: a matching problem must not erase absences (see docs).
            desired.kept.add(period.id)
            reason = "ambiguousUser" if period.person_id in matching.ambiguous_persons else None
            desired.skipped[reason or "unmatchedUser"] += 1
            continue
        if hourly:
            days = type(days)(days.dates, starts_midday=False, ends_midday=False)
        if len(owner_prefix(owner) + period.id) > MAX_LENGTH:
            desired.skipped["idTooLongForMarker"] += 1  # cannot be owned safely (R11)
            continue
        text = policy.generic_text or kind.name
        desired.bodies[period.id] = absence_body(
            days, user_id=user_id, description=text, marker=make_marker(owner, period.id)
        )
        desired.emails[period.id] = matching.email_of.get(period.person_id, "")
    return desired
