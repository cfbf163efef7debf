"""Small builders for engine tests: readable fixtures at fixed dates, and a pure awork store.

The engine is pure, so every rule test builds a `Snapshot`, calls `reconcile` and
asserts on the plan or report. `AworkStore` applies a plan's writes to a dict the way
awork would (assigning ids), so tests can run the engine again on the result.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from personio_sync.engine.marker import make_marker
from personio_sync.engine.model import (
    AbsenceBody,
    AbsencePeriod,
    AbsenceType,
    ApprovalStatus,
    AworkAbsence,
    AworkUser,
    HalfType,
    Person,
)
from personio_sync.engine.plan import Create, Delete, Plan, Update
from personio_sync.engine.reconcile import Outcome, Snapshot, reconcile
from personio_sync.resource.spec import PersonioSyncSpec, parse_spec
from personio_sync.resource.spec_policy import policy_of

OWNER = "0123456789ab"
OTHER_OWNER = "ba9876543210"
TODAY = date(2026, 4, 1)  # window with defaults: 2026-03-18 … 2026-09-28

VACATION = AbsenceType("type-vac", "Paid vacation")
SICK = AbsenceType("type-sick", "Sick leave")
HOURLY = AbsenceType("type-hour", "Doctor appointment", unit="HOUR")
TYPES = (VACATION, SICK, HOURLY)

Write = Create | Update | Delete


def d(text: str) -> date:
    return date.fromisoformat(text)


def utc(text: str) -> datetime:
    """'2026-04-02T12:00:00' → that instant in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def spec(**fields: Any) -> PersonioSyncSpec:
    """A valid spec with only the given fields set (camelCase, as in the resource)."""
    return parse_spec({"secretRef": {"name": "personio-sync"}, **fields})


def person(pid: str, email: str | None) -> Person:
    return Person(pid, email, name=pid)


def user(uid: str, *emails: str, **flags: bool) -> AworkUser:
    return AworkUser(uid, tuple(emails), name=uid, **flags)


def period(
    pid: str,
    person_id: str,
    first: str,
    last: str | None,
    *,
    type_id: str = VACATION.id,
    start_type: HalfType = "FIRST_HALF",
    end_type: HalfType = "SECOND_HALF",
    status: ApprovalStatus = ApprovalStatus.APPROVED,
) -> AbsencePeriod:
    """A day-based period over the inclusive dates first…last, sent as Personio sends it:
    midnight start, EXCLUSIVE next-day midnight end (R3); last=None is open-ended."""
    ends_at = None
    if last is not None:
        ends_at = datetime.combine(d(last) + timedelta(days=1), time())
    return AbsencePeriod(
        id=pid,
        person_id=person_id,
        type_id=type_id,
        starts_from=datetime.combine(d(first), time()),
        starts_type=start_type,
        ends_at=ends_at,
        ends_type=end_type,
        status=status,
    )


def raw_period(pid: str, person_id: str, starts: str, ends: str | None, **kw: Any) -> AbsencePeriod:
    """A period with literal naive date-times, for R3/R4 edge cases."""
    values: dict[str, Any] = {
        "type_id": VACATION.id,
        "starts_type": None,
        "ends_type": None,
        "status": ApprovalStatus.APPROVED,
        **kw,
    }
    return AbsencePeriod(
        id=pid,
        person_id=person_id,
        starts_from=datetime.fromisoformat(starts),
        ends_at=datetime.fromisoformat(ends) if ends else None,
        **values,
    )


def owned(
    aid: str,
    period_id: str,
    user_id: str,
    start: str,
    end: str,
    *,
    description: str = VACATION.name,
    owner: str = OWNER,
    half_start: bool = False,
    half_end: bool = False,
    created: str | None = None,
) -> AworkAbsence:
    """An absence this sync (or `owner`) wrote; start/end/created are UTC 'YYYY-MM-DDTHH:MM:SS'."""
    return AworkAbsence(
        id=aid,
        user_id=user_id,
        start_on=utc(start),
        end_on=utc(end),
        description=description,
        external_provider=make_marker(owner, period_id),
        is_half_day_on_start=half_start,
        is_half_day_on_end=half_end,
        created_on=utc(created) if created else None,
    )


def hand_made(aid: str, user_id: str, start: str, end: str) -> AworkAbsence:
    """An absence someone entered in awork: no marker (R12)."""
    return AworkAbsence(aid, user_id, utc(start), utc(end), "Dentist", None)


def run(
    the_spec: PersonioSyncSpec | None = None,
    *,
    persons: Sequence[Person] = (),
    periods: Sequence[AbsencePeriod] = (),
    users: Sequence[AworkUser] = (),
    absences: Sequence[AworkAbsence] = (),
    types: Sequence[AbsenceType] = TYPES,
    today: date = TODAY,
    owner: str = OWNER,
    allow_mass_delete: bool = False,
    adopt_from: Sequence[str] = (),
) -> Outcome:
    snapshot = Snapshot(persons, types, periods, users, absences)
    return reconcile(
        policy_of(the_spec or spec()),
        snapshot,
        today=today,
        owner=owner,
        allow_mass_delete=allow_mass_delete,
        adopt_from=adopt_from,
    )


def body_of(outcome: Outcome, period_id: str) -> AbsenceBody:
    """The one write planned for a period (create or update)."""
    writes = [c.body for c in outcome.plan.creates if c.period_id == period_id]
    writes += [u.body for u in outcome.plan.updates if u.period_id == period_id]
    assert len(writes) == 1, f"expected one write for {period_id}, got {writes}"
    return writes[0]


def writes_of(plan: Plan) -> list[Write]:
    return [*plan.creates, *plan.updates, *plan.deletes]


@dataclass
class AworkStore:
    """awork's absences in memory; applies Create/Update/Delete as the API would, and
    stamps createdOn from `clock` (an update keeps it, as awork does)."""

    absences: dict[str, AworkAbsence] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    clock: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def add(self, absence: AworkAbsence) -> None:
        self.absences[absence.id] = absence

    def listing(self) -> list[AworkAbsence]:
        return sorted(self.absences.values(), key=lambda a: a.id)

    def apply(self, writes: Iterable[Write]) -> None:
        for write in writes:
            if isinstance(write, Create):
                new_id = f"aw-{next(self._ids)}"
                self.absences[new_id] = from_body(new_id, write.body, self.clock)
            elif isinstance(write, Update):
                assert write.absence_id in self.absences, "update of a missing absence"
                created = self.absences[write.absence_id].created_on
                self.absences[write.absence_id] = from_body(write.absence_id, write.body, created)
            else:
                assert write.absence_id in self.absences, "delete of a missing absence"
                del self.absences[write.absence_id]


def from_body(absence_id: str, body: AbsenceBody, created: datetime | None = None) -> AworkAbsence:
    return AworkAbsence(
        id=absence_id,
        user_id=body.user_id,
        start_on=body.start_on,
        end_on=body.end_on,
        description=body.description,
        external_provider=body.external_provider,
        is_half_day_on_start=body.is_half_day_on_start,
        is_half_day_on_end=body.is_half_day_on_end,
        created_on=created,
    )


def moved(p: AbsencePeriod, days: int) -> AbsencePeriod:
    shift = timedelta(days=days)
    return replace(
        p, starts_from=p.starts_from + shift, ends_at=p.ends_at + shift if p.ends_at else None
    )
