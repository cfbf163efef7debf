"""D-Owner end to end: one owner per absence, on the real API server (issue 7, item 1).

Each test runs one operator process (with its own instance id) against its own fake
awork workspace; absences are counted, and their awork ids compared, in the fake. A
second owner is either a second PersonioSync, or the one-shot CLI with a copy of the
manifest, or absences an older version wrote under the legacy key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alice import CREDS, TODAY, VACATION, alice_seed
from lightkube import Client
from lightkube.resources.core_v1 import Namespace

from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED
from personio_sync.engine.marker import legacy_owner_key, owner_key, parse_marker
from personio_sync_testing.devtools.kube import PersonioSync, create_namespace
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import conditions, is_ready, secret_manifest, sync_manifest

pytestmark = pytest.mark.e2e

INSTANCE = "cluster-a"
PERIODS = ("p-000", "p-001")
DAVE = "5c3d0000-0000-4000-8000-000000000004"
FRANK = "5c3d0000-0000-4000-8000-000000000006"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(alice_seed(len(PERIODS)), today=TODAY) as sb:
        yield sb


def wait_for(
    kube_api: Client, ns: str, name: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kube_api.get(PersonioSync, name, namespace=ns)
        return body if check(body) else None

    return eventually(probe, within=45, interval=0.2, what=f"{ns}/{name}")


def holdings(sandbox: Sandbox) -> dict[str, tuple[str, str]]:
    """awork id → (owner key, period id) of every personio-sync absence in the workspace."""
    found = {}
    for absence in sandbox.awork_state.absences.values():
        parsed = parse_marker(absence.externalProvider)
        if parsed is not None:
            found[absence.id] = parsed
    return found


def owners(sandbox: Sandbox) -> set[str]:
    return {key for key, _ in holdings(sandbox).values()}


def writes(sandbox: Sandbox) -> dict[str, int]:
    return {m: sandbox.awork.journal.count(m) for m in ("POST", "PUT", "DELETE")}


def ready(body: dict[str, Any]) -> tuple[str, str]:
    cond = conditions(body)["Ready"]
    return cond["status"], cond["reason"]


def warnings(kubectl: Kubectl, ns: str, name: str, reason: str) -> list[str]:
    events = json.loads(kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
    return [
        e["message"]
        for e in events
        if e["involvedObject"]["name"] == name and e["type"] == "Warning" and e["reason"] == reason
    ]


def handled(value: str) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        return body["metadata"].get("annotations", {}).get(SYNC_NOW_HANDLED) == value

    return check


def conflicting(body: dict[str, Any]) -> bool:
    return conditions(body).get("Ready", {}).get("reason") == "OwnershipConflict"


def test_d_owner_second_sync_on_one_workspace_conflicts_then_adopts_in_place(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """Two PersonioSyncs on one workspace never duplicate; adoptFrom moves ownership."""
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, "first"))
    start_operator(namespace, env={"PERSONIO_SYNC_INSTANCE_ID": INSTANCE})
    first = wait_for(kube_api, namespace, "first", is_ready)["status"]
    first_key = first["ownerKey"]
    assert first_key == owner_key(namespace, "first", INSTANCE)
    ids = set(holdings(sandbox))
    assert len(ids) == len(PERIODS) and owners(sandbox) == {first_key}

    kubectl.apply(sync_manifest(namespace, "second"))
    body = wait_for(kube_api, namespace, "second", lambda b: "lastRun" in b.get("status", {}))
    status = body["status"]
    second_key = status["ownerKey"]
    assert second_key not in ("", first_key)
    assert ready(body) == ("False", "OwnershipConflict")
    assert first_key in conditions(body)["Ready"]["message"]
    assert status["lastRun"]["conflicts"] == len(PERIODS)
    assert status["lastRun"]["created"] == 0
    assert sorted(c["personioId"] for c in status["conflicts"]) == list(PERIODS)
    assert {c["owner"] for c in status["conflicts"]} == {first_key}
    assert set(holdings(sandbox)) == ids and owners(sandbox) == {first_key}  # no duplicate
    assert eventually(lambda: warnings(kubectl, namespace, "second", "OwnershipConflict"))
    assert all(
        first_key in m and "adoptFrom" in m
        for m in warnings(kubectl, namespace, "second", "OwnershipConflict")
    )

    before = writes(sandbox)
    kubectl.apply(sync_manifest(namespace, "second", adoptFrom=[first_key]))
    body = wait_for(kube_api, namespace, "second", lambda b: is_ready(b) and not conflicting(b))
    assert body["status"]["lastRun"]["updated"] == len(PERIODS)
    assert body["status"].get("conflicts", []) == []
    assert set(holdings(sandbox)) == ids and owners(sandbox) == {second_key}  # rewritten in place
    after = writes(sandbox)
    assert (after["POST"], after["DELETE"]) == (before["POST"], before["DELETE"])
    assert after["PUT"] - before["PUT"] == len(PERIODS)

    kubectl("annotate", "--overwrite", "psync", "first", "-n", namespace, f"{SYNC_NOW}=after")
    body = wait_for(kube_api, namespace, "first", handled("after"))
    assert ready(body) == ("False", "OwnershipConflict")
    assert body["status"]["lastRun"]["conflicts"] == len(PERIODS)
    assert {c["owner"] for c in body["status"]["conflicts"]} == {second_key}
    assert writes(sandbox) == after  # the old owner wrote nothing
    assert owners(sandbox) == {second_key}


def test_d_owner_rename_with_adopt_from_keeps_every_absence(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """Delete the old name (Retain), create the new one adopting the old key: same ids."""
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, "old-name", deletionPolicy="Retain"))
    start_operator(namespace, env={"PERSONIO_SYNC_INSTANCE_ID": INSTANCE})
    old_key = wait_for(kube_api, namespace, "old-name", is_ready)["status"]["ownerKey"]
    ids = set(holdings(sandbox))
    assert len(ids) == len(PERIODS)
    kubectl("delete", "psync", "old-name", "-n", namespace, "--wait=true", "--timeout=45s")
    assert set(holdings(sandbox)) == ids  # Retain: awork untouched
    before = writes(sandbox)

    kubectl.apply(sync_manifest(namespace, "new-name", adoptFrom=[old_key]))
    body = wait_for(kube_api, namespace, "new-name", is_ready)
    new_key = body["status"]["ownerKey"]
    assert new_key == owner_key(namespace, "new-name", INSTANCE) != old_key
    assert body["status"]["lastRun"]["conflicts"] == 0
    assert (body["status"]["lastRun"]["created"], body["status"]["lastRun"]["updated"]) == (
        0,
        len(PERIODS),
    )
    assert set(holdings(sandbox)) == ids and owners(sandbox) == {new_key}
    after = writes(sandbox)
    assert (after["POST"], after["DELETE"]) == (before["POST"], before["DELETE"])


def test_d_owner_same_name_under_two_instance_ids_conflicts(
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    sandbox: Sandbox,
    start_operator: Any,
    tmp_path: Path,
) -> None:
    """The operator and the one-shot CLI with a copy of the manifest are two owners."""
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, "team"))
    start_operator(namespace, env={"PERSONIO_SYNC_INSTANCE_ID": INSTANCE})
    operator_key = wait_for(kube_api, namespace, "team", is_ready)["status"]["ownerKey"]
    assert operator_key == owner_key(namespace, "team", INSTANCE)
    ids = set(holdings(sandbox))
    before = writes(sandbox)

    resource, secret = tmp_path / "team.yaml", tmp_path / "secret.yaml"
    resource.write_text(sync_manifest(namespace, "team"))
    secret.write_text(secret_manifest(namespace, CREDS))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PERSONIO_SYNC_")},
        "PERSONIO_API_URL": sandbox.personio_url,
        "AWORK_API_URL": sandbox.awork_url,
    }
    cli = [sys.executable, "-m", "personio_sync.cli", "sync", "--output", "json"]
    done = subprocess.run(
        [*cli, "--resource", str(resource), "--secret", str(secret), "--instance-id", "staging"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["owner"] == owner_key(namespace, "team", "staging") != operator_key
    assert report["actions"]["conflicts"] == len(PERIODS)
    assert report["actions"]["created"] == report["actions"]["deleted"] == 0
    assert {c["owner"] for c in report["conflicts"]} == {operator_key}
    assert writes(sandbox) == before
    assert set(holdings(sandbox)) == ids and owners(sandbox) == {operator_key}


def test_d_owner_upgrade_from_legacy_keys_adopts_silently(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """Absences written by a version before D-Owner (key from namespace/name only) are
    taken over by the same resource: no conflict, no duplicate, markers rewritten."""
    legacy = legacy_owner_key(namespace, "team")
    user = next(iter(sandbox.awork_state.users))
    for index, period in enumerate(PERIODS):
        start = TODAY.toordinal() + index + 1
        on = type(TODAY).fromordinal(start).isoformat()
        sandbox.awork_state.add_absence(
            {
                "userId": user,
                "startOn": f"{on}T00:00:00Z",
                "endOn": f"{on}T23:59:59Z",
                "description": "Vacation",
                "externalProvider": f"personio-sync:{legacy}:{period}",
            }
        )
    ids = set(holdings(sandbox))
    assert owners(sandbox) == {legacy}
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, "team"))
    start_operator(namespace, env={"PERSONIO_SYNC_INSTANCE_ID": INSTANCE})
    body = wait_for(kube_api, namespace, "team", is_ready)
    status = body["status"]
    assert ready(body) == ("True", "Synced")
    assert status["lastRun"]["conflicts"] == 0 and status.get("conflicts", []) == []
    assert (status["lastRun"]["created"], status["lastRun"]["deleted"]) == (0, 0)
    assert set(holdings(sandbox)) == ids
    assert owners(sandbox) == {owner_key(namespace, "team", INSTANCE)}
    assert writes(sandbox) == {"POST": 0, "PUT": len(PERIODS), "DELETE": 0}
    events = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json"))["items"]
    assert not [e for e in events if e["type"] == "Warning"]


def test_d_privacy_events_logs_and_counts_status_carry_no_email(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """A run with every kind of people problem and a conflict: Events, the operator's log
    and (with statusDetail Counts) the status hold no e-mail address; Lists brings the
    lists back. A mapping onto an already-matched user raises AmbiguousUsers (R8)."""
    foreign = "0123456789ab"
    personio, awork = sandbox.personio_state, sandbox.awork_state
    personio.add_person({"id": "1002", "email": "erin@acme.example", "first_name": "Erin"})
    personio.add_person({"id": "1003", "email": "bob@acme.example", "first_name": "Bob"})
    personio.add_person({"id": "1004", "email": "dave@acme.example", "first_name": "Dave"})
    dave = awork.add_user({"id": DAVE, "firstName": "Dave", "emails": ["dave@acme.example"]})
    awork.add_user({"id": FRANK, "firstName": "Frank", "emails": ["frank@acme.example"]})
    on, after = ((TODAY + timedelta(days=d)).isoformat() for d in (10, 11))
    personio.put_period(
        {"id": "p-dave", "person_id": "1004", "absence_type_id": VACATION,
         "starts_from": {"date_time": f"{on}T00:00:00", "type": "FIRST_HALF"},
         "ends_at": {"date_time": f"{after}T00:00:00", "type": "SECOND_HALF"}}
    )  # fmt: skip
    awork.add_absence(
        {"userId": dave.id, "startOn": f"{on}T00:00:00Z", "endOn": f"{on}T23:59:59Z",
         "externalProvider": f"personio-sync:{foreign}:p-dave"}
    )  # fmt: skip
    mappings = [
        {"personioEmail": "erin@acme.example", "aworkEmail": "alice@acme.example"},
        {"personioEmail": "ghost@acme.example", "aworkEmail": "nobody@acme.example"},
    ]
    kubectl.apply(secret_manifest(namespace, CREDS))
    kubectl.apply(sync_manifest(namespace, "team", userMappings=mappings, statusDetail="Counts"))
    operator = start_operator(namespace, env={"PERSONIO_SYNC_INSTANCE_ID": INSTANCE})
    body = wait_for(kube_api, namespace, "team", lambda b: "lastRun" in b.get("status", {}))
    status = body["status"]
    assert "@" not in json.dumps(status)
    assert ready(body) == ("False", "OwnershipConflict")
    assert status["conflicts"] == [{"personioId": "p-dave", "owner": foreign}]
    assert (status["users"]["ambiguous"], status["users"]["personioOnly"]) == (2, 1)
    assert "2 ambiguous" in status["message"]
    row = kubectl("get", "psync", "team", "-n", namespace).splitlines()
    assert dict(zip(row[0].split(), row[1].split(), strict=False))["AMBIGUOUS"] == "2"
    wanted = ("AmbiguousUsers", "UserMappingNotFound", "OwnershipConflict")
    assert eventually(lambda: all(warnings(kubectl, namespace, "team", r) for r in wanted))
    assert "1 spec.userMappings" in warnings(kubectl, namespace, "team", "AmbiguousUsers")[0]

    kubectl.apply(sync_manifest(namespace, "team", userMappings=mappings, statusDetail="Lists"))
    body = wait_for(
        kube_api,
        namespace,
        "team",
        lambda b: (
            b["status"].get("observedGeneration") == b["metadata"]["generation"]
            and "lastRun" in b["status"]
        ),
    )
    users = body["status"]["users"]
    assert users["ambiguousEmails"] == ["alice@acme.example", "erin@acme.example"]
    assert body["status"]["conflicts"][0]["email"] == "dave@acme.example"
    events = kubectl("get", "events", "-n", namespace, "-o", "json")
    assert [m["message"] for m in json.loads(events)["items"] if "@" in m["message"]] == []
    operator.stop()
    log = operator.log_path.read_text(errors="replace")
    assert "AmbiguousUsers" in log  # the log echoes the Events
    assert [line for line in log.splitlines() if "@" in line] == []


# --- races (issue 15) -------------------------------------------------------------------

OWNED_LISTING = "startswith(externalProvider,'personio-sync:')"


@pytest.fixture
def neighbour(cluster: Any, kube_api: Client, namespace: str) -> Iterator[str]:
    """A second fresh namespace beside the test's own."""
    name = f"{namespace}-b"
    create_namespace(kube_api, name, labels={"personio-sync.dev/e2e": "true"})
    yield name
    if not cluster.local:
        kube_api.delete(Namespace, name)


