"""FAIR-1, FAIR-2 end to end: four long runs on one awork workspace, then a new resource.

Four resources whose previous run was long (their status says so) become due together
and write slowly (awork latency) into the same workspace, with awork's rate limits on.
A resource created while they run must get its first sync within 30 s, and no run may
end with a 429 in its report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alice import CREDS, TODAY, alice_seed
from lightkube import Client

from personio_sync_testing.devtools.kube import MERGE, PersonioSync, create_namespace
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import is_ready, secret_manifest, sync_manifest

pytestmark = pytest.mark.e2e

PERIODS = 96  # six rounds of 16 writes for each long run
LONG_RUNS = 4
# One absence type per resource: five PersonioSyncs on one workspace that never hold the
# same period (D-Owner would leave a shared one to its first owner).
TYPES = [f"type-{i}" for i in range(LONG_RUNS + 1)]
NEW_TYPE = TYPES[-1]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    seed = alice_seed(by_type={t: PERIODS if t != NEW_TYPE else 3 for t in TYPES})
    with Sandbox(seed, today=TODAY) as sb:
        yield sb


def stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def long_and_due(kube_api: Client, ns: str) -> None:
    """A status as if the last run, two hours ago, took ten minutes: due, and long."""
    status = {
        "observedGeneration": 1,
        "lastSyncTime": stamp(-timedelta(hours=2)),
        "lastSuccessfulSyncTime": stamp(-timedelta(hours=2)),
        "nextSyncTime": stamp(-timedelta(hours=1)),
        "lastRun": {"window": {"from": str(TODAY), "to": str(TODAY)}, "durationSeconds": 600.0},
    }
    kube_api.patch(
        PersonioSync.Status, "team", namespace=ns, patch_type=MERGE, obj={"status": status}
    )


def test_fair_2_a_new_resource_syncs_while_four_long_runs_write(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    sandbox.awork.set_knobs(
        route_latency_ms={"/api/v1/absences": 6000}, rate_limits=True, per_minute=1000
    )
    spaces = [f"{namespace}-{i}" for i in range(LONG_RUNS)]
    for ns, kind in zip(spaces, TYPES, strict=False):
        create_namespace(kube_api, ns)
        kubectl.apply(secret_manifest(ns, CREDS))
        kubectl.apply(sync_manifest(ns, absenceTypes={"include": [kind]}))
        long_and_due(kube_api, ns)
    op = start_operator(*spaces, namespace)

    eventually(
        lambda: "personio_sync_runs_in_progress 3.0" in op.metrics(), within=30, what="long runs"
    )
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, absenceTypes={"include": [NEW_TYPE]}))
    created = datetime.now(UTC)

    def new_one_ready() -> bool:
        return is_ready(kube_api.get(PersonioSync, "team", namespace=namespace))

    eventually(new_one_ready, within=30, interval=0.2, what="the new resource's first sync")
    waited = datetime.now(UTC) - created
    assert "personio_sync_runs_in_progress" in op.metrics()
    busy = [ns for ns in spaces if "lastRun" not in _fresh(kube_api, ns, created)]
    assert len(busy) >= 3, f"the long runs were not in flight any more ({waited})"

    for ns in spaces:  # FAIR-1: one shared budget, no 429 in anybody's report
        body = eventually(
            lambda ns=ns: _done(kube_api, ns, created), within=240, interval=0.5, what=ns
        )
        assert body["status"]["lastRun"]["failed"] == 0
        assert "RateLimited" not in str(body["status"]["conditions"])


def _fresh(kube_api: Client, ns: str, since: datetime) -> dict[str, Any]:
    """The status if its last run ended after `since`, else without lastRun."""
    status = kube_api.get(PersonioSync, "team", namespace=ns).get("status", {})
    ended = datetime.fromisoformat(status["lastSyncTime"].replace("Z", "+00:00"))
    return status if ended >= since else {k: v for k, v in status.items() if k != "lastRun"}


def _done(kube_api: Client, ns: str, since: datetime) -> dict[str, Any] | None:
    body = kube_api.get(PersonioSync, "team", namespace=ns)
    return body if "lastRun" in _fresh(kube_api, ns, since) and is_ready(body) else None
