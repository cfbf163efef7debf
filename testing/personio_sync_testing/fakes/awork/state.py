"""The fake awork workspace in memory: users, API users, API keys, absences.

Locked like the Personio state (a `Sandbox` mutates it from another thread);
`revision` invalidates the cached, rendered absence list that paging slices.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from personio_sync_testing.fakes.awork.forms import AbsenceForm, snap
from personio_sync_testing.fakes.awork.models import (
    Absence,
    ApiKey,
    ApiUser,
    AworkSeed,
    User,
    Workspace,
)

DEFAULT_API_USER = "0a9f1c6e-5d1b-4c1e-9a7e-000000000001"


def _now() -> datetime:
    return datetime.now(UTC)


class AworkState:
    """Mutations here are what the admin API and in-process tests call."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.revision = 0
        self.workspace = Workspace()
        self.users: dict[str, User] = {}
        self.api_users: dict[str, ApiUser] = {}
        self.api_keys: dict[str, str] = {}  # key -> API user id
        self.absences: dict[str, Absence] = {}
        self._rendered: tuple[int, list[dict[str, Any]]] = (-1, [])

    # -- seed ---------------------------------------------------------------------------

    def load(self, doc: Mapping[str, Any]) -> None:
        seed = AworkSeed.model_validate(doc)
        with self._lock:
            self.workspace = seed.workspace
            self.users = {u.id: u for u in seed.users}
            self.api_users = {a.id: a for a in seed.api_users}
            self.api_keys = {}
            for key in seed.api_keys:
                self._store_key(key if isinstance(key, ApiKey) else ApiKey(key=key))
            self.absences = {}
            for absence in seed.absences:
                self._store_absence(absence)
            self._changed()

    def dump(self) -> dict[str, Any]:
        with self._lock:
            seed = AworkSeed(
                workspace=self.workspace,
                api_keys=[ApiKey(key=k, api_user_id=u) for k, u in self.api_keys.items()],
                users=list(self.users.values()),
                api_users=list(self.api_users.values()),
                absences=list(self.absences.values()),
            )
        return seed.model_dump(mode="json")

    def _changed(self) -> None:
        self.revision += 1

    def rendered_absences(
        self, render: Callable[[Absence], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """All absences as JSON rows, in creation order; rendered once per revision."""
        with self._lock:
            if self._rendered[0] != self.revision:
                self._rendered = (self.revision, [render(a) for a in self.absences.values()])
            return self._rendered[1]

    # -- API keys -------------------------------------------------------------------------

    def api_user_for(self, key: str) -> ApiUser | None:
        with self._lock:
            user_id = self.api_keys.get(key)
            return None if user_id is None else self.api_users.get(user_id)

    def add_api_key(self, key: str, api_user_id: str | None = None) -> ApiUser:
        with self._lock:
            user = self._store_key(ApiKey(key=key, api_user_id=api_user_id))
            self._changed()
            return user

    def revoke_api_key(self, key: str) -> None:
        with self._lock:
            del self.api_keys[key]
            self._changed()

    def _store_key(self, key: ApiKey) -> ApiUser:
        """Every key belongs to an API user (as in awork); a default one is made if needed."""
        user_id = key.api_user_id or next(iter(self.api_users), DEFAULT_API_USER)
        if user_id not in self.api_users:
            self.api_users[user_id] = ApiUser(id=user_id)
        self.api_keys[key.key] = user_id
        return self.api_users[user_id]

    # -- users ----------------------------------------------------------------------------

    def add_user(self, data: Mapping[str, Any] | User) -> User:
        user = User.model_validate(data)
        with self._lock:
            self.users[user.id] = user
            self._changed()
        return user

    def archive_user(self, user_id: str, archived: bool = True) -> User:
        return self._update_user(user_id, isArchived=archived)

    def set_user_email(self, user_id: str, email: str) -> User:
        """Change the user's (work) e-mail contact info."""
        return self._update_user(user_id, emails=[email])

    def _update_user(self, user_id: str, **changes: Any) -> User:
        with self._lock:
            user = self.users[user_id].model_copy(update={**changes, "updatedOn": _now()})
            self.users[user_id] = User.model_validate(user.model_dump())
            self._changed()
            return self.users[user_id]

    # -- absences -------------------------------------------------------------------------

    def add_absence(self, data: Mapping[str, Any] | Absence) -> Absence:
        """A hand-made absence (as if entered in awork's UI); times snapped like the API's."""
        raw = data.model_dump() if isinstance(data, Absence) else dict(data)
        raw.setdefault("id", str(uuid.uuid4()))
        raw.setdefault("createdOn", _now())
        raw.setdefault("updatedOn", raw["createdOn"])
        with self._lock:
            absence = self._store_absence(Absence.model_validate(raw))
            self._changed()
            return absence

    def create_absence(self, form: AbsenceForm, by: str) -> Absence:
        now = _now()
        fields = {"id": str(uuid.uuid4()), "createdOn": now, "createdBy": by}
        absence = self._from_form(form, by, now, fields)
        with self._lock:
            self.absences[absence.id] = absence
            self._changed()
        return absence

    def update_absence(self, absence_id: str, form: AbsenceForm, by: str) -> Absence:
        with self._lock:
            old = self.absences[absence_id]
            keep = {"id": old.id, "createdOn": old.createdOn, "createdBy": old.createdBy}
            absence = self._from_form(form, by, _now(), keep)
            self.absences[absence_id] = absence
            self._changed()
            return absence

    def delete_absence(self, absence_id: str) -> None:
        with self._lock:
            del self.absences[absence_id]
            self._changed()

    def _from_form(
        self, form: AbsenceForm, by: str, now: datetime, fields: dict[str, Any]
    ) -> Absence:
        start, end = snap(form.startOn, form.endOn, form.isHalfDayOnStart, form.isHalfDayOnEnd)
        return Absence(
            **fields,
            userId=form.userId.lower(),
            startOn=start,
            endOn=end,
            description=form.description,
            externalProvider=form.externalProvider,
            isHalfDayOnStart=form.isHalfDayOnStart,
            isHalfDayOnEnd=form.isHalfDayOnEnd,
            updatedOn=now,
            updatedBy=by,
        )

    def _store_absence(self, absence: Absence) -> Absence:
        start, end = snap(
            absence.startOn, absence.endOn, absence.isHalfDayOnStart, absence.isHalfDayOnEnd
        )
        absence = absence.model_copy(update={"startOn": start, "endOn": end})
        self.absences[absence.id] = absence
        return absence
