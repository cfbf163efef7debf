"""The fake awork's records, which are also its seed format (see docs/sandbox.md).

Field names follow awork's camelCase. A user's `emails` become
`userContactInfos` entries of type email / subType work on the wire, which is
where awork's public API exposes e-mail addresses.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _utc(value: datetime | None) -> datetime | None:
    """awork speaks UTC; a naive time in a seed is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _lower(value: str | None) -> str | None:
    """awork GUIDs compare case-insensitively; the fake stores them lower-case."""
    return None if value is None else value.lower()


SEED_EPOCH = datetime(2024, 1, 2, 8, 0, tzinfo=UTC)


class ApiKey(_Record):
    key: str = Field(min_length=1)
    api_user_id: str | None = None

    _lower = field_validator("api_user_id")(_lower)


class ApiUser(_Record):
    id: str
    name: str = "personio-sync"
    clientId: str | None = None

    _lower = field_validator("id")(_lower)


class User(_Record):
    id: str
    firstName: str | None = None
    lastName: str | None = None
    emails: list[str] = []
    isArchived: bool = False
    isAgent: bool = False
    isDeactivated: bool = False
    position: str | None = None
    language: str | None = "de-DE"
    createdOn: datetime = SEED_EPOCH
    updatedOn: datetime = SEED_EPOCH

    _utc = field_validator("createdOn", "updatedOn")(_utc)
    _lower = field_validator("id")(_lower)


class Absence(_Record):
    id: str
    userId: str
    startOn: datetime
    endOn: datetime
    description: str | None = None
    externalProvider: str | None = None
    isHalfDayOnStart: bool = False
    isHalfDayOnEnd: bool = False
    createdOn: datetime = SEED_EPOCH
    createdBy: str | None = None
    updatedOn: datetime = SEED_EPOCH
    updatedBy: str | None = None

    _utc = field_validator("startOn", "endOn", "createdOn", "updatedOn")(_utc)
    _lower = field_validator("id", "userId", "createdBy", "updatedBy")(_lower)


class Workspace(_Record):
    id: str = "6a8f8b2e-2f4a-4c65-9b1e-1f2a3b4c5d6e"
    name: str = "Sandbox workspace"
    url: str = "https://sandbox.awork.com"


class AworkSeed(_Record):
    workspace: Workspace = Workspace()
    api_keys: list[str | ApiKey] = []
    users: list[User] = []
    api_users: list[ApiUser] = []
    absences: list[Absence] = []
