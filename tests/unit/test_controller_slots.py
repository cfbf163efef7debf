"""FAIR-1, FAIR-2, FAIR-5: one awork budget per workspace; slots that let quick runs past
long ones, and no namespace that takes them all.

No clock is involved in admitting runs: the tests drive the event loop one step at a
time (`settle`) and look at who holds a slot. The heaps that admit in O(log N)
(admission.py) are held to the plain rule by a property test against a model that sorts
and walks every waiter, as the slots once did.
"""

from __future__ import annotations

import asyncio
import functools
import gc
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personio_sync.clients import PacerRegistry
from personio_sync.clients._pacing import workspace_key
from personio_sync.controller.loop.admission import Admission, Ticket
from personio_sync.controller.loop.slots import FairSlots, Priority, priority_of

FIRST, QUICK, LONG = Priority.FIRST_SYNC, Priority.QUICK, Priority.LONG


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Runs:
    """Runs that take a slot and hold it until told to finish."""

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.started: list[str] = []
        self._done: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def ask(self, name: str, priority: Priority, namespace: str = "") -> None:
        self._done[name] = asyncio.Event()
        self.tasks.append(asyncio.create_task(self._run(name, priority, namespace)))

    async def _run(self, name: str, priority: Priority, namespace: str) -> None:
        async with self.slots.slot(priority, namespace):
            self.started.append(name)
            await self._done[name].wait()

    def finish(self, name: str) -> None:
        self._done[name].set()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_fair_2_a_first_sync_starts_while_long_runs_hold_what_they_may() -> None:
    runs = Runs(FairSlots(4, per_namespace=4))
    for i in range(5):
        runs.ask(f"long{i}", LONG)
    await settle()
    assert runs.started == ["long0", "long1", "long2"]  # one of four kept for quick runs
    runs.ask("new", FIRST)
    await settle()
    assert runs.started[-1] == "new"  # at once: no long run had to finish
    runs.finish("long0")
    await settle()
    assert runs.started[-1] == "long3"
    await runs.close()


async def test_fair_2_waiting_runs_go_by_priority_then_arrival() -> None:
    runs = Runs(FairSlots(2, per_namespace=2))
    runs.ask("long0", LONG)
    runs.ask("quick0", QUICK)
    await settle()
    runs.ask("long1", LONG)
    runs.ask("quick1", QUICK)
    runs.ask("first0", FIRST)
    runs.ask("first1", FIRST)
    await settle()
    assert runs.started == ["long0", "quick0"]
    for name, expected in (("quick0", "first0"), ("first0", "first1"), ("first1", "quick1")):
        runs.finish(name)
        await settle()
        assert runs.started[-1] == expected
    runs.finish("quick1")  # now the reserved slot is free, but long0 still holds the other
    await settle()
    assert "long1" not in runs.started  # long runs never take the reserved slot
    runs.finish("long0")
    await settle()
    assert runs.started[-1] == "long1"
    await runs.close()


async def test_fair_2_the_cap_holds_and_one_slot_means_no_reservation() -> None:
    slots = FairSlots(1)
    runs = Runs(slots)
    runs.ask("long0", LONG)
    runs.ask("first0", FIRST)
    await settle()
    assert runs.started == ["long0"] and slots.in_use == 1
    runs.finish("long0")
    await settle()
    assert runs.started == ["long0", "first0"]
    await runs.close()


async def test_fair_2_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    slots = FairSlots(2)
    runs = Runs(slots)
    runs.ask("a", QUICK)
    runs.ask("b", QUICK)
    runs.ask("c", QUICK)
    await settle()
    runs.tasks[2].cancel()  # "c" was waiting
    await settle()
    runs.finish("a")
    runs.finish("b")
    await settle()
    assert slots.in_use == 0 and runs.started == ["a", "b"]
    await runs.close()


async def test_fair_5_a_busy_namespace_leaves_slots_to_the_others() -> None:
    slots = FairSlots(4)  # default: two per namespace
    runs = Runs(slots)
    for i in range(4):
        runs.ask(f"busy{i}", QUICK, "busy")
    await settle()
    assert runs.started == ["busy0", "busy1"]  # two slots stay free for other namespaces
    runs.ask("calm0", LONG, "calm")
    runs.ask("other0", LONG, "other")
    await settle()
    assert runs.started[2:] == ["calm0", "other0"]  # at once, past busy2 and busy3
    runs.finish("busy0")
    await settle()
    assert runs.started[4:] == ["busy2"]
    runs.finish("calm0")
    await settle()
    assert runs.started[5:] == []  # a slot is free, but busy3's namespace is at its cap
    assert slots.held_by_namespace == {"busy": 2, "other": 1}
    runs.finish("busy1")
    await settle()
    assert runs.started[5:] == ["busy3"]
    await runs.close()


async def test_fair_5_the_waiting_run_of_another_namespace_goes_first() -> None:
    runs = Runs(FairSlots(3, per_namespace=1, reserved=0))
    runs.ask("a0", LONG, "a")
    runs.ask("a1", FIRST, "a")  # queued first, with the best priority
    runs.ask("a2", FIRST, "a")
    await settle()
    assert runs.started == ["a0"]  # two slots free, but a holds its one
    runs.ask("b0", LONG, "b")
    runs.ask("c0", LONG, "c")
    await settle()
    assert runs.started == ["a0", "b0", "c0"]  # past a1 and a2: their namespace is full
    runs.finish("b0")
    await settle()
    assert runs.started[-1] == "c0"  # the free slot is not a's while a0 runs
    runs.finish("a0")
    await settle()
    assert runs.started[-1] == "a1"
    await runs.close()


