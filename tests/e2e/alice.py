"""One person, Alice, with many one-day absences: the seed the load-shaped e2e tests share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

TODAY = datetime.now(ZoneInfo("Europe/Berlin")).date()
VACATION = "7d0a8c1e-0001-4a6b-9c1d-000000000001"
ALICE = "5c3d0000-0000-4000-8000-000000000001"
CREDS = {"personioClientId": "c1", "personioClientSecret": "s1", "aworkApiKey": "k1"}
API_USER = "5c3d0000-0000-4000-8000-0000000000a1"


def one_day(index: int, type_id: str = VACATION) -> dict[str, Any]:
    """Alice's absence on day today+index+1 (the period ends at the next midnight)."""
    prefix = "p" if type_id == VACATION else f"p-{type_id}"
    return {
        "id": f"{prefix}-{index:03d}",
        "person_id": "1001",
        "absence_type_id": type_id,
        "starts_from": {"date_time": f"@today+{index + 1}T00:00:00", "type": "FIRST_HALF"},
        "ends_at": {"date_time": f"@today+{index + 2}T00:00:00", "type": "SECOND_HALF"},
    }


def alice_seed(periods: int = 0, *, by_type: Mapping[str, int] | None = None) -> dict[str, Any]:
    """`periods` vacations, or `by_type` {absence type id: count} (types named alike)."""
    counts = dict(by_type or {VACATION: periods})
    types = [
        {"id": t, "name": "Vacation" if t == VACATION else t, "category": "PAID_VACATION",
         "unit": "DAY"}
        for t in counts
    ]  # fmt: skip
    return {
        "personio": {
            "credentials": [
                {"client_id": "c1", "client_secret": "s1", "email_readable": True,
                 "scopes": ["personio:persons:read", "personio:absences:read"]},
            ],
            "absence_types": types,
            "persons": [{"id": "1001", "email": "alice@acme.example", "first_name": "Alice"}],
            "absence_periods": [one_day(i, t) for t, n in counts.items() for i in range(n)],
        },
        "awork": {
            "api_keys": [{"key": "k1", "api_user_id": API_USER}],
            "api_users": [{"id": API_USER, "name": "personio-sync"}],
            "users": [{"id": ALICE, "firstName": "Alice", "emails": ["alice@acme.example"]}],
        },
    }  # fmt: skip
