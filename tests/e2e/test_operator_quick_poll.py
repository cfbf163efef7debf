"""NRT-4 on the real API server: with no webhook, a change in Personio reaches awork
through quick polling alone; no full sync, annotation or Secret change triggers it.

`quickInterval` is at least 1m (the API server refuses less), so the change waits for the
poll a minute after the first one; every wait polls with a deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from alice import ALICE, CREDS, TODAY, alice_seed, one_day
from lightkube import Client

from personio_sync_testing.devtools.kube import PersonioSync
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import OperatorProcess, secret_manifest, sync_manifest

pytestmark = pytest.mark.e2e

QUICK = {"PERSONIO_SYNC_CHANGE_DEBOUNCE_SECONDS": "0.5"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(alice_seed(2), today=TODAY) as sb:
        yield sb


def day(offset: int) -> dict[str, Any]:
    """A full day today+offset as Personio sends it (exclusive next-midnight end)."""
    first = TODAY + timedelta(days=offset)
    return {
        "starts_from": {"date_time": f"{first}T00:00:00", "type": "FIRST_HALF"},
        "ends_at": {"date_time": f"{first + timedelta(days=1)}T00:00:00", "type": "SECOND_HALF"},
    }


def owned(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """period id → its awork absence, for every absence the operator wrote."""
    found = {}
    for absence in sandbox.awork_state.dump()["absences"]:
        marker = absence.get("externalProvider") or ""
        if marker.startswith("personio-sync:"):
            found[marker.rsplit(":", 1)[1]] = absence
    return found


def test_nrt_4_a_change_reaches_awork_through_quick_polling_alone(
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    sandbox: Sandbox,
    start_operator: Callable[..., OperatorProcess],
) -> None:
    operator = start_operator(namespace, env=QUICK)
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, interval="1h", quickInterval="1m"))

    def status() -> dict[str, Any]:
        return kube_api.get(PersonioSync, "team", namespace=namespace).get("status") or {}

    eventually(lambda: set(owned(sandbox)) == {"p-000", "p-001"}, within=45, what="first sync")
    first = eventually(lambda: status().get("lastSyncTime"), within=30, what="first status")

    sandbox.personio_state.put_period({**one_day(0), "id": "p-new", **day(30)})
    sandbox.personio_state.move_period("p-001", **day(40))

    def arrived() -> bool:
        held = owned(sandbox)
        return "p-new" in held and held["p-001"]["startOn"].startswith(
            str(TODAY + timedelta(days=40))
        )

    eventually(arrived, within=90, what="the change in awork (the next poll is 1m away)")
    assert owned(sandbox)["p-new"]["userId"] == ALICE

    def recorded() -> dict[str, Any] | None:
        now = status()
        last = now.get("lastTargetedSync") or {}
        return now if last.get("created", 0) + last.get("updated", 0) else None

    final = eventually(recorded, within=15, what="status.lastTargetedSync")
    assert final["lastSyncTime"] == first, "a full sync ran: the poll was not alone"
    assert final["lastTargetedSync"]["source"] == "poll"
    assert final["lastTargetedSync"]["outcome"] == "Synced"
    labels = f'namespace="{namespace}",source="poll"'  # per namespace (METRICS-4)
    latency = f"personio_sync_change_latency_seconds_count{{{labels}}}"
    counts = [line for line in operator.metrics().splitlines() if line.startswith(latency)]
    assert counts and float(counts[0].split()[-1]) >= 1, "no change-to-awork latency observed"
