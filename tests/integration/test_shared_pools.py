"""SCALE-1 over HTTP: the operator's runs share its vendor connection pools (issue 18).

A pair of `httpx.AsyncClient`s per run was most of a no-change run's CPU and threw its
warm connections away; `VendorHttp` lives as long as the process. Its awork pool carries
the fence, so sharing it loses nothing of D-Lease.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpcore
import httpx
import pytest
from runner_helpers import DEMO, OWNER, TODAY, absence_body, awork_writes, make_spec

from personio_sync.errors import LeadershipLost
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.runner import Endpoints, open_clients, run_sync
from personio_sync.sync.vendor_http import VendorHttp
from personio_sync_testing.fakes import Sandbox


def pooled(client: httpx.AsyncClient) -> set[int]:
    """The connections the client's pool holds now (httpx keeps its pool private)."""
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    return {id(connection) for connection in pool.connections}


async def one_run(
    sandbox: Sandbox, http: VendorHttp, fence: Callable[[], None] | None = None
) -> None:
    endpoints = Endpoints(sandbox.personio_url, sandbox.awork_url)
    async with open_clients(DEMO, endpoints, fence=fence, http=http) as clients:
        await run_sync(
            policy_of(make_spec()), DEMO, owner_key=OWNER, endpoints=endpoints, today=TODAY,
            clients=clients,
        )  # fmt: skip


@pytest.fixture
async def shared() -> AsyncIterator[VendorHttp]:
    http = VendorHttp.open()
    yield http
    await http.aclose()


async def test_scale_1_a_run_leaves_its_connections_to_the_next(
    demo: Sandbox, shared: VendorHttp
) -> None:
    await one_run(demo, shared)
    after_first = pooled(shared.personio), pooled(shared.awork)
    assert all(after_first), "the first run left no pooled connection behind"
    await one_run(demo, shared)
    after_second = pooled(shared.personio), pooled(shared.awork)
    assert after_second[0] <= after_first[0] and after_second[1] <= after_first[1], (
        "the second run opened connections of its own"
    )


async def test_scale_1_d_lease_the_shared_awork_pool_is_fenced(demo: Sandbox) -> None:
    """The pools are fenced when opened (the process's Lease), whatever a run passes:
    a connection the first run left in the pool still checks the fence."""
    closed = False

    def fence() -> None:
        if closed:
            raise LeadershipLost("lease lost (test)")

    http = VendorHttp.open(fence=fence)
    try:
        await one_run(demo, http)  # writes the demo's absences with the fence open
        written = len(awork_writes(demo))
        assert written and pooled(http.awork)
        closed = True
        endpoints = Endpoints(demo.personio_url, demo.awork_url)
        async with open_clients(DEMO, endpoints, fence=None, http=http) as clients:
            with pytest.raises(LeadershipLost):
                await clients.awork.create_absence(absence_body(demo, "p-after-the-lease"))
        assert len(awork_writes(demo)) == written
    finally:
        await http.aclose()
