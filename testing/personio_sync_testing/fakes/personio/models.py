"""The fake Personio's records, which are also its seed format (see docs/sandbox.md).

Date-times are naive local wall-clock times, as Personio v2 sends them; for
day-based absences `ends_at` is the EXCLUSIVE next-day midnight.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PERSONS_SCOPE = "personio:persons:read"
ABSENCES_SCOPE = "personio:absences:read"
ALL_SCOPES = [PERSONS_SCOPE, ABSENCES_SCOPE]
WEBHOOKS_WRITE_SCOPE = "personio:webhooks:write"
WEBHOOKS_READ_SCOPE = "personio:webhooks:read"

HalfType = Literal["FIRST_HALF", "SECOND_HALF"] | None
Status = Literal["APPROVED", "PENDING", "REJECTED"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, validate_assignment=True)


def _naive(value: datetime | None) -> datetime | None:
    """Wall-clock time as written: an offset in a seed is dropped, never converted."""
    return None if value is None else value.replace(tzinfo=None)


class Credential(_Record):
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scopes: list[str] = Field(default_factory=lambda: list(ALL_SCOPES))
    email_readable: bool = True


class AbsenceType(_Record):
    id: str
    name: str
    category: str = "OTHER"
    unit: Literal["DAY", "HOUR"] = "DAY"

    @field_validator("category")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Person(_Record):
    id: str
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    preferred_name: str | None = None
    status: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"


class Moment(_Record):
    date_time: datetime
    type: HalfType = None

    _naive = field_validator("date_time")(_naive)


class AbsencePeriod(_Record):
    id: str
    person_id: str
    absence_type_id: str
    starts_from: Moment
    ends_at: Moment | None = None
    timezone_id: str = "Europe/Berlin"
    status: Status = "APPROVED"
    comment: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    _naive = field_validator("created_at", "updated_at")(_naive)


class PersonioSeed(_Record):
    credentials: list[Credential] = []
    absence_types: list[AbsenceType] = []
    persons: list[Person] = []
    absence_periods: list[AbsencePeriod] = []