def per_period(sandbox: Sandbox) -> Counter[str]:
    return Counter(period for _, period in holdings(sandbox).values())


def reads_of_awork(sandbox: Sandbox) -> int:
    """How many runs have listed the workspace's personio-sync absences."""
    return sum(
        1
        for e in sandbox.awork.journal.entries()
        if e.method == "GET" and e.query.get("filterby") == OWNED_LISTING
    )


def race_first_runs(
    kubectl: Kubectl,
    kube_api: Client,
    sandbox: Sandbox,
    namespaces: tuple[str, str],
    start: Callable[[], object],
    raced: Callable[[], bool],
) -> list[dict[str, Any]]:
    """awork holds every write; `start()` the operators; both resources are created with
    one kubectl apply (the same moment); writes flow again once `raced()`. Returns both
    resources after their first runs."""
    sandbox.awork.set_knobs(hold_writes=True)
    for ns in namespaces:
        kubectl.apply(secret_manifest(ns, CREDS))
    start()
    kubectl.apply("\n---\n".join(sync_manifest(ns) for ns in namespaces))
    eventually(raced, within=45, what="the racing first runs")
    sandbox.awork.set_knobs(hold_writes=False)
    done = [wait_for(kube_api, ns, "team", lambda b: "lastRun" in b.get("status", {}))
            for ns in namespaces]  # fmt: skip
    return done


