"""Sharding over replicas (SHARD-1..8): the pure assignment, and the shard Leases.

The Leases live in an in-memory store with the API server's optimistic concurrency
(409 on a stale resourceVersion), and every replica reads one injected monotonic clock,
so rounds two seconds apart take no time at all.
"""

from __future__ import annotations

import re
from collections import Counter

import httpx2
import pytest
from controller_fakes import Kube, Leases, make_context, mock_kube, resource
from controller_fakes import LeaseClock as Clock

from personio_sync.controller.leadership import LeaderElector, LeaseTimings
from personio_sync.controller.shard_leases import ACTING_FOR, ShardLeases, label_value
from personio_sync.controller.sharding import assignment, shard_of, wanted_shards
from personio_sync.controller.writes import WritePolicy
from personio_sync.errors import LeadershipLost

NS, NAME = "ops", "personio-sync"
TIMINGS = LeaseTimings.scaled(12)  # 12 s lease, 8 s renew deadline, 2 s rounds
REPLICAS = [f"pod-{c}/{100 + i}/{i:06x}" for i, c in enumerate("abcdefgh")]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Leases:
    return Leases()


def replica(
    store: Leases, clock: Clock, identity: str, shards: int = 16, counted: list[str] | None = None
) -> ShardLeases:
    noted = counted if counted is not None else []
    return ShardLeases(
        store, namespace=NS, name=NAME, shards=shards, identity=identity, timings=TIMINGS,
        clock=clock, wall=clock.wall, on_acquired=lambda: noted.append(identity),
    )  # fmt: skip


async def rounds(clock: Clock, *replicas: ShardLeases, seconds: float = 2.0) -> None:
    """Rounds of every replica for `seconds`, two seconds apart."""
    for _ in range(max(1, round(seconds / 2))):
        for r in replicas:
            await r.attempt()
        clock.now += 2


def key_in(shard: int, shards: int = 16) -> tuple[str, str]:
    """A resource key whose shard is `shard`."""
    return next(
        ("hr", f"team-{i}") for i in range(10_000) if shard_of("hr", f"team-{i}", shards) == shard
    )


# -- SHARD-1: a resource's shard --------------------------------------------------------


def test_shard_1_a_resource_s_shard_is_a_stable_hash_of_namespace_and_name() -> None:
    assert shard_of("hr", "team", 16) == shard_of("hr", "team", 16)
    assert shard_of("hr", "team", 16) == 7  # sha-256 of "hr/team": the same in every process
    assert shard_of("hr", "team", 1) == 0
    spread = Counter(shard_of("hr", f"team-{i}", 16) for i in range(1600))
    assert len(spread) == 16 and min(spread.values()) > 60  # about 100 each


def test_shard_1_owner_keys_do_not_depend_on_the_shard() -> None:
    one, many = make_context(Kube(), shards=1), make_context(Kube(), shards=16)
    assert one.owner_key("hr", "team") == many.owner_key("hr", "team")


# -- SHARD-2: the assignment --------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7])
def test_shard_2_every_shard_has_one_replica_and_each_its_fair_share(count: int) -> None:
    owners = assignment(REPLICAS[:count], 16)
    assert sorted(owners) == list(range(16))
    loads = Counter(owners.values())
    assert set(loads) == set(REPLICAS[:count])
    assert max(loads.values()) - min(loads.values()) <= 1


def test_shard_2_every_replica_computes_the_same_assignment() -> None:
    live = REPLICAS[:4]
    mine = [wanted_shards(list(reversed(live)), me, 16) for me in live]
    assert frozenset().union(*mine) == frozenset(range(16))
    assert sum(len(m) for m in mine) == 16  # disjoint
    assert mine == [wanted_shards(live, me, 16) for me in live]


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6])
def test_shard_2_a_replica_joining_or_leaving_moves_few_shards(count: int) -> None:
    before, after = assignment(REPLICAS[:count], 16), assignment(REPLICAS[: count + 1], 16)
    moved = sum(1 for shard in before if before[shard] != after[shard])
    joined = sum(1 for owner in after.values() if owner == REPLICAS[count])
    assert joined * 1 <= moved <= 2 * joined  # at least what the newcomer takes, at most twice
    back = assignment(REPLICAS[:count], 16)  # it leaves again: the old assignment returns
    assert back == before


