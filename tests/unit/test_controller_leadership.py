"""Leader election over a Lease (D-Lease): client-go's rules, and the fence on top.

An in-memory Lease store with the API server's optimistic concurrency (409 on a stale
resourceVersion) stands in for the API server, and every replica gets the same
injected monotonic clock, so "15 s later" takes no time at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from controller_fakes import LeaseClock as Clock
from controller_fakes import Leases

from personio_sync.controller.leadership import LeaderElector, LeaseTimings, micro_time
from personio_sync.errors import LeadershipLost

NS, NAME = "ops", "personio-sync"


class LeaseStore(Leases):
    """The leader Lease NAME in the namespace's Lease store (controller_fakes)."""

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.leases[NAME]["spec"])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> LeaseStore:
    return LeaseStore()


def replica(store: LeaseStore, clock: Clock, identity: str) -> LeaderElector:
    return LeaderElector(
        store, namespace=NS, name=NAME, identity=identity, clock=clock, wall=clock.wall
    )


async def test_d_lease_the_first_replica_creates_the_lease_and_leads(
    store: LeaseStore, clock: Clock
) -> None:
    a = replica(store, clock, "pod-a")
    assert not a.leading()
    assert await a.attempt()
    assert a.leading()
    a.fence()  # does not raise
    assert store.spec == {
        "holderIdentity": "pod-a",
        "leaseDurationSeconds": 15,
        "acquireTime": micro_time(clock.wall()),
        "renewTime": micro_time(clock.wall()),
        "leaseTransitions": 0,
    }
    assert store.spec["renewTime"].endswith("Z") and "." in store.spec["renewTime"]


async def test_d_lease_a_standby_does_not_take_a_renewed_lease(
    store: LeaseStore, clock: Clock
) -> None:
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    await a.attempt()
    for _ in range(20):  # 40 s: far beyond the lease, but renewed every 2 s
        assert not await b.attempt()
        clock.advance(2)
        assert await a.attempt()
    assert store.spec["holderIdentity"] == "pod-a"
    assert not b.leading()
    with pytest.raises(LeadershipLost):
        b.fence()


async def test_d_lease_a_standby_takes_over_once_the_record_is_unchanged_for_the_lease(
    store: LeaseStore, clock: Clock
) -> None:
    """Measured from when the standby first saw the record, on its own clock (client-go)."""
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    await a.attempt()
    clock.advance(5)  # a dies 5 s after its last renewal; b only now looks
    assert not await b.attempt()
    clock.advance(14.9)
    assert not await b.attempt()
    clock.advance(0.2)
    assert await b.attempt()
    assert b.leading()
    spec = store.spec
    assert spec["holderIdentity"] == "pod-b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == spec["renewTime"] == micro_time(clock.wall())


async def test_d_lease_a_renewal_keeps_acquire_time_and_transitions(
    store: LeaseStore, clock: Clock
) -> None:
    a = replica(store, clock, "pod-a")
    await a.attempt()
    acquired = store.spec["acquireTime"]
    clock.advance(2)
    await a.attempt()
    assert store.spec["acquireTime"] == acquired
    assert store.spec["renewTime"] == micro_time(clock.wall())
    assert store.spec["leaseTransitions"] == 0


async def test_d_lease_a_frozen_leader_is_not_leading_before_it_talks_to_the_api(
    store: LeaseStore, clock: Clock
) -> None:
    """SIGSTOP longer than the lease: on resume the fence is shut by the clock alone."""
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    await a.attempt()
    clock.advance(9.9)
    a.fence()  # still within the renew deadline
    clock.advance(0.2)
    with pytest.raises(LeadershipLost):
        a.fence()
    # b took over meanwhile; a resumes 60 s later and must not get it back.
    await b.attempt()
    clock.advance(15.1)
    assert await b.attempt()
    clock.advance(45)
    writes = store.writes
    store.down = True  # a cannot even reach the API server: still not leading
    assert not await a.attempt()
    assert not a.leading()
    store.down = False
    assert await b.attempt()  # b renews on time; a now sees b's fresh record
    assert not await a.attempt()
    assert not a.leading()
    assert store.writes == writes + 1 and store.spec["holderIdentity"] == "pod-b"


