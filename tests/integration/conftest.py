"""Fixtures for running the real clients against the fake vendors (real HTTP on 127.0.0.1).

Clients are built with tiny back-off values so retries cost milliseconds; the
vendors' one-second 429 waits are recorded by an injected sleep (clients_helpers.Sleeps)
instead of slept.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clients_helpers import (
    API_KEY,
    AWORK_SETTLE,
    CLIENT_ID,
    CLIENT_SECRET,
    FAST,
    AworkFactory,
    PersonioFactory,
    awork_user,
    credential,
    person,
)
from runner_helpers import sandbox_for

# tests/ on the path so `contract.schemas` (the vendors' published schemas) can be imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personio_sync.clients import AworkClient, PersonioClient
from personio_sync_testing.fakes import Sandbox, demo_seed_path
from personio_sync_testing.fakes.awork import FakeAwork
from personio_sync_testing.fakes.personio import FakePersonio


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    """The demo company (fakes/data/demo.yaml) at runner_helpers.TODAY, served by both fakes."""
    with sandbox_for(demo_seed_path()) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
        yield client


@pytest.fixture
async def quick_http() -> AsyncIterator[httpx.AsyncClient]:
    """For fault tests: the fakes' `timeout` fault holds a request until the client gives up.

    Only the read waits on a held request, so only the read is short; connecting and the
    pool keep a generous deadline, and the read's 1 s is far above a healthy answer of the
    in-process fakes even on a loaded machine (at 0.3 s a healthy GET timed out there and
    counted as one more retry)."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=1.0)) as client:
        yield client


@pytest.fixture
async def personio_fake() -> AsyncIterator[FakePersonio]:
    seed = {
        "credentials": [credential()],
        "persons": [person(i) for i in range(3)],
        "absence_types": [{"id": "t-vac", "name": "Vacation", "unit": "DAY"}],
    }
    async with FakePersonio(seed) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
async def awork_fake() -> AsyncIterator[FakeAwork]:
    seed = {"api_keys": [API_KEY], "users": [awork_user(i) for i in range(3)]}
    async with FakeAwork(seed) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def make_personio(personio_fake: FakePersonio, http: httpx.AsyncClient) -> PersonioFactory:
    """A PersonioClient on the fake with fast retries; keyword arguments override."""

    def make(http_client: httpx.AsyncClient | None = None, **overrides: Any) -> PersonioClient:
        kwargs: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "rate_limit_wait": 0.01,
            **FAST,
            **overrides,
        }
        return PersonioClient(http_client or http, personio_fake.url, **kwargs)

    return make


@pytest.fixture
def personio(make_personio: PersonioFactory) -> PersonioClient:
    return make_personio()


@pytest.fixture
def make_awork(awork_fake: FakeAwork, http: httpx.AsyncClient) -> AworkFactory:
    """An AworkClient on the fake with fast retries; keyword arguments override."""

    def make(http_client: httpx.AsyncClient | None = None, **overrides: Any) -> AworkClient:
        kwargs: dict[str, Any] = {
            "api_key": API_KEY,
            "rate_limit_wait": 0.01,
            **AWORK_SETTLE,
            **FAST,
        }
        return AworkClient(http_client or http, awork_fake.url, **{**kwargs, **overrides})

    return make


@pytest.fixture
def awork(make_awork: AworkFactory) -> AworkClient:
    return make_awork()
