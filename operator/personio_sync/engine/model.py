"""The engine's vocabulary: plain frozen dataclasses, independent of either vendor's wire format.

The clients translate vendor payloads into these; the engine never sees JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

HalfType = Literal["FIRST_HALF", "SECOND_HALF"] | None


class ApprovalStatus(StrEnum):
    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class Person:
    """A Personio person; `email` is None when the credential cannot read it."""

    id: str
    email: str | None
    name: str = ""


@dataclass(frozen=True, slots=True)
class AbsenceType:
    id: str
    name: str
    unit: Literal["DAY", "HOUR"] = "DAY"


@dataclass(frozen=True, slots=True)
class AbsencePeriod:
    """A Personio v2 absence period as sent: naive local date-times, exclusive end (R3)."""

    id: str
    person_id: str
    type_id: str
    starts_from: datetime
    starts_type: HalfType
    ends_at: datetime | None
    ends_type: HalfType
    status: ApprovalStatus
    timezone_id: str = "Europe/Berlin"


@dataclass(frozen=True, slots=True)
class AworkUser:
    id: str
    emails: tuple[str, ...]
    name: str = ""
    is_archived: bool = False
    is_agent: bool = False
    is_api_user: bool = False


@dataclass(frozen=True, slots=True)
class AworkAbsence:
    """An absence as awork stores it: UTC instants snapped to 00:00:00/12:00:00/23:59:59."""

    id: str
    user_id: str
    start_on: datetime
    end_on: datetime
    description: str | None
    external_provider: str | None
    is_half_day_on_start: bool = False
    is_half_day_on_end: bool = False
    created_on: datetime | None = None  # awork's own stamp: who holds a period longest (D-Settle)


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of calendar dates."""

    start: date
    end: date

    def overlaps(self, other: DateRange) -> bool:
        return self.start <= other.end and self.end >= other.start


@dataclass(frozen=True, slots=True)
class AbsenceBody:
    """What the operator writes to awork for one Personio period (R9-R11)."""

    user_id: str
    start_on: datetime
    end_on: datetime
    is_half_day_on_start: bool
    is_half_day_on_end: bool
    description: str
    external_provider: str
