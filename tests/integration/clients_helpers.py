"""Builders and constants for the client tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from personio_sync.clients import AworkClient, PersonioClient

CLIENT_ID = "sync-client"
CLIENT_SECRET = "sync-secret"
API_KEY = "awork-api-key"
FAST: dict[str, Any] = {"max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.05}
# awork's look-up of a create whose answer was lost waits this long here (30 s in
# production): enough for the fakes, which store at once or never (D-Once-2).
AWORK_SETTLE: dict[str, Any] = {"settle_seconds": 0.3}


def person(i: int, *, email: bool = True) -> dict[str, Any]:
    return {
        "id": str(1000 + i),
        "email": f"person{i}@example.com" if email else None,
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
    }


def credential(**changes: Any) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **changes}


def awork_user(i: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "firstName": f"User{i}",
        "lastName": "Test",
        "emails": [f"person{i}@example.com"],
        **changes,
    }


class Sleeps:
    """The clients' retry sleep (`sleep=`): records each wait the client meant, sleeps none,
    so a test of a one-second wait asserts the second without spending it."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


PersonioFactory = Callable[..., PersonioClient]
AworkFactory = Callable[..., AworkClient]
