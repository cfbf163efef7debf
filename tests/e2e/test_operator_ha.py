"""High availability: replicas elect one leader through a Lease (D-Lease, issues #4 and #11).

Two real operator processes share a coordination.k8s.io/v1 Lease in the test's
namespace (POD_NAMESPACE). Only the leader syncs; a standby takes over when the leader
stops (at once), dies (after the lease duration) or freezes, and a frozen leader that
wakes up writes nothing. Hand-over times are printed (`-s` shows them), not asserted
beyond a generous deadline: tests assert behaviour, never speed.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alice import CREDS, TODAY, alice_seed
from lightkube import ApiError, Client
from lightkube.resources.coordination_v1 import Lease

from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED
from personio_sync_testing.devtools.kube import PersonioSync
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import (
    OperatorProcess,
    is_ready,
    secret_manifest,
    sync_manifest,
)

pytestmark = pytest.mark.e2e

LEASE = "ha"
PERIODS = 150
WRITES = ("POST", "PUT", "DELETE")
ABANDONED = "run abandoned, the lease was lost"  # the worker's one line


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(alice_seed(PERIODS), today=TODAY) as sb:
        yield sb


@pytest.fixture
def replica(
    start_operator: Callable[..., OperatorProcess], namespace: str
) -> Callable[[str], OperatorProcess]:
    """`replica("a")`: an operator process electing through the Lease, POD_ID replica-a;
    one shard, whose Lease is the leader Lease (SHARD-7)."""

    def start(name: str) -> OperatorProcess:
        env = {"POD_NAMESPACE": namespace, "POD_ID": f"replica-{name}", "PERSONIO_SYNC_SHARDS": "1"}
        return start_operator(namespace, env=env, extra_args=[f"--peering={LEASE}"])

    return start


def holder(kube_api: Client, namespace: str) -> str:
    """The Lease's holder, as "a"/"b" ("" while free or not there yet)."""
    try:
        lease = kube_api.get(Lease, LEASE, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return ""
        raise
    identity = str((lease.spec and lease.spec.holderIdentity) or "")
    return identity.split("/")[0].removeprefix("replica-")


def runs(sandbox: Sandbox) -> int:
    return sandbox.personio.journal.count("GET", "/v2/absence-types")


def awork_writes(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.awork.journal.entries() if e.method in WRITES)


def absences_per_period(sandbox: Sandbox) -> Counter[str]:
    markers = [a.externalProvider or "" for a in sandbox.awork_state.absences.values()]
    return Counter(m.rsplit(":", 1)[-1] for m in markers if m.startswith("personio-sync:"))


def request_sync(kubectl: Kubectl, kube_api: Client, namespace: str, value: str) -> None:
    kubectl("annotate", "--overwrite", "psync", "team", "-n", namespace, f"{SYNC_NOW}={value}")


def handled(kube_api: Client, namespace: str, value: str) -> bool:
    body = kube_api.get(PersonioSync, "team", namespace=namespace)
    return bool(body["metadata"].get("annotations", {}).get(SYNC_NOW_HANDLED) == value)


def ready(kube_api: Client, namespace: str) -> bool:
    return is_ready(kube_api.get(PersonioSync, "team", namespace=namespace))


def create_resource(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace))


def leader_synced_then_standby(
    kubectl: Kubectl, kube_api: Client, namespace: str, replica: Any
) -> tuple[Any, Any]:
    """Replica a leads and has run the first sync; then replica b starts as its standby."""
    leader = replica("a")
    eventually(lambda: holder(kube_api, namespace) == "a", within=30, what="a leading")
    create_resource(kubectl, namespace)
    eventually(lambda: ready(kube_api, namespace), within=60, what="first sync")
    return leader, replica("b")


def test_d_lease_one_replica_leads_and_a_clean_stop_hands_over_at_once(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, replica: Any
) -> None:
    leader, standby = leader_synced_then_standby(kubectl, kube_api, namespace, replica)
    request_sync(kubectl, kube_api, namespace, "while-both-run")
    eventually(lambda: handled(kube_api, namespace, "while-both-run"), within=45)
    assert runs(sandbox) == 2  # the first sync and this one: the standby did nothing
    assert holder(kube_api, namespace) == "a"

    stopped = time.monotonic()
    leader.stop()  # SIGTERM: the leader releases the Lease on its way out
    eventually(lambda: holder(kube_api, namespace) == "b", within=30, what="b leading")
    print(f"clean stop: b holds the lease {time.monotonic() - stopped:.1f} s after SIGTERM")
    request_sync(kubectl, kube_api, namespace, "after-failover")
    eventually(lambda: handled(kube_api, namespace, "after-failover"), within=45)
    assert runs(sandbox) == 3
    assert standby.metrics().count('outcome="success"} 1.0') == 1


def test_d_lease_a_standby_takes_over_after_kill_9(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, replica: Any
) -> None:
    leader, standby = leader_synced_then_standby(kubectl, kube_api, namespace, replica)

    killed = time.monotonic()
    leader.send_signal(signal.SIGKILL)  # no release: b waits out the lease
    request_sync(kubectl, kube_api, namespace, "after-kill")
    eventually(lambda: holder(kube_api, namespace) == "b", within=60, interval=0.2,
               what="b leading")  # fmt: skip
    took_over = time.monotonic() - killed
    eventually(lambda: handled(kube_api, namespace, "after-kill"), within=60, interval=0.2,
               what="b syncing")  # fmt: skip
    synced = time.monotonic() - killed
    print(f"kill -9: b holds the lease after {took_over:.1f} s, has synced after {synced:.1f} s")
    assert runs(sandbox) == 2
    assert standby.metrics().count('outcome="success"} 1.0') == 1


def test_d_lease_a_frozen_leader_writes_nothing_when_it_resumes(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, replica: Any
) -> None:
    """SIGSTOP mid-run for longer than the lease; the standby finishes; SIGCONT: the old
    leader's out-of-date plan is abandoned at the fence: no duplicate, no write at all."""
    sandbox.awork.set_knobs(latency_ms=400)  # a run of 150 creates takes seconds
    leader = replica("a")
    eventually(lambda: holder(kube_api, namespace) == "a", within=30, what="a leading")
    standby = replica("b")
    create_resource(kubectl, namespace)
    eventually(lambda: awork_writes(sandbox) >= 20, within=60, interval=0.05, what="a writing")

    leader.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    eventually(lambda: holder(kube_api, namespace) == "b", within=60, interval=0.2,
               what="b leading")  # fmt: skip
    took_over = time.monotonic() - frozen
    eventually(lambda: ready(kube_api, namespace), within=90, what="b's run")
    assert sorted(absences_per_period(sandbox).values()) == [1] * PERIODS
    writes = awork_writes(sandbox)
    assert time.monotonic() - frozen > 15  # longer than the lease

    leader.send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    print(f"SIGSTOP: b holds the lease after {took_over:.1f} s; resumed {resumed - frozen:.1f} s")
    eventually(lambda: ABANDONED in leader.log_tail(), within=30, what="a abandoning")
    assert awork_writes(sandbox) == writes
    assert sorted(absences_per_period(sandbox).values()) == [1] * PERIODS
    assert holder(kube_api, namespace) == "b"
    assert standby.metrics().count('outcome="success"} 1.0') == 1
    assert 'outcome="success"} 1.0' not in leader.metrics()
