"""The fake Personio's in-memory company: persons, absence types, periods, credentials.

Every public method takes the lock, because a `Sandbox` mutates the state from
the test's thread while the server reads it on its own loop. `revision` grows
on every change so list queries can be cached between changes (60,000 periods
at benchmark size L).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from personio_sync_testing.fakes.personio.models import (
    AbsencePeriod,
    AbsenceType,
    Credential,
    Moment,
    Person,
    PersonioSeed,
    Status,
)


@dataclass(frozen=True)
class Token:
    value: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float  # time.monotonic()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


class PersonioState:
    """Mutations here are what the admin API and in-process tests call."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.revision = 0
        self.credentials: dict[str, Credential] = {}
        self.absence_types: dict[str, AbsenceType] = {}
        self.persons: dict[str, Person] = {}
        self.periods: dict[str, AbsencePeriod] = {}
        self._tokens: dict[str, Token] = {}
        self._cache: dict[Hashable, tuple[int, list[Any], list[str]]] = {}
        # Called with (event name, id) on every change a Personio webhook reports; kept
        # across `load` (the server's webhook dispatcher subscribes once).
        self.listeners: list[Callable[[str, str], None]] = []

    # -- seed ---------------------------------------------------------------------------

    def load(self, doc: Mapping[str, Any]) -> None:
        seed = PersonioSeed.model_validate(doc)
        with self._lock:
            self.credentials = {c.client_id: c for c in seed.credentials}
            self.absence_types = {t.id: t for t in seed.absence_types}
            self.persons = {p.id: p for p in seed.persons}
            self.periods = {}
            self._tokens = {}
            for period in seed.absence_periods:
                self._store_period(period)
            self._changed()

    def dump(self) -> dict[str, Any]:
        with self._lock:
            seed = PersonioSeed(
                credentials=list(self.credentials.values()),
                absence_types=list(self.absence_types.values()),
                persons=list(self.persons.values()),
                absence_periods=list(self.periods.values()),
            )
        return seed.model_dump(mode="json")

    def _changed(self) -> None:
        self.revision += 1
        self._cache.clear()

    def _emit(self, event_name: str, record_id: str) -> None:
        for listener in list(self.listeners):
            listener(event_name, record_id)

    # -- auth ---------------------------------------------------------------------------

    def check_secret(self, client_id: str, client_secret: str) -> Credential | None:
        with self._lock:
            cred = self.credentials.get(client_id)
        if cred is None or not secrets.compare_digest(cred.client_secret, client_secret):
            return None
        return cred

    def issue_token(self, cred: Credential, scopes: tuple[str, ...], ttl_s: int) -> Token:
        """The same token for the same credential and scopes while it is valid (as Personio)."""
        with self._lock:
            now = time.monotonic()
            for token in self._tokens.values():
                if (token.client_id, token.scopes) == (cred.client_id, scopes) and (
                    token.expires_at > now
                ):
                    return token
            token = Token("papi-" + secrets.token_hex(24), cred.client_id, scopes, now + ttl_s)
            self._tokens[token.value] = token
            return token

    def lookup_token(self, value: str) -> tuple[Token, Credential] | None:
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.expires_at <= time.monotonic():
                return None
            cred = self.credentials.get(token.client_id)
            return None if cred is None else (token, cred)

    def put_credential(self, data: Mapping[str, Any] | Credential) -> Credential:
        """Add a credential, or rotate one: a changed secret revokes its tokens."""
        cred = Credential.model_validate(data)
        with self._lock:
            old = self.credentials.get(cred.client_id)
            if old is not None and old.client_secret != cred.client_secret:
                self._revoke(cred.client_id)
            self.credentials[cred.client_id] = cred
            self._changed()
        return cred

    def remove_credential(self, client_id: str) -> None:
        with self._lock:
            del self.credentials[client_id]
            self._revoke(client_id)
            self._changed()

    def expire_tokens(self) -> None:
        """Make every issued token invalid, as if 24 h had passed."""
        with self._lock:
            self._tokens.clear()

    def _revoke(self, client_id: str) -> None:
        self._tokens = {k: t for k, t in self._tokens.items() if t.client_id != client_id}

    # -- queries (cached per revision) ---------------------------------------------------

    def query(
        self, kind: str, key: Hashable, select: Callable[[Any], bool]
    ) -> tuple[list[Any], list[str]]:
        """Records of `kind` ("persons", "absence_types", "periods") passing `select`, sorted
        by id, and their ids (for bisecting a cursor)."""
        with self._lock:
            cached = self._cache.get((kind, key))
            if cached is not None and cached[0] == self.revision:
                return cached[1], cached[2]
            table: dict[str, Any] = getattr(self, kind)
            ids = [k for k in sorted(table) if select(table[k])]
            result = [table[k] for k in ids]
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[(kind, key)] = (self.revision, result, ids)
            return result, ids

    # -- mutations ----------------------------------------------------------------------

    def add_person(self, data: Mapping[str, Any] | Person) -> Person:
        person = Person.model_validate(data)
        with self._lock:
            known = person.id in self.persons
            self.persons[person.id] = person
            self._changed()
        self._emit("person.updated" if known else "person.created", person.id)
        return person

    def set_person_email(self, person_id: str, email: str | None) -> Person:
        with self._lock:
            person = self.persons[person_id].model_copy(update={"email": email})
            self.persons[person_id] = person
            self._changed()
        self._emit("person.updated", person_id)
        return person

    def put_absence_type(self, data: Mapping[str, Any] | AbsenceType) -> AbsenceType:
        absence_type = AbsenceType.model_validate(data)
        with self._lock:
            self.absence_types[absence_type.id] = absence_type
            self._changed()
        return absence_type

    def put_period(self, data: Mapping[str, Any] | AbsencePeriod) -> AbsencePeriod:
        """Add or replace an absence period (by id)."""
        period = AbsencePeriod.model_validate(data)
        with self._lock:
            old = self.periods.get(period.id)
            if old is not None and period.created_at is None:
                period.created_at = old.created_at
            period.updated_at = None
            stored = self._store_period(period)
            self._changed()
        for event in _period_events(old, stored):
            self._emit(event, stored.id)
        return stored

    def delete_person(self, person_id: str) -> None:
        with self._lock:
            del self.persons[person_id]
            self._changed()
        self._emit("person.deleted", person_id)

    def move_period(
        self,
        period_id: str,
        starts_from: Mapping[str, Any] | Moment,
        ends_at: Mapping[str, Any] | Moment | None,
    ) -> AbsencePeriod:
        start = Moment.model_validate(starts_from)
        end = None if ends_at is None else Moment.model_validate(ends_at)
        moved = self._update(period_id, starts_from=start, ends_at=end)
        self._emit("absence-period.updated.timerange", period_id)  # even if unchanged [S24]
        return moved

    def set_status(self, period_id: str, status: Status) -> AbsencePeriod:
        updated = self._update(period_id, status=status)
        self._emit("absence-period.updated.status", period_id)
        return updated

    def approve(self, period_id: str) -> AbsencePeriod:
        return self.set_status(period_id, "APPROVED")

    def reject(self, period_id: str) -> AbsencePeriod:
        return self.set_status(period_id, "REJECTED")

    def cancel(self, period_id: str) -> None:
        """Cancelled/deleted periods vanish from Personio's lists."""
        with self._lock:
            del self.periods[period_id]
            self._changed()
        self._emit("absence-period.deleted", period_id)

    def _update(self, period_id: str, **changes: Any) -> AbsencePeriod:
        with self._lock:
            period = self.periods[period_id].model_copy(update={**changes, "updated_at": _now()})
            self.periods[period_id] = AbsencePeriod.model_validate(period.model_dump())
            self._changed()
            return self.periods[period_id]

    def _store_period(self, period: AbsencePeriod) -> AbsencePeriod:
        now = _now()
        period = period.model_copy(
            update={"created_at": period.created_at or now, "updated_at": period.updated_at or now}
        )
        self.periods[period.id] = period
        return period


def _period_events(old: AbsencePeriod | None, new: AbsencePeriod) -> list[str]:
    """What Personio reports for a put: created, or which of time range and status moved
    (other edits, such as the comment, report nothing)."""
    if old is None:
        return ["absence-period.created"]
    events = []
    if (old.starts_from, old.ends_at) != (new.starts_from, new.ends_at):
        events.append("absence-period.updated.timerange")
    if old.status != new.status:
        events.append("absence-period.updated.status")
    return events