def hand_made_on_the_first_day(sandbox: Sandbox) -> dict[str, Any]:
    on = (TODAY + timedelta(days=1)).isoformat()
    user = next(iter(sandbox.awork_state.users))
    absence = sandbox.awork_state.add_absence(
        {"userId": user, "startOn": f"{on}T00:00:00Z", "endOn": f"{on}T23:59:59Z",
         "description": "Dentist (entered in awork)"}
    )  # fmt: skip
    return absence.model_dump()


def test_d_writer_two_resources_of_one_installation_created_at_once_never_duplicate(
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    neighbour: str,
    sandbox: Sandbox,
    start_operator: Any,
) -> None:
    """Two PersonioSyncs in two namespaces of one installation (one operator process),
    same Personio, same awork workspace, created at the same moment. awork holds every
    write until both runs have read it: the second run waits for the periods the first
    claimed, reads again what the first wrote, and reports conflicts instead of creating."""
    runs = race_first_runs(
        kubectl,
        kube_api,
        sandbox,
        (namespace, neighbour),
        lambda: start_operator(namespace, neighbour, env={"PERSONIO_SYNC_INSTANCE_ID": INSTANCE}),
        # both runs have read awork, and the first one's creates are held
        lambda: reads_of_awork(sandbox) >= 2 and sandbox.awork.in_flight >= len(PERIODS),
    )
    assert per_period(sandbox) == Counter(dict.fromkeys(PERIODS, 1))
    last = sorted((b["status"]["lastRun"]["created"], b["status"]["lastRun"]["conflicts"])
                  for b in runs)  # fmt: skip
    assert last == [(0, len(PERIODS)), (len(PERIODS), 0)]
    loser = next(b for b in runs if b["status"]["lastRun"]["conflicts"])
    assert ready(loser) == ("False", "OwnershipConflict")


