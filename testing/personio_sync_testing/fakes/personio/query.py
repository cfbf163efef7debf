"""Query-parameter parsing for the fake Personio's list endpoints.

Unknown parameters are refused (400), so a client that misspells a filter
(`person_id` for `person.id`) finds out here instead of silently syncing everyone.
Date-range filters on absence periods match periods that OVERLAP the range, as
Personio documents: every `*.gte` bound requires the period to end at or after
it (open-ended periods always do), every `*.lte` bound requires it to start at
or before it. Values may be naive or carry `Z`/an offset; the wall-clock part is
compared, never converted (Personio's date-times are local).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from personio_sync_testing.fakes.personio.models import AbsencePeriod, Person
from personio_sync_testing.fakes.personio.problems import fail, invalid_param

PERSON_PARAMS = {"id", "email", "first_name", "last_name", "status"}
TYPE_PARAMS: set[str] = set()
PERIOD_PARAMS = {
    "id",
    "person.id",
    "absence_type.id",
    "starts_from.date_time.gte",
    "starts_from.date_time.lte",
    "ends_at.date_time.gte",
    "ends_at.date_time.lte",
    "updated_at.gte",
    "updated_at.lte",
}


def check_known(filters: Mapping[str, str], known: set[str]) -> None:
    unknown = sorted(set(filters) - known)
    if unknown:
        fail(400, f"Unknown query parameter(s): {', '.join(unknown)}")


def _ids(filters: Mapping[str, str], name: str) -> frozenset[str] | None:
    raw = filters.get(name)
    if raw is None:
        return None
    values = frozenset(v.strip() for v in raw.split(",") if v.strip())
    if not values:
        invalid_param(name)
    return values


def _when(filters: Mapping[str, str], name: str) -> datetime | None:
    raw = filters.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        invalid_param(name)


@dataclass(frozen=True)
class PersonFilter:
    ids: frozenset[str] | None
    emails: frozenset[str] | None
    first_name: str | None
    last_name: str | None
    status: str | None

    @classmethod
    def parse(cls, filters: Mapping[str, str]) -> PersonFilter:
        check_known(filters, PERSON_PARAMS)
        emails = _ids(filters, "email")
        status = filters.get("status")
        if status is not None and status not in ("ACTIVE", "INACTIVE"):
            invalid_param("status")
        return cls(
            ids=_ids(filters, "id"),
            emails=None if emails is None else frozenset(e.lower() for e in emails),
            first_name=filters.get("first_name"),
            last_name=filters.get("last_name"),
            status=status,
        )

    def __call__(self, person: Person) -> bool:
        return (
            (self.ids is None or person.id in self.ids)
            and (self.emails is None or (person.email or "").lower() in self.emails)
            and (self.first_name is None or person.first_name == self.first_name)
            and (self.last_name is None or person.last_name == self.last_name)
            and (self.status is None or person.status == self.status)
        )


@dataclass(frozen=True)
class PeriodFilter:
    ids: frozenset[str] | None
    person_ids: frozenset[str] | None
    type_ids: frozenset[str] | None
    lower: tuple[datetime, ...]  # the period must end at/after each
    upper: tuple[datetime, ...]  # the period must start at/before each
    updated_gte: datetime | None
    updated_lte: datetime | None
    skew: timedelta = timedelta(0)  # added to updated_at (PersonioKnobs.updated_at_skew_s)

    @classmethod
    def parse(cls, filters: Mapping[str, str], skew: timedelta = timedelta(0)) -> PeriodFilter:
        check_known(filters, PERIOD_PARAMS)
        lower = (
            _when(filters, "starts_from.date_time.gte"),
            _when(filters, "ends_at.date_time.gte"),
        )
        upper = (
            _when(filters, "starts_from.date_time.lte"),
            _when(filters, "ends_at.date_time.lte"),
        )
        return cls(
            ids=_ids(filters, "id"),
            person_ids=_ids(filters, "person.id"),
            type_ids=_ids(filters, "absence_type.id"),
            lower=tuple(v for v in lower if v is not None),
            upper=tuple(v for v in upper if v is not None),
            updated_gte=_when(filters, "updated_at.gte"),
            updated_lte=_when(filters, "updated_at.lte"),
            skew=skew,
        )

    def __call__(self, p: AbsencePeriod) -> bool:
        end = None if p.ends_at is None else p.ends_at.date_time
        updated = p.updated_at + self.skew if p.updated_at else datetime.min
        return (
            (self.ids is None or p.id in self.ids)
            and (self.person_ids is None or p.person_id in self.person_ids)
            and (self.type_ids is None or p.absence_type_id in self.type_ids)
            and all(end is None or end >= bound for bound in self.lower)
            and all(p.starts_from.date_time <= bound for bound in self.upper)
            and (self.updated_gte is None or updated >= self.updated_gte)
            and (self.updated_lte is None or updated <= self.updated_lte)
        )
