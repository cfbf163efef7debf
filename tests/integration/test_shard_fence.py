"""SHARD-4 over HTTP: one fence in the shared awork pool fences each request by the shard
of the resource its task acts for.

Two replicas share the shards (in-memory Leases, an injected clock); replica a's pool,
fenced once with `ShardLeases.fence`, sends a request for a resource in one of its shards
and refuses, before a byte leaves, one for a resource in b's.
"""

from __future__ import annotations

import asyncio

import pytest
from runner_helpers import DEMO, absence_body, awork_writes
from tests.unit.controller_fakes import LeaseClock, Leases

from personio_sync.controller.leadership import LeaseTimings
from personio_sync.controller.shard_leases import ACTING_FOR, ShardLeases
from personio_sync.controller.sharding import shard_of
from personio_sync.errors import LeadershipLost
from personio_sync.sync.runner import Endpoints, open_clients
from personio_sync.sync.vendor_http import VendorHttp
from personio_sync_testing.fakes import Sandbox


def key_in(shard: int) -> tuple[str, str]:
    return next(
        ("hr", f"team-{i}") for i in range(10_000) if shard_of("hr", f"team-{i}", 16) == shard
    )


async def test_shard_4_the_shared_pool_fences_each_request_by_its_resource_s_shard(
    demo: Sandbox,
) -> None:
    store, clock = Leases(), LeaseClock()
    a, b = (
        ShardLeases(store, namespace="ops", identity=who, timings=LeaseTimings.scaled(12),
                    clock=clock, wall=clock.wall)
        for who in ("pod-a/1/aaaaaa", "pod-b/2/bbbbbb")
    )  # fmt: skip
    for _ in range(15):  # 30 s: both count each other, the shards are shared out
        for r in (a, b):
            await r.attempt()
        clock.now += 2
    assert a.held() and b.held()
    ours, theirs = key_in(min(a.held())), key_in(min(b.held()))
    http = VendorHttp.open(fence=a.fence)
    endpoints = Endpoints(demo.personio_url, demo.awork_url)

    async def create(key: tuple[str, str], period: str) -> None:
        ACTING_FOR.set(key)  # as the resource's worker does in its own task
        async with open_clients(DEMO, endpoints, http=http) as clients:
            await clients.awork.create_absence(absence_body(demo, period))

    try:
        await asyncio.create_task(create(ours, "p-ours"))
        written = len(awork_writes(demo))
        assert written == 1
        with pytest.raises(LeadershipLost, match="shard"):
            await asyncio.create_task(create(theirs, "p-theirs"))
        assert len(awork_writes(demo)) == written
    finally:
        await http.aclose()