@pytest.mark.parametrize(("total", "expected"), [(1, 1), (2, 1), (3, 1), (4, 2), (9, 4)])
def test_fair_5_the_default_cap_is_half_the_slots_at_least_one(total: int, expected: int) -> None:
    assert FairSlots(total).per_namespace == expected
    assert FairSlots(total, per_namespace=total + 5).per_namespace == total


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, FIRST),
        ({"lastSyncTime": "2026-03-02T09:00:00Z"}, LONG),  # duration unknown: assume long
        ({"lastSyncTime": "x", "lastRun": {"durationSeconds": 4.2}}, QUICK),
        ({"lastSyncTime": "x", "lastRun": {"durationSeconds": 600}}, LONG),
    ],
)
def test_fair_2_priority_comes_from_the_last_completed_run(
    status: dict[str, object], expected: Priority
) -> None:
    assert priority_of(status) == expected


async def test_fair_1_one_pacer_per_workspace_keyed_without_the_key() -> None:
    registry = PacerRegistry()
    url, key = "https://api.awork.test/api/v1", "secret-api-key-1"
    first = registry.get(url, key)
    assert registry.get(url + "/", key) is first  # same workspace
    assert registry.get(url, "secret-api-key-2") is not first
    assert registry.get("https://other.test/api/v1", key) is not first
    digest = workspace_key(url, key)
    assert key not in digest and len(digest) == 64 and digest == workspace_key(url + "/", key)
    assert len(registry) == 1  # the others had no user left and are gone
    del first
    gc.collect()
    assert len(registry) == 0


@dataclass(order=True)
class _Waiting:
    priority: Priority
    seq: int
    namespace: str = field(compare=False)


class SortingModel:
    """FAIR-2 and FAIR-5 as plainly as they can be said: at every acquire and release,
    walk all waiters by (priority, arrival) and admit each one that fits."""

    def __init__(self, total: int, reserved: int, per_namespace: int) -> None:
        self.total, self.reserved, self.per_namespace = total, reserved, per_namespace
        self.held: dict[Priority, int] = dict.fromkeys(Priority, 0)
        self.by_namespace: dict[str, int] = {}
        self.waiting: list[_Waiting] = []
        self.gone: set[int] = set()

    def fits(self, w: _Waiting) -> bool:
        if sum(self.held.values()) >= self.total:
            return False
        if self.by_namespace.get(w.namespace, 0) >= self.per_namespace:
            return False
        return w.priority != LONG or self.held[LONG] < self.total - self.reserved

    def admit(self) -> list[int]:
        admitted = []
        for w in sorted(self.waiting):
            if w.seq in self.gone:
                self.waiting.remove(w)
            elif self.fits(w):
                self.waiting.remove(w)
                self.held[w.priority] += 1
                self.by_namespace[w.namespace] = self.by_namespace.get(w.namespace, 0) + 1
                admitted.append(w.seq)
        return admitted

    def release(self, priority: Priority, namespace: str) -> None:
        self.held[priority] -= 1
        self.by_namespace[namespace] -= 1


OPS = st.lists(
    st.tuples(
        st.sampled_from(["wait", "wait", "wait", "release", "release", "withdraw", "abandon"]),
        st.sampled_from(list(Priority)),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(min_value=0, max_value=10_000),
    ),
    max_size=120,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    total=st.integers(min_value=1, max_value=6),
    reserved=st.integers(min_value=0, max_value=2),
    per_namespace=st.integers(min_value=1, max_value=6),
    ops=OPS,
)
def test_fair_2_fair_5_the_heaps_admit_exactly_as_walking_every_waiter(
    total: int, reserved: int, per_namespace: int, ops: list[tuple[str, Priority, str, int]]
) -> None:
    slots = FairSlots(total, reserved=reserved, per_namespace=per_namespace)
    reserved, per_namespace = slots.reserved, slots.per_namespace  # as FairSlots bounds them
    real, model = Admission(total, reserved, per_namespace), SortingModel(*_knobs(slots))
    queued: dict[int, Ticket] = {}
    held: list[Ticket] = []
    gone: set[int] = set()
    for op, priority, namespace, pick in ops:
        if op == "wait":
            ticket = real.wait(priority, namespace)
            ticket.gone = functools.partial(gone.__contains__, ticket.seq)
            queued[ticket.seq] = ticket
            model.waiting.append(_Waiting(priority, ticket.seq, namespace))
        elif op == "release" and held:
            ticket = held.pop(pick % len(held))
            real.release(ticket.priority, ticket.namespace)
            model.release(ticket.priority, ticket.namespace)
        elif op in ("withdraw", "abandon") and queued:
            ticket = list(queued.values())[pick % len(queued)]
            del queued[ticket.seq]
            if op == "withdraw":  # a cancelled waiter's own clean-up
                real.withdraw(ticket)
                model.waiting = [w for w in model.waiting if w.seq != ticket.seq]
            else:  # cancelled, its clean-up not run yet: the next walk passes it over
                gone.add(ticket.seq)
                model.gone.add(ticket.seq)
            continue  # withdrawing frees no slot: nothing is admitted
        else:
            continue
        admitted = real.admit()
        assert [t.seq for t in admitted] == model.admit()
        for ticket in admitted:
            del queued[ticket.seq]
            held.append(ticket)
        assert real.held == model.held and real.in_use == len(held)
        assert dict(real.held_by_namespace) == {n: c for n, c in model.by_namespace.items() if c}


def _knobs(slots: FairSlots) -> tuple[int, int, int]:
    return slots.total, slots.reserved, slots.per_namespace
