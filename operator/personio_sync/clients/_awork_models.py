"""Pydantic models of awork v1 payloads (private to the awork client).

Responses are read leniently (awork omits null fields; booleans may be missing).
The request body `AbsenceForm` is written strictly: awork's schema says
`additionalProperties: false`, so it holds exactly the form's writable fields.
"""

from __future__ import annotations

from datetime import datetime
from sys import intern

from pydantic import BaseModel, ConfigDict

from personio_sync.engine.dates import as_utc, rfc3339
from personio_sync.engine.model import AbsenceBody, AworkAbsence, AworkUser


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class ContactInfo(_Model):
    type: str | None = None
    value: str | None = None
    isDeleted: bool | None = None


class UserModel(_Model):
    id: str
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    isArchived: bool | None = None
    isAgent: bool | None = None
    userContactInfos: list[ContactInfo] | None = None

    def to_user(self, api_user_ids: set[str]) -> AworkUser:
        return AworkUser(
            id=self.id,
            emails=self.emails(),
            name=" ".join(p for p in (self.firstName, self.lastName) if p),
            is_archived=bool(self.isArchived),
            is_agent=bool(self.isAgent),
            is_api_user=self.id in api_user_ids,
        )

    def emails(self) -> tuple[str, ...]:
        """Every e-mail contact entry plus a top-level `email` (R6), de-duplicated in order."""
        found = [self.email or ""]
        for info in self.userContactInfos or []:
            if (info.type or "").lower() == "email" and not info.isDeleted:
                found.append(info.value or "")
        return tuple(dict.fromkeys(e.strip() for e in found if e.strip()))


class ApiUserModel(_Model):
    id: str


class AbsenceModel(_Model):
    id: str
    userId: str | None = None
    startOn: datetime
    endOn: datetime
    description: str | None = None
    externalProvider: str | None = None
    isHalfDayOnStart: bool | None = None
    isHalfDayOnEnd: bool | None = None
    createdOn: datetime | None = None

    def to_absence(self) -> AworkAbsence:
        return AworkAbsence(
            id=self.id,
            user_id=intern(self.userId or ""),  # repeated across many absences
            start_on=as_utc(self.startOn),
            end_on=as_utc(self.endOn),
            description=intern(self.description) if self.description else self.description,
            external_provider=self.externalProvider,
            is_half_day_on_start=bool(self.isHalfDayOnStart),
            is_half_day_on_end=bool(self.isHalfDayOnEnd),
            created_on=as_utc(self.createdOn) if self.createdOn else None,
        )


class AbsenceForm(BaseModel):
    """POST/PUT body; field set = awork's AbsenceForm minus the read-only isSingleDayAbsence."""

    model_config = ConfigDict(extra="forbid")

    userId: str
    startOn: str
    endOn: str
    description: str
    externalProvider: str
    isHalfDayOnStart: bool
    isHalfDayOnEnd: bool

    @classmethod
    def from_body(cls, body: AbsenceBody) -> AbsenceForm:
        return cls(
            userId=body.user_id,
            startOn=_wire(body.start_on),
            endOn=_wire(body.end_on),
            description=body.description,
            externalProvider=body.external_provider,
            isHalfDayOnStart=body.is_half_day_on_start,
            isHalfDayOnEnd=body.is_half_day_on_end,
        )


class ValidationItem(_Model):
    property: str | None = None
    message: str | None = None


class ErrorResponse(_Model):
    code: str | None = None
    description: str | None = None
    validationErrors: list[ValidationItem] | None = None

    def text(self) -> str:
        parts = [self.description or ""]
        parts += [f"{v.property}: {v.message}" for v in self.validationErrors or []]
        return "; ".join(p for p in parts if p)


def _wire(value: datetime) -> str:
    """A naive value is already the UTC wall clock the engine built from a calendar date
    (R9) and is sent as is, never shifted through a local zone."""
    return rfc3339(value)