# -- SHARD-3, SHARD-6: acquiring, settling, taking over -------------------------------


async def test_shard_3_replicas_take_their_share_and_release_the_extra(
    store: Leases, clock: Clock
) -> None:
    a = replica(store, clock, REPLICAS[0])
    await rounds(clock, a)
    assert len(a.held()) == 16  # alone: every shard
    b = replica(store, clock, REPLICAS[1])
    await rounds(clock, a, b, seconds=10)
    assert len(a.held()) == 16 and not b.held()  # SHARD-6: b not counted yet
    await rounds(clock, a, b, seconds=8)
    assert store.holders() == {REPLICAS[0]: 8, REPLICAS[1]: 8}
    assert a.held() == wanted_shards(REPLICAS[:2], REPLICAS[0], 16)
    assert b.held() == frozenset(range(16)) - a.held()


async def test_shard_3_a_killed_replica_s_shards_are_taken_over_after_the_lease_duration(
    store: Leases, clock: Clock
) -> None:
    a, b, c = (replica(store, clock, r) for r in REPLICAS[:3])
    await rounds(clock, a, b, c, seconds=30)
    assert sorted(store.holders().values()) == [5, 5, 6]
    orphaned = b.held()
    await rounds(clock, a, c, seconds=10)  # b killed: it says nothing more
    assert not orphaned & (a.held() | c.held())  # not before its Leases expire
    await rounds(clock, a, c, seconds=6)
    assert a.held() | c.held() == frozenset(range(16))
    assert not a.held() & c.held()
    assert REPLICAS[1] not in store.holders()


async def test_shard_6_a_peer_counts_only_after_a_lease_duration_alive(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a, b)
    assert a.live() == {REPLICAS[0]}
    await rounds(clock, a, b, seconds=12)
    assert a.live() == b.live() == set(REPLICAS[:2])


async def test_shard_6_a_replica_back_from_a_freeze_waits_before_taking_shards_back(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a, b, seconds=30)
    await rounds(clock, a, seconds=20)  # b frozen: a holds everything
    assert len(a.held()) == 16 and not b.held()
    await rounds(clock, a, b, seconds=10)  # b resumes
    assert len(a.held()) == 16 and not b.held()
    await rounds(clock, a, b, seconds=6)
    assert len(a.held()) == len(b.held()) == 8


# -- SHARD-4: the fence per shard -------------------------------------------------------


async def test_shard_4_the_fence_of_a_resource_is_its_shard_s_lease(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a, b, seconds=30)
    mine, theirs = key_in(min(a.held())), key_in(min(b.held()))
    a.fence_for(*mine)
    assert a.holds(mine) and not a.holds(theirs)
    with pytest.raises(LeadershipLost, match="shard"):
        a.fence_for(*theirs)
    with pytest.raises(LeadershipLost):  # a write for no resource at all
        a.fence()
    token = ACTING_FOR.set(mine)
    try:
        a.fence()  # the pool's fence, for the resource this task acts for
        ACTING_FOR.set(theirs)
        with pytest.raises(LeadershipLost):
            a.fence()
    finally:
        ACTING_FOR.reset(token)


async def test_shard_4_a_frozen_replica_holds_nothing_when_it_resumes(
    store: Leases, clock: Clock
) -> None:
    a = replica(store, clock, REPLICAS[0])
    await rounds(clock, a)
    key = key_in(3)
    assert a.holds(key)
    clock.now += TIMINGS.renew_deadline  # frozen: no round; before anyone may take over
    assert not a.holds(key) and not a.leading()
    with pytest.raises(LeadershipLost):
        a.fence_for(*key)


