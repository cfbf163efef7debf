"""How the fake awork's records look on the wire, shaped by the OpenAPI schemas
(`User`, `UserAndWorkspace`, `ApiUser`, `Absence`; all additionalProperties: false).

Null-valued fields are left out, as real awork responses do, so clients must
treat every nullable field as optional.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from personio_sync_testing.fakes.awork.models import Absence, ApiUser, User, Workspace

_TICKS_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
SYSTEM_USER = "01010001-0000-0000-0000-111111111111"


def stamp(value: datetime) -> str:
    """UTC with Z; whole seconds print without a fraction (as absence bounds do)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ticks(value: datetime) -> int:
    delta = value - _TICKS_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _contact(user: User, email: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user.id}/{email}")),
        "type": "email",
        "subType": "work",
        "value": email,
        "isAddress": False,
        "createdOn": stamp(user.createdOn),
        "createdBy": SYSTEM_USER,
        "updatedOn": stamp(user.updatedOn),
        "updatedBy": SYSTEM_USER,
    }


def user_json(user: User) -> dict[str, Any]:
    return _compact(
        {
            "id": user.id,
            "firstName": user.firstName,
            "lastName": user.lastName,
            "position": user.position,
            "language": user.language,
            "status": {"invitationAccepted": True, "isDeactivated": user.isDeactivated},
            "createdOn": stamp(user.createdOn),
            "createdBy": SYSTEM_USER,
            "updatedOn": stamp(user.updatedOn),
            "updatedBy": SYSTEM_USER,
            "isArchived": user.isArchived,
            "isDeactivated": user.isDeactivated,
            "isAgent": user.isAgent,
            "deactivatedOn": stamp(user.updatedOn) if user.isDeactivated else None,
            "hasImage": False,
            "userContactInfos": [_contact(user, e) for e in user.emails],
            "resourceVersion": ticks(user.updatedOn),
            "tags": [],
            "teams": [],
        }
    )


def api_user_as_user(api_user: ApiUser) -> dict[str, Any]:
    """API users show up in GET /users as users without contact infos."""
    return user_json(User(id=api_user.id, firstName=api_user.name, language=None))


def api_user_json(api_user: ApiUser) -> dict[str, Any]:
    epoch = stamp(User(id=api_user.id).createdOn)
    return _compact(
        {
            "id": api_user.id,
            "name": api_user.name,
            "clientId": api_user.clientId,
            "createdOn": epoch,
            "createdBy": SYSTEM_USER,
            "updatedOn": epoch,
            "updatedBy": SYSTEM_USER,
        }
    )


def me_json(api_user: ApiUser, workspace: Workspace) -> dict[str, Any]:
    return {**api_user_as_user(api_user), "workspace": workspace.model_dump()}


def absence_json(absence: Absence) -> dict[str, Any]:
    return _compact(
        {
            "id": absence.id,
            "createdOn": stamp(absence.createdOn),
            "createdBy": absence.createdBy or absence.userId,
            "updatedOn": stamp(absence.updatedOn),
            "updatedBy": absence.updatedBy or absence.createdBy or absence.userId,
            "userId": absence.userId,
            "startOn": stamp(absence.startOn),
            "endOn": stamp(absence.endOn),
            "description": absence.description,
            "externalProvider": absence.externalProvider,
            "isReadOnly": absence.externalProvider is not None,
            "isHalfDayOnStart": absence.isHalfDayOnStart,
            "isHalfDayOnEnd": absence.isHalfDayOnEnd,
        }
    )


ABSENCE_PROPS = (
    "id",
    "createdOn",
    "createdBy",
    "updatedOn",
    "updatedBy",
    "userId",
    "startOn",
    "endOn",
    "description",
    "externalProvider",
    "isReadOnly",
    "isHalfDayOnStart",
    "isHalfDayOnEnd",
)
USER_PROPS = (
    "id",
    "firstName",
    "lastName",
    "position",
    "language",
    "createdOn",
    "updatedOn",
    "isArchived",
    "isDeactivated",
    "isAgent",
)
