"""Pydantic models of Personio v2 payloads (private to the Personio client).

They accept what Personio is known to send (see shared/reference/personio-api.md)
and are lenient where sources disagree: `_data`/`data` envelopes, ids as strings or
numbers, date-times with or without an offset (the wall-clock value is kept, R3),
half-day types in any case. Each model converts itself to the engine's dataclass.
"""

from __future__ import annotations

from datetime import datetime
from sys import intern
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from personio_sync.engine.model import AbsencePeriod, AbsenceType, ApprovalStatus, HalfType, Person


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Href(_Model):
    href: str


class Links(_Model):
    next: Href | None = None


class Meta(_Model):
    links: Links = Field(default_factory=Links)


class Page(_Model):
    """The v2 list envelope; items are validated one model at a time by the caller."""

    data: list[dict[str, Any]] = Field(validation_alias=AliasChoices("_data", "data"))
    meta: Meta | None = Field(default=None, validation_alias=AliasChoices("_meta", "meta"))

    @property
    def next_href(self) -> str | None:
        nxt = self.meta.links.next if self.meta else None
        return nxt.href if nxt and nxt.href else None


class TokenResponse(_Model):
    access_token: str = Field(min_length=1)
    expires_in: float = 3600.0


class PersonModel(_Model):
    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_name: str | None = None

    def to_person(self) -> Person:
        email = (self.email or "").strip() or None
        first = self.preferred_name or self.first_name or ""
        name = " ".join(part for part in (first, self.last_name or "") if part)
        return Person(id=self.id, email=email, name=name)


class AbsenceTypeModel(_Model):
    id: str
    name: str = ""
    unit: str | None = None

    def to_type(self) -> AbsenceType:
        if (self.unit or "").upper() == "HOUR":
            return AbsenceType(id=self.id, name=self.name, unit="HOUR")
        return AbsenceType(id=self.id, name=self.name, unit="DAY")


class IdRef(_Model):
    id: str


class Boundary(_Model):
    date_time: datetime
    type: str | None = None

    @field_validator("date_time")
    @classmethod
    def _wall_clock(cls, value: datetime) -> datetime:
        """Personio sends naive local times; if an offset sneaks in, keep the wall clock (R3)."""
        return value.replace(tzinfo=None)

    @property
    def half(self) -> HalfType:
        kind = (self.type or "").upper()
        if kind == "FIRST_HALF":
            return "FIRST_HALF"
        if kind == "SECOND_HALF":
            return "SECOND_HALF"
        return None


class Approval(_Model):
    status: str | None = None


class AbsencePeriodModel(_Model):
    id: str
    person: IdRef
    absence_type: IdRef
    starts_from: Boundary
    ends_at: Boundary | None = None
    timezone_id: str | None = None
    approval: Approval = Field(default_factory=Approval)

    def to_period(self) -> AbsencePeriod:
        return AbsencePeriod(
            id=self.id,
            person_id=intern(self.person.id),  # repeated across tens of thousands of periods
            type_id=intern(self.absence_type.id),
            starts_from=self.starts_from.date_time,
            starts_type=self.starts_from.half,
            ends_at=self.ends_at.date_time if self.ends_at else None,
            ends_type=self.ends_at.half if self.ends_at else None,
            status=_status(self.approval.status),
            timezone_id=intern(self.timezone_id or "Europe/Berlin"),
        )

    @field_validator("ends_at", mode="before")
    @classmethod
    def _open_end(cls, value: object) -> object:
        """`ends_at: {"date_time": null}` is as open-ended as `ends_at: null` (R3)."""
        if isinstance(value, dict) and value.get("date_time") is None:
            return None
        return value


class PeriodStampModel(_Model):
    """Only what quick polling needs of a period: its id and when it last changed."""

    id: str
    updated_at: str | None = None


def _status(raw: str | None) -> ApprovalStatus:
    """Upper-case status; anything unknown (e.g. CANCELLED) is treated as not approved (R1)."""
    value = (raw or "").upper()
    if value in ApprovalStatus.__members__:
        return ApprovalStatus(value)
    return ApprovalStatus.PENDING if not value else ApprovalStatus.REJECTED


class ProblemItem(_Model):
    title: str | None = None
    detail: str | None = None


class Problem(_Model):
    """Any Personio error body: v2 problem+json, an OAuth error, or the v1 envelope."""

    errors: list[ProblemItem] | None = None
    error: str | dict[str, object] | None = None
    error_description: str | None = None
    title: str | None = None
    detail: str | None = None

    @property
    def oauth_error(self) -> str | None:
        return self.error if isinstance(self.error, str) else None

    def text(self) -> str:
        parts: list[str | None] = []
        for item in self.errors or []:
            parts += [item.title, item.detail]
        parts += [self.title, self.detail, self.oauth_error, self.error_description]
        if isinstance(self.error, dict):
            parts.append(str(self.error.get("message") or ""))
        return "; ".join(dict.fromkeys(p for p in parts if p))


class WebhookModel(_Model):
    """A registered webhook as `/v2/webhooks` lists it (the token is never returned)."""

    id: str
    url: str
    description: str | None = None
    status: str = "DISABLED"
    enabled_events: list[str] = []