async def test_shard_4_a_lost_shard_fences_only_its_own_resources(
    store: Leases, clock: Clock
) -> None:
    a = replica(store, clock, REPLICAS[0])
    await rounds(clock, a)
    lost, kept = key_in(2), key_in(9)
    lease = store.leases[a.electors[2].name]  # another writer takes shard 2 from under us
    store._store({**lease, "spec": {**lease["spec"], "holderIdentity": "someone-else"}})
    await a.electors[2].attempt()
    with pytest.raises(LeadershipLost):
        a.fence_for(*lost)
    a.fence_for(*kept)


# -- SHARD-5: hand-over after the runs in flight ------------------------------------------


async def test_shard_5_a_shard_is_released_only_once_its_run_ends(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a)
    given_up = min(wanted_shards(REPLICAS[:2], REPLICAS[1], 16))
    running = key_in(given_up)
    with a.busy(running):
        await rounds(clock, a, b, seconds=20)
        assert given_up in a.held() and given_up not in b.held()
        assert not a.holds(running)  # no new work on it: it is being handed over
        a.fence_for(*running)  # while the run in flight may still write
    await rounds(clock, a, b, seconds=2)
    assert given_up in b.held() and given_up not in a.held()


async def test_shard_5_a_shard_being_released_takes_no_new_work_until_it_is_gone(
    store: Leases, clock: Clock
) -> None:
    """Between the decision to give a shard up and its release, no worker may see it
    held: a run started there would only be abandoned at the fence."""
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a)
    given_up = min(wanted_shards(REPLICAS[:2], REPLICAS[1], 16))
    running = key_in(given_up)
    elector = a.electors[given_up]
    release, seen = elector.release, []

    async def spied() -> None:  # what a worker would see as the release begins
        seen.append(a.holds(running))
        await release()

    elector.release = spied  # type: ignore[method-assign]
    await rounds(clock, a, b, seconds=20)
    assert seen == [False] and given_up not in a.held()


async def test_shard_5_the_hand_over_waits_at_most_drain_seconds(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    a.drain_seconds = 30
    await rounds(clock, a)
    given_up = min(wanted_shards(REPLICAS[:2], REPLICAS[1], 16))
    with a.busy(key_in(given_up)):
        await rounds(clock, a, b, seconds=40)
        assert given_up in a.held()
        await rounds(clock, a, b, seconds=6)
        assert given_up in b.held()


async def test_shard_5_a_clean_stop_releases_everything_at_once(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a, b, seconds=30)
    await a.release()
    assert a.heartbeat.name not in store.leases
    await rounds(clock, b)
    assert len(b.held()) == 16


async def test_d_lease_a_record_naming_another_holder_ends_our_leadership_at_once(
    store: Leases, clock: Clock
) -> None:
    """The Lease was deleted and re-created by another replica (by hand, or a restore):
    the first read that shows it stops this replica's writes, not the next round."""
    a = replica(store, clock, REPLICAS[0], shards=1)
    await rounds(clock, a)
    elector = a.electors[0]
    assert elector.leading()
    lease = await store.get_lease(NS, NAME)
    assert lease is not None
    taken = {**lease, "metadata": {**lease["metadata"], "resourceVersion": "999"},
             "spec": {**lease["spec"], "holderIdentity": REPLICAS[1]}}  # fmt: skip
    elector.observe(taken)
    assert not elector.leading()


async def test_shard_3_only_take_overs_count_as_acquisitions(store: Leases, clock: Clock) -> None:
    """The leader flapping alert: a rebalance is no hand-over that abandons runs."""
    counted: list[str] = []
    a, b = (replica(store, clock, r, counted=counted) for r in REPLICAS[:2])
    await rounds(clock, a, b, seconds=30)  # created, released, acquired: nothing taken over
    assert counted == []
    await rounds(clock, a, seconds=16)  # b killed
    assert counted == [REPLICAS[0]]  # one replica lost: one count, not one per shard


# -- SHARD-7: one shard is today's leader ------------------------------------------------


async def test_shard_7_one_shard_is_the_single_leader_lease(store: Leases, clock: Clock) -> None:
    """Whoever holds it keeps it while alive, whatever the assignment would say."""
    for first, second in (REPLICAS[:2], REPLICAS[1::-1]):
        store.leases.clear()
        a, b = replica(store, clock, first, shards=1), replica(store, clock, second, shards=1)
        await rounds(clock, a)
        await rounds(clock, a, b, seconds=60)
        assert a.electors[0].name == NAME
        assert store.leases[NAME]["spec"]["holderIdentity"] == first
        assert a.leading() and not b.leading()
        await rounds(clock, b, seconds=14)  # a killed: b takes over after the lease
        assert b.leading()


# -- SHARD-8: who syncs a resource, in its status --------------------------------------


async def test_shard_8_a_status_written_names_its_shard_and_replica(
    store: Leases, clock: Clock
) -> None:
    a = replica(store, clock, REPLICAS[0])
    await rounds(clock, a)
    kube = Kube(resource())
    ctx = make_context(kube, leadership=a)
    await ctx.writes.replace_status(("hr", "team"), {"message": "hi"}, WritePolicy.ONCE)
    written = kube.writes[-1]
    assert written[-1]["shard"] == shard_of("hr", "team", 16)
    assert written[-1]["replica"] == REPLICAS[0]


async def test_shard_4_a_status_write_is_fenced_by_the_shard_of_the_resource_written(
    store: Leases, clock: Clock
) -> None:
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    await rounds(clock, a, b, seconds=30)
    sent: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.url.path)
        return httpx2.Response(200, json=resource())

    kube = mock_kube(answer, fence=a.fence_for)
    ours, theirs = key_in(min(a.held())), key_in(min(b.held()))
    try:
        await kube.merge_status(*ours, {"message": "ours"})
        with pytest.raises(LeadershipLost):
            await kube.merge_status(*theirs, {"message": "theirs"})
    finally:
        await kube.close()
    assert sent == [
        f"/apis/personio-sync.dev/v1alpha1/namespaces/hr/personiosyncs/{ours[1]}/status"
    ]