def test_d_settle_two_installations_on_one_workspace_settle_after_one_more_run_each(
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    neighbour: str,
    sandbox: Sandbox,
    start_operator: Any,
) -> None:
    """Two installations on one awork workspace: two operator processes with different
    instance ids, each serving its own namespace. That is what two clusters are to the
    operator: different owner keys, and nothing shared but Personio and awork (no lock,
    no Lease, no API object in common), so a second API server would add nothing here.
    awork holds every write until both first runs have planned: both create every period.
    One more run each removes the duplicates: for each period the owner of the copy
    awork created first keeps it, the other deletes its own and reports the conflict;
    the hand-made absence on the same day is untouched."""
    hand = hand_made_on_the_first_day(sandbox)

    def two_installations() -> None:
        start_operator(namespace, env={"PERSONIO_SYNC_INSTANCE_ID": "cluster-a"})
        start_operator(neighbour, env={"PERSONIO_SYNC_INSTANCE_ID": "cluster-b"})

    race_first_runs(
        kubectl,
        kube_api,
        sandbox,
        (namespace, neighbour),
        two_installations,
        lambda: sandbox.awork.in_flight >= 2 * len(PERIODS),  # both create every period
    )
    assert per_period(sandbox) == Counter(dict.fromkeys(PERIODS, 2))  # the race happened

    for ns in (namespace, neighbour):
        kubectl("annotate", "--overwrite", "psync", "team", "-n", ns, f"{SYNC_NOW}=settle")
    second = {
        ns: wait_for(kube_api, ns, "team", handled("settle")) for ns in (namespace, neighbour)
    }
    assert per_period(sandbox) == Counter(dict.fromkeys(PERIODS, 1))
    holder = {period: key for key, period in holdings(sandbox).values()}
    conflicts = [c for body in second.values() for c in body["status"].get("conflicts", [])]
    assert sorted(c["personioId"] for c in conflicts) == list(PERIODS)  # each on its loser
    assert all(holder[c["personioId"]] == c["owner"] for c in conflicts)
    for body in second.values():
        lost = body["status"]["lastRun"]["conflicts"]
        assert body["status"]["lastRun"]["deleted"] == lost
        assert ready(body)[1] == ("OwnershipConflict" if lost else "Synced")
    assert sandbox.awork_state.absences[hand["id"]].model_dump() == hand
