"""The Supervisor routes watch events to one Worker per resource, on fast-forwarded time.

Real Workers run with stub runs (controller_fakes.Stubs); a retired worker's task
must be finished, and a re-created resource (same name, new uid) gets a fresh worker.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from controller_fakes import Kube, Stubs, make_context, resource

from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.supervisor import Supervisor
from personio_sync.controller.settings import OperatorSettings

pytestmark = pytest.mark.looptime


class Setup:
    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.kube = Kube(*(copy.deepcopy(b) for b in bodies))
        self.syncs = Stubs(self.kube)
        self.ctx = make_context(self.kube)
        self.supervisor = Supervisor(self.ctx, FairSlots(2), self.syncs.collaborators())

    def runs_of(self, name: str) -> list[float]:
        return [at for at, who in self.syncs.runs if who == name]


@pytest.fixture
async def setups() -> AsyncIterator[list[Setup]]:
    made: list[Setup] = []
    yield made
    for setup in made:
        await setup.supervisor.stop()


def make(setups: list[Setup], *bodies: dict[str, Any]) -> Setup:
    setup = Setup(*bodies)
    setups.append(setup)
    return setup


def newer(body: dict[str, Any], version: int, **meta: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    changed["metadata"].update(resourceVersion=str(version), **meta)
    return changed


async def test_one_worker_per_resource_and_events_go_to_their_own(setups: list[Setup]) -> None:
    a, b = resource("a", "uid-a"), resource("b", "uid-b")
    setup = make(setups, a, b)
    setup.supervisor.observe(None, a)
    setup.supervisor.observe("ADDED", b)
    await asyncio.sleep(1)
    worker_a = setup.supervisor.workers[("hr", "a")]
    labelled = copy.deepcopy(setup.kube.bodies[("hr", "a")])
    labelled["metadata"]["labels"] = {"team": "x"}
    setup.supervisor.observe("MODIFIED", setup.kube.put(labelled))  # to the same worker
    await asyncio.sleep(1)
    assert sorted(setup.supervisor.workers) == [("hr", "a"), ("hr", "b")]
    assert setup.supervisor.workers[("hr", "a")] is worker_a
    assert worker_a.view.body["metadata"]["labels"] == {"team": "x"}
    assert (setup.runs_of("a"), setup.runs_of("b")) == ([0.0], [0.0])  # a label is no reason


async def test_a_deleted_resource_retires_its_worker_and_forgets_its_metrics(
    setups: list[Setup],
) -> None:
    body = resource()
    setup = make(setups, body)
    setup.supervisor.observe("ADDED", body)
    await asyncio.sleep(1)
    worker = setup.supervisor.workers[("hr", "team")]
    setup.ctx.metrics.observe_error("hr", "team", 1.0)  # a series of its own
    assert b'name="team"' in setup.ctx.metrics.render()
    setup.supervisor.observe("DELETED", newer(body, 9))
    await asyncio.sleep(0.1)
    assert setup.supervisor.workers == {}
    assert b'name="team"' not in setup.ctx.metrics.render()
    assert worker.task is not None and worker.task.done()
    await asyncio.sleep(3 * 3600)
    assert len(setup.syncs.runs) == 1  # nothing runs for it any more


async def test_a_late_delete_of_an_older_incarnation_leaves_the_new_worker_alone(
    setups: list[Setup],
) -> None:
    old, new = resource(uid="uid-old"), resource(uid="uid-new")
    setup = make(setups, new)
    setup.supervisor.observe("ADDED", new)
    await asyncio.sleep(1)
    setup.supervisor.observe("DELETED", old)
    await asyncio.sleep(1)
    assert setup.supervisor.workers[("hr", "team")].uid == "uid-new"


async def test_a_re_created_resource_gets_a_fresh_worker_that_runs_at_once(
    setups: list[Setup],
) -> None:
    old = resource(uid="uid-old")
    setup = make(setups, old)
    setup.supervisor.observe("ADDED", old)
    await asyncio.sleep(600)
    retired = setup.supervisor.workers[("hr", "team")]
    new = resource(uid="uid-new")  # deleted and re-created while the watch was away
    setup.kube.bodies[("hr", "team")] = copy.deepcopy(new)
    setup.supervisor.observe("MODIFIED", new)
    await asyncio.sleep(1)
    current = setup.supervisor.workers[("hr", "team")]
    assert current is not retired and current.uid == "uid-new"
    assert retired.task is not None and retired.task.done()
    assert setup.runs_of("team") == pytest.approx([0.0, 600.0], abs=0.2)


async def test_sec_1_a_secret_change_wakes_only_the_workers_that_reference_it(
    setups: list[Setup],
) -> None:
    a = resource("a", "uid-a")
    b = resource("b", "uid-b", secretRef={"name": "other"})
    setup = make(setups, a, b)
    setup.kube.rotate("hr", "creds", "1")
    setup.kube.rotate("hr", "other", "1")
    setup.supervisor.observe("ADDED", a)
    setup.supervisor.observe("ADDED", b)
    await asyncio.sleep(60)
    setup.kube.rotate("hr", "creds", "2")
    await asyncio.sleep(OperatorSettings().secret_check_seconds)
    check = OperatorSettings().secret_check_seconds
    first, second = setup.runs_of("a")
    assert first == pytest.approx(0.0, abs=0.2)
    assert check * 0.75 - 0.2 <= second <= check + 0.2  # the check's spread sleep (SCALE-2)
    assert setup.runs_of("b") == [0.0]


async def test_stop_ends_every_worker(setups: list[Setup]) -> None:
    bodies = [resource(f"r{i}", f"uid-{i}") for i in range(5)]
    setup = make(setups, *bodies)
    for body in bodies:
        setup.supervisor.observe("ADDED", body)
    workers = list(setup.supervisor.workers.values())
    await setup.supervisor.stop()
    assert setup.supervisor.workers == {}
    assert all(w.task is not None and w.task.done() for w in workers)
