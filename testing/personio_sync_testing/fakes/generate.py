"""A synthetic company for benchmarks and load tests, in the seed format.

`generate_company(5000, today=…, seed=1)` gives ~60,000 absence periods inside
the default sync window (-14/+180 days) plus some history before it, with the
mix a real company has: vacation, sick days, half days, hour-based types,
pending and rejected requests, an open-ended parental leave, people only in
Personio or only in awork, an archived and a deactivated awork user, an agent,
an API user, a shared (ambiguous) e-mail, a person whose e-mail is not set,
and absences entered by hand in awork. Same seed → same company.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

PERSONIO_CLIENT_ID = "sandbox-client"
PERSONIO_CLIENT_SECRET = "sandbox-secret"  # fake sandbox credential, printed by the CLI
AWORK_API_KEY = "sandbox-awork-key"

# name, category, unit, weight, typical length in days
_TYPES = [
    ("Vacation", "PAID_VACATION", "DAY", 50, (1, 10)),
    ("Sick leave", "SICK_LEAVE", "DAY", 20, (1, 4)),
    ("Unpaid vacation", "UNPAID_VACATION", "DAY", 3, (1, 5)),
    ("Training", "OTHER", "DAY", 6, (1, 3)),
    ("Remote work abroad", "OFFSITE_WORK", "DAY", 4, (2, 7)),
    ("Parental leave", "MATERNITY_PARENTAL_LEAVE", "DAY", 1, (10, 14)),
    ("Doctor's appointment", "OTHER", "HOUR", 10, (1, 1)),
    ("Overtime compensation", "OTHER", "HOUR", 6, (1, 1)),
]
_FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannes",
    "Ida",
    "Jonas",
    "Lea",
    "Max",
    "Nina",
    "Oskar",
    "Paula",
]
_LAST = [
    "Becker",
    "Fischer",
    "Hoffmann",
    "Koch",
    "Meyer",
    "Neumann",
    "Richter",
    "Schmidt",
    "Schulz",
    "Wagner",
    "Weber",
]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _dt(day: date, at: time = time(0)) -> str:
    return datetime.combine(day, at).isoformat()


def _day_period(
    rng: random.Random, start: date, days: int, open_ended: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """starts_from / ends_at for a day-based period; ends_at is the exclusive next midnight."""
    end = start + timedelta(days=days)
    start_type, end_type = ("FIRST_HALF", "SECOND_HALF") if rng.random() > 0.1 else (None, None)
    if rng.random() < 0.12:  # half days
        if days == 1:
            start_type = end_type = rng.choice(["FIRST_HALF", "SECOND_HALF"])
        elif rng.random() < 0.5:
            start_type = "SECOND_HALF"
        else:
            end_type = "FIRST_HALF"
    ends_at = None if open_ended else {"date_time": _dt(end), "type": end_type}
    return {"date_time": _dt(start), "type": start_type}, ends_at


def _hour_period(rng: random.Random, day: date) -> tuple[dict[str, Any], dict[str, Any]]:
    begin = time(rng.randint(8, 14), rng.choice([0, 30]))
    end = time(begin.hour + rng.randint(1, 3), begin.minute)
    return {"date_time": _dt(day, begin), "type": None}, {"date_time": _dt(day, end), "type": None}


def _periods_for(
    rng: random.Random,
    person_id: str,
    types: list[dict[str, Any]],
    span: tuple[date, date],
    count: int,
) -> list[dict[str, Any]]:
    """`count` non-overlapping periods in [span]: one per equal slot of the span."""
    first, last = span
    slot = max(1, ((last - first).days + 1) // max(count, 1))
    weights = [t[3] for t in _TYPES]
    out = []
    for i in range(count):
        kind = rng.choices(range(len(_TYPES)), weights)[0]
        _, _, unit, _, (lo, hi) = _TYPES[kind]
        days = min(rng.randint(lo, hi), slot)
        start = first + timedelta(days=i * slot + rng.randint(0, slot - days))
        open_ended = _TYPES[kind][1] == "MATERNITY_PARENTAL_LEAVE" and rng.random() < 0.3
        ends_at: dict[str, Any] | None
        if unit == "HOUR":
            starts_from, ends_at = _hour_period(rng, start)
        else:
            starts_from, ends_at = _day_period(rng, start, days, open_ended)
        roll = rng.random()
        out.append(
            {
                "id": _uuid(rng),
                "person_id": person_id,
                "absence_type_id": types[kind]["id"],
                "starts_from": starts_from,
                "ends_at": ends_at,
                "timezone_id": "Europe/London" if rng.random() < 0.05 else "Europe/Berlin",
                "status": "APPROVED" if roll < 0.85 else "PENDING" if roll < 0.94 else "REJECTED",
            }
        )
    return out


def _awork_user(
    rng: random.Random, first: str, last: str, email: str, **flags: bool
) -> dict[str, Any]:
    return {"id": _uuid(rng), "firstName": first, "lastName": last, "emails": [email], **flags}


def generate_company(
    people: int,
    *,
    today: date,
    seed: int,
    absences_per_person: float = 12,
    past_days: int = 14,
    future_days: int = 180,
    history_share: float = 0.1,
) -> dict[str, Any]:
    """A seed document (both fakes) for `people` employees; see the module docstring."""
    rng = random.Random(seed)
    types = [{"id": _uuid(rng), "name": n, "category": c, "unit": u} for n, c, u, _, _ in _TYPES]
    window = (today - timedelta(days=past_days), today + timedelta(days=future_days))
    history = (window[0] - timedelta(days=120), window[0] - timedelta(days=1))
    persons, periods, users, hand_made = [], [], [], []
    for i in range(people):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first}.{last}.{i}@example.com".lower()
        person_id = str(100000 + i)
        where = rng.random()
        if where < 0.96:  # 4 % are only in awork
            persons.append(
                {"id": person_id, "email": email, "first_name": first, "last_name": last}
            )
            count = max(0, round(rng.uniform(0.5, 1.5) * absences_per_person))
            periods += _periods_for(rng, person_id, types, window, count)
            periods += _periods_for(rng, person_id, types, history, round(count * history_share))
        if where >= 0.04:  # 4 % are only in Personio
            shown = email.title() if rng.random() < 0.03 else email  # case differs: still a match
            users.append(_awork_user(rng, first, last, shown))
            if rng.random() < 0.12:
                hand_made.append(_hand_made(rng, users[-1]["id"], today))
    _specials(rng, persons, users, today)
    return {
        "personio": {
            "credentials": [
                {"client_id": PERSONIO_CLIENT_ID, "client_secret": PERSONIO_CLIENT_SECRET}
            ],
            "absence_types": types,
            "persons": persons,
            "absence_periods": periods,
        },
        "awork": {
            "api_keys": [
                {"key": AWORK_API_KEY, "api_user_id": "0a9f1c6e-5d1b-4c1e-9a7e-0000000000a1"}
            ],
            "api_users": [{"id": "0a9f1c6e-5d1b-4c1e-9a7e-0000000000a1", "name": "personio-sync"}],
            "users": users,
            "absences": hand_made,
        },
    }


def _hand_made(rng: random.Random, user_id: str, today: date) -> dict[str, Any]:
    start = today + timedelta(days=rng.randint(-10, 150))
    provider = "clockodo-absences" if rng.random() < 0.2 else None
    return {
        "id": _uuid(rng),
        "userId": user_id,
        "startOn": f"{start.isoformat()}T00:00:00Z",
        "endOn": f"{(start + timedelta(days=rng.randint(0, 2))).isoformat()}T23:59:59Z",
        "description": rng.choice(["Workation", "Offsite", "Moving day", None]),
        "externalProvider": provider,
    }


def _specials(
    rng: random.Random, persons: list[dict[str, Any]], users: list[dict[str, Any]], today: date
) -> None:
    """The edge cases every sandbox should have, whatever its size."""
    users.append(_awork_user(rng, "Otto", "Archived", "otto.archived@example.com", isArchived=True))
    users.append(_awork_user(rng, "Dora", "Deactivated", "dora.d@example.com", isDeactivated=True))
    users.append(_awork_user(rng, "Ava", "Agent", "ava.agent@example.com", isAgent=True))
    persons.append({"id": "99990001", "email": "otto.archived@example.com", "first_name": "Otto"})
    persons.append({"id": "99990002", "email": "dora.d@example.com", "first_name": "Dora"})
    persons.append({"id": "99990003", "email": None, "first_name": "Nomail"})
    persons.append({"id": "99990004", "email": "shared@example.com", "first_name": "Sam"})
    users.append(_awork_user(rng, "Sam", "One", "shared@example.com"))
    users.append(_awork_user(rng, "Sam", "Two", "Shared@Example.com"))