async def test_d_lease_the_fence_closes_before_any_standby_may_take_over(
    store: LeaseStore, clock: Clock
) -> None:
    """The leader loses the API server: it stops writing at the renew deadline (10 s), the
    standby, which cannot see it either way, takes over no earlier than the lease (15 s)."""
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    await a.attempt()
    await b.attempt()
    renewals_fail_from = clock.now
    for _ in range(20):
        clock.advance(0.5)
        a_leads = a.leading()
        store.down = True
        await a.attempt()
        store.down = False
        b_leads = await b.attempt()
        assert not (a_leads and b_leads)
        elapsed = clock.now - renewals_fail_from
        assert a_leads == (elapsed < 10)
        assert b_leads == (elapsed > 15)


async def test_d_lease_two_candidates_never_both_acquire(store: LeaseStore, clock: Clock) -> None:
    """Both read the expired record; the resourceVersion lets only one write win."""
    a, b, c = (replica(store, clock, p) for p in ("pod-a", "pod-b", "pod-c"))
    await a.attempt()
    await b.attempt()
    await c.attempt()
    clock.advance(16)
    results = await asyncio.gather(b.attempt(), c.attempt())
    assert sorted(results) == [False, True]
    assert [b.leading(), c.leading()].count(True) == 1
    assert store.spec["holderIdentity"] in ("pod-b", "pod-c")


async def test_d_lease_two_first_starts_create_it_once(store: LeaseStore, clock: Clock) -> None:
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    results = await asyncio.gather(a.attempt(), b.attempt())
    assert sorted(results) == [False, True]


async def test_d_lease_release_hands_over_at_once(store: LeaseStore, clock: Clock) -> None:
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    await a.attempt()
    await b.attempt()
    await a.release()
    assert not a.leading()
    assert store.spec["holderIdentity"] == ""
    assert await b.attempt()  # no lease duration to wait for
    assert store.spec["leaseTransitions"] == 1


async def test_d_lease_release_leaves_another_holders_lease_alone(
    store: LeaseStore, clock: Clock
) -> None:
    a, b = replica(store, clock, "pod-a"), replica(store, clock, "pod-b")
    await a.attempt()
    clock.advance(20)
    await b.attempt()
    await b.attempt()
    clock.advance(16)
    assert await b.attempt()
    await a.release()  # a still thought it held it
    assert store.spec["holderIdentity"] == "pod-b"


async def test_d_lease_wait_leading_returns_when_leadership_is_gained(
    store: LeaseStore, clock: Clock
) -> None:
    a = replica(store, clock, "pod-a")
    waiter = asyncio.create_task(a.wait_leading())
    await asyncio.sleep(0)
    assert not waiter.done()
    await a.attempt()
    await asyncio.wait_for(waiter, timeout=1)


async def test_d_lease_run_renews_every_retry_period(store: LeaseStore, clock: Clock) -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)
        if len(pauses) == 5:
            raise asyncio.CancelledError

    a = LeaderElector(
        store, namespace=NS, name=NAME, identity="pod-a", clock=clock, wall=clock.wall, sleep=sleep
    )
    with pytest.raises(asyncio.CancelledError):
        await a.run()
    assert pauses == [2.0] * 5
    assert store.writes == 5


async def test_d_lease_a_standby_wakes_when_the_lease_expires(
    store: LeaseStore, clock: Clock
) -> None:
    """Candidates poll with jitter, but never sleep past the expiry they are waiting for."""
    a = replica(store, clock, "pod-a")
    await a.attempt()
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)
        if b.leading():
            raise asyncio.CancelledError

    b = LeaderElector(
        store, namespace=NS, name=NAME, identity="pod-b", clock=clock, wall=clock.wall, sleep=sleep
    )
    with pytest.raises(asyncio.CancelledError):
        await b.run()
    assert all(2.0 <= p <= 2.4 for p in pauses[:-2])
    assert 15.0 < sum(pauses[:-1]) < 15.1  # took over right after the lease expired


def test_timings_must_nest() -> None:
    with pytest.raises(ValueError, match="renew_deadline"):
        LeaseTimings(lease_duration=10, renew_deadline=10, retry_period=2)
