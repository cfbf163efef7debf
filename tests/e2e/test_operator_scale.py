"""Long runs and many tenants: progress in status, concurrent workers (issue #3, R20).

The fake awork is slowed down (latency knobs) so that a run lasts seconds; the
checks watch for states that only exist while runs are in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alice import CREDS, TODAY, VACATION, alice_seed
from lightkube import Client

from personio_sync_testing.devtools.kube import PersonioSync, create_namespace
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import (
    is_ready,
    secret_manifest,
    sync_manifest,
)

pytestmark = pytest.mark.e2e

PERIODS = 40
SICK = "sick-leave"


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Alice's vacations; `indirect` parametrisation passes `by_type` counts instead."""
    by_type = getattr(request, "param", None) or {VACATION: PERIODS}
    with Sandbox(alice_seed(by_type=by_type), today=TODAY) as sb:
        yield sb


def wait_for(kube_api: Client, ns: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kube_api.get(PersonioSync, "team", namespace=ns)
        return body if check(body) else None

    return eventually(probe, within=60, interval=0.1, what=f"{ns}/team")


def test_r20_long_run_shows_progress_then_clears_it(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """A first sync of many absences: status.progress moves (done/total), then goes away."""
    sandbox.awork.knobs.route_latency_ms = {"/api/v1/absences": 800}
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace))
    start_operator(namespace, env={"PERSONIO_SYNC_PROGRESS_SECONDS": "0.5"})

    def moving(body: dict[str, Any]) -> bool:
        progress = body.get("status", {}).get("progress", {})
        return progress.get("total") == PERIODS and 0 < progress.get("done", 0) < PERIODS

    progress = wait_for(kube_api, namespace, moving)["status"]["progress"]
    assert "writing absences" in progress["message"]
    done = wait_for(kube_api, namespace, is_ready)["status"]
    assert "progress" not in done
    assert done["lastRun"]["created"] == PERIODS


@pytest.mark.parametrize("sandbox", [{VACATION: PERIODS, SICK: PERIODS}], indirect=True)
def test_d_writer_tenants_with_disjoint_periods_on_one_workspace_sync_concurrently(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """Each resource has its own worker: two runs are in flight at the same moment.

    The two tenants share the fake's one workspace, so each owns its own absence type
    (R4, by id): their creates do not overlap and never wait for each other; on the same
    periods the second would rightly report an OwnershipConflict.
    """
    other = f"{namespace}-b"
    create_namespace(kube_api, other)
    sandbox.awork.knobs.latency_ms = 500  # each run now takes seconds
    for ns, kind in ((namespace, VACATION), (other, SICK)):
        kubectl.apply(secret_manifest(ns, CREDS))
        kubectl.apply(sync_manifest(ns, absenceTypes={"include": [kind]}))
    op = start_operator(namespace, other)

    def both_running() -> bool:
        return "personio_sync_runs_in_progress 2.0" in op.metrics()

    eventually(both_running, within=30, interval=0.1, what="two runs at once")
    for ns in (namespace, other):
        assert wait_for(kube_api, ns, is_ready)["status"]["lastRun"]["created"] == PERIODS


def test_the_global_cap_holds_runs_back(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """PERSONIO_SYNC_MAX_CONCURRENT_SYNCS=1: the second tenant waits for the first."""
    other = f"{namespace}-b"
    create_namespace(kube_api, other)
    sandbox.awork.knobs.latency_ms = 500
    for ns in (namespace, other):
        kubectl.apply(secret_manifest(ns, CREDS))
        kubectl.apply(sync_manifest(ns))
    op = start_operator(namespace, other, env={"PERSONIO_SYNC_MAX_CONCURRENT_SYNCS": "1"})
    seen: set[str] = set()

    def both_done() -> bool:
        text = op.metrics()
        seen.update(line for line in text.splitlines() if line.startswith("personio_sync_runs_in"))
        return text.count('outcome="success"} 1.0') == 2

    eventually(both_done, within=60, interval=0.05, what="both runs finished")
    assert "personio_sync_runs_in_progress 1.0" in seen
    assert "personio_sync_runs_in_progress 2.0" not in seen