# -- SHARD-9: no overlap with a leader of a release without shards ------------------


async def test_shard_9_no_work_while_a_leader_without_shards_holds_the_leader_lease(
    store: Leases, clock: Clock
) -> None:
    old = LeaderElector(store, namespace=NS, name=NAME, identity="old-pod/1/000000",
                        timings=TIMINGS, clock=clock, wall=clock.wall)  # fmt: skip
    await old.attempt()
    a, b = replica(store, clock, REPLICAS[0]), replica(store, clock, REPLICAS[1])
    for _ in range(15):  # 30 s, the old leader renewing all along
        await old.attempt()
        await rounds(clock, a, b)
    assert len(a.held() | b.held()) == 16
    key = key_in(min(a.held()))
    assert not a.holds(key)
    with pytest.raises(LeadershipLost, match="without shards"):
        a.fence_for(*key)
    await old.release()  # its pod stops: a replica with shards takes the Lease over
    await rounds(clock, a, b)
    assert store.leases[NAME]["spec"]["holderIdentity"] in REPLICAS[:2]
    assert a.holds(key)
    a.fence_for(*key)
    await a.release()  # a clean stop hands it to b, whose runs go on meanwhile
    b.fence_for(*key_in(min(b.held())))
    await rounds(clock, b)
    assert store.leases[NAME]["spec"]["holderIdentity"] == REPLICAS[1]


def test_shard_3_a_lease_set_label_fits_however_long_the_release_name() -> None:
    """A label value holds at most 63 characters: with a longer Lease name (a long
    release in a long namespace) every Lease POST was refused 422 and the LIST 400."""
    long = "e2e-test-operator-with-the-charts-token-sync-0e3bf2-ps-personio-sync"
    other = long.replace("0e3bf2", "0e3bf3")
    assert label_value(NAME) == NAME
    value = label_value(long)
    assert len(value) <= 63 and value[0].isalnum() and value[-1].isalnum()
    assert value != label_value(other)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value)
