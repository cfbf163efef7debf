"""The operator as a real process on the real API server, Personio and awork as fakes (R17-R23).

Each test gets a fresh namespace, its own sandbox and its own operator watching only
that namespace. Runs are counted in the fake Personio's request journal (one
`GET /v2/absence-types` per run) and triggered with the sync-now annotation, so no
test waits for an interval. Every wait polls with a deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from lightkube import Client

from personio_sync.controller.context import FINALIZER, SYNC_NOW, SYNC_NOW_HANDLED
from personio_sync.resource.spec import ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED
from personio_sync_testing.devtools.kube import MERGE, PersonioSync
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import (
    conditions,
    is_ready,
    secret_manifest,
    sync_manifest,
)

pytestmark = pytest.mark.e2e

VACATION = "7d0a8c1e-0001-4a6b-9c1d-000000000001"
ALICE_AWORK = "5c3d0000-0000-4000-8000-000000000001"
HAND_MADE = "5c3d0000-0000-4000-8000-0000000000f1"
API_USER = "5c3d0000-0000-4000-8000-0000000000a1"
TODAY = datetime.now(ZoneInfo("Europe/Berlin")).date()
CREDS = {
    "personioClientId": "acme-client-3b7e",
    "personioClientSecret": "acme-secret-9d2f41",
    "aworkApiKey": "acme-awork-key-5c8e17",
}

WRONG = {"key": "wrong-key-71c0e2", "secret": "wrong-secret-4be9d3", "rotated": "rotated-key-2f6a"}
# Checked against every operator log by the start_operator fixture (tests/e2e/conftest.py).
CREDENTIAL_VALUES = (*CREDS.values(), *WRONG.values())


def period(pid: str, person: str, start: int, end: int) -> dict[str, Any]:
    """A full-day Personio period from today+start to today+end (inclusive)."""
    return {
        "id": pid,
        "person_id": person,
        "absence_type_id": VACATION,
        "starts_from": {"date_time": f"@today+{start}T00:00:00", "type": "FIRST_HALF"},
        "ends_at": {"date_time": f"@today+{end + 1}T00:00:00", "type": "SECOND_HALF"},
    }


SEED: dict[str, Any] = {
    "personio": {
        "credentials": [
            {"client_id": CREDS["personioClientId"], "client_secret": CREDS["personioClientSecret"],
             "email_readable": True,
             "scopes": ["personio:persons:read", "personio:absences:read"]},
        ],
        "absence_types": [{"id": VACATION, "name": "Vacation", "category": "PAID_VACATION",
                           "unit": "DAY"}],
        "persons": [
            {"id": "1001", "email": "alice@acme.example", "first_name": "Alice"},
            {"id": "1004", "email": "dave@acme.example", "first_name": "Dave"},
        ],
        "absence_periods": [
            period("p-alice-1", "1001", 7, 9),
            period("p-alice-2", "1001", 20, 20),
            period("p-dave-1", "1004", 14, 15),
        ],
    },
    "awork": {
        "api_keys": [{"key": CREDS["aworkApiKey"], "api_user_id": API_USER}],
        "api_users": [{"id": API_USER, "name": "personio-sync"}],
        "users": [
            {"id": ALICE_AWORK, "firstName": "Alice", "emails": ["alice@acme.example"]},
            {"id": "5c3d0000-0000-4000-8000-000000000006", "firstName": "Frank",
             "emails": ["frank@acme.example"]},
        ],
        "absences": [
            {"id": HAND_MADE, "userId": ALICE_AWORK, "startOn": "@today+25T00:00:00Z",
             "endOn": "@today+25T23:59:59Z", "description": "Dentist (entered in awork)"},
        ],
    },
}  # fmt: skip


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SEED, today=TODAY) as sb:
        yield sb


def apply_secret(kubectl: Kubectl, ns: str, values: dict[str, str], name: str = "creds") -> None:
    kubectl.apply(secret_manifest(ns, values, name))


def apply_sync(kubectl: Kubectl, ns: str, name: str = "team", **spec: Any) -> None:
    kubectl.apply(sync_manifest(ns, name, **spec))


def wait_for(
    kube_api: Client, ns: str, check: Callable[[dict[str, Any]], bool], name: str = "team"
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kube_api.get(PersonioSync, name, namespace=ns)
        return body if check(body) else None

    return eventually(probe, within=45, interval=0.2, what=f"{ns}/{name}")


def runs(sandbox: Sandbox) -> int:
    return sandbox.personio.journal.count("GET", "/v2/absence-types")


def awork_writes(sandbox: Sandbox) -> int:
    return sum(sandbox.awork.journal.count(m) for m in ("POST", "PUT", "DELETE", "PATCH"))


def owned(sandbox: Sandbox) -> dict[str, Any]:
    """Owned awork absences by Personio period id (the marker's last part)."""
    return {
        str(a.externalProvider).rsplit(":", 1)[-1]: a
        for a in sandbox.awork_state.absences.values()
        if a.externalProvider
    }


def sync_now(kubectl: Kubectl, ns: str, value: str, name: str = "team") -> None:
    kubectl("annotate", "--overwrite", "psync", name, "-n", ns, f"{SYNC_NOW}={value}")


def handled(value: str) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        return body["metadata"].get("annotations", {}).get(SYNC_NOW_HANDLED) == value

    return check


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


# -- the tests ---------------------------------------------------------------------------------


def test_r20_first_sync_status_users_absences_and_describe(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    start_operator(namespace)
    body = wait_for(kube_api, namespace, is_ready)
    status = body["status"]
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert status["users"]["matchedEmails"] == ["alice@acme.example"]
    assert status["users"]["personioOnlyEmails"] == ["dave@acme.example"]
    assert status["users"]["aworkOnlyEmails"] == ["frank@acme.example"]
    assert status["lastRun"]["created"] == 2 and status["lastRun"]["failed"] == 0
    assert status["lastSyncTime"] == status["lastSuccessfulSyncTime"]
    assert {c["status"] for c in conditions(body).values()} == {"True"}
    absences = owned(sandbox)
    assert set(absences) == {"p-alice-1", "p-alice-2"}
    assert absences["p-alice-1"].startOn.date() == day(7)
    assert absences["p-alice-1"].endOn.date() == day(9)
    assert HAND_MADE in sandbox.awork_state.absences  # R12: hand-made stays
    assert FINALIZER not in body["metadata"].get("finalizers", [])  # R19: Retain
    described = kubectl("describe", "psync", "team", "-n", namespace)
    assert "alice@acme.example" in described and "dave@acme.example" in described
    assert "Last Sync Time:" in described and "Synced" in described
    table = kubectl("get", "psync", "-n", namespace)
    assert table.split("\n")[1].split()[:5] == ["team", "True", "1", "1", "1"]


def test_r13_personio_changes_and_cancellations_converge_on_sync_now(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    start_operator(namespace)
    wait_for(kube_api, namespace, is_ready)
    new = period("p-alice-3", "1001", 30, 31)
    new["starts_from"]["date_time"] = f"{day(30).isoformat()}T00:00:00"
    new["ends_at"]["date_time"] = f"{day(32).isoformat()}T00:00:00"
    sandbox.personio_state.put_period(new)
    sandbox.personio_state.cancel("p-alice-2")
    sync_now(kubectl, namespace, "1")
    body = wait_for(kube_api, namespace, handled("1"))
    assert set(owned(sandbox)) == {"p-alice-1", "p-alice-3"}
    assert body["status"]["lastRun"]["created"] == 1
    assert body["status"]["lastRun"]["deleted"] == 1
    assert HAND_MADE in sandbox.awork_state.absences


def test_d_guard_empty_personio_answer_is_held_until_the_annotation_allows_it(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    start_operator(namespace)
    wait_for(kube_api, namespace, is_ready)
    sandbox.personio.set_knobs(list_cap={"periods": 0})  # 200, but no periods at all
    sync_now(kubectl, namespace, "1")
    body = wait_for(kube_api, namespace, handled("1"))
    ready = conditions(body)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "MassDeletionHeld")
    assert ALLOW_MASS_DELETE in ready["message"]
    assert body["status"]["lastRun"]["heldDeletes"] == 2
    assert set(owned(sandbox)) == {"p-alice-1", "p-alice-2"}
    events = yaml.safe_load(kubectl("get", "events", "-n", namespace, "-o", "json"))["items"]
    assert any(e["reason"] == "MassDeletionHeld" for e in events)

    kubectl("annotate", "--overwrite", "psync", "team", "-n", namespace, f"{ALLOW_MASS_DELETE}=ok")

    def consent_used(b: dict[str, Any]) -> bool:
        return b["metadata"].get("annotations", {}).get(ALLOW_MASS_DELETE_HANDLED) == "ok"

    body = wait_for(kube_api, namespace, lambda b: consent_used(b) and is_ready(b))
    assert body["status"]["lastRun"]["deleted"] == 2 and owned(sandbox) == {}
    assert HAND_MADE in sandbox.awork_state.absences


# SEC-1: the Secret is read at each wake-up, at least every this many seconds (300 in
# production); short here so that rotation tests need no annotation.
SECRET_CHECK = {"PERSONIO_SYNC_SECRET_CHECK_SECONDS": "1"}


def test_r17_sec_1_rotated_secret_triggers_a_run_with_the_new_key(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """No watch on Secrets (SEC-1): the worker's periodic GET notices the new version."""
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    operator = start_operator(namespace, env=SECRET_CHECK)
    first = wait_for(kube_api, namespace, is_ready)["status"]["lastSyncTime"]
    before = runs(sandbox)
    sandbox.awork_state.add_api_key(WRONG["rotated"])
    sandbox.awork_state.revoke_api_key(CREDS["aworkApiKey"])  # the old key is refused now
    apply_secret(kubectl, namespace, {**CREDS, "aworkApiKey": WRONG["rotated"]})
    body = wait_for(kube_api, namespace, lambda b: runs(sandbox) > before and is_ready(b))
    assert conditions(body)["AworkCredentialsValid"]["status"] == "True"
    assert body["status"]["lastSyncTime"] >= first
    assert SYNC_NOW_HANDLED not in body["metadata"].get("annotations", {})  # no annotation used
    assert "sync started (SecretChanged)" in operator.log_tail(500)


@pytest.mark.parametrize(
    ("values", "condition", "reason"),
    [
        ({**CREDS, "aworkApiKey": WRONG["key"]}, "AworkCredentialsValid",
         "AworkCredentialsRejected"),
        ({**CREDS, "personioClientSecret": WRONG["secret"]}, "PersonioCredentialsValid",
         "PersonioCredentialsRejected"),
        ({k: v for k, v in CREDS.items() if k != "aworkApiKey"}, "AworkCredentialsValid",
         "SecretKeyMissing"),
    ],
)  # fmt: skip
def test_r23_bad_credentials_show_as_condition_and_awork_is_untouched(
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    sandbox: Sandbox,
    start_operator: Any,
    values: dict[str, str],
    condition: str,
    reason: str,
) -> None:
    apply_secret(kubectl, namespace, values)
    apply_sync(kubectl, namespace)
    start_operator(namespace)
    body = wait_for(kube_api, namespace, lambda b: "lastSyncTime" in b.get("status", {}))
    cond = conditions(body)[condition]
    assert (cond["status"], cond["reason"]) == ("False", reason)
    assert conditions(body)["Ready"]["reason"] == reason
    assert awork_writes(sandbox) == 0
    events = kubectl("get", "events", "-n", namespace, "-o", "json")
    warnings = [e for e in yaml.safe_load(events)["items"] if e["type"] == "Warning"]
    assert any(e["reason"] == reason for e in warnings)
    for secret in values.values():  # R21: nothing of the Secret in status or events
        assert secret not in str(body["status"]) and secret not in events


def test_r23_sec_1_missing_secret_is_reported_then_picked_up_when_created(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_sync(kubectl, namespace)
    operator = start_operator(namespace, env=SECRET_CHECK)
    body = wait_for(kube_api, namespace, lambda b: "lastSyncTime" in b.get("status", {}))
    cond = conditions(body)["PersonioCredentialsValid"]
    assert cond["reason"] == "SecretNotFound" and "'creds'" in cond["message"]
    assert awork_writes(sandbox) == 0
    apply_secret(kubectl, namespace, CREDS)  # the Secret check triggers a run: no annotation
    wait_for(kube_api, namespace, is_ready)
    assert "sync started (SecretChanged)" in operator.log_tail(500)  # not the retry
    assert set(owned(sandbox)) == {"p-alice-1", "p-alice-2"}


def test_r23_unknown_time_zone_is_reported_once_and_nothing_runs(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """The CRD cannot check IANA names; the operator refuses it with a named field."""
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace, timeZone="Europe/Atlantis")
    start_operator(namespace)
    body = wait_for(kube_api, namespace, lambda b: "conditions" in b.get("status", {}))
    ready = conditions(body)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.timeZone" in ready["message"] and "Europe/Atlantis" in ready["message"]
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    assert "lastSyncTime" not in body["status"]
    apply_sync(kubectl, namespace, timeZone="Europe/Berlin")  # fixing it runs at once
    wait_for(kube_api, namespace, is_ready)
    assert runs(sandbox) == 1


def test_r17_restart_neither_bursts_nor_misses(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    first = start_operator(namespace)
    wait_for(kube_api, namespace, is_ready)
    first.stop()
    assert runs(sandbox) == 1
    # Not due: a restart must not run. The annotation afterwards proves the operator has
    # looked at the resource; it must cause exactly one run, so the total is 2.
    second = start_operator(namespace)
    sync_now(kubectl, namespace, "after-restart")
    wait_for(kube_api, namespace, handled("after-restart"))
    assert runs(sandbox) == 2
    second.stop()
    # Due while down: the restart runs exactly once, then waits a full interval.
    overdue = (datetime.now(ZoneInfo("UTC")) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube_api.patch(
        PersonioSync.Status, "team", namespace=namespace, patch_type=MERGE,
        obj={"status": {"lastSyncTime": overdue, "lastSuccessfulSyncTime": overdue,
                    "nextSyncTime": overdue}},
    )  # fmt: skip
    start_operator(namespace)
    body = wait_for(kube_api, namespace, lambda b: b["status"]["lastSyncTime"] > overdue)
    assert runs(sandbox) == 3
    next_sync = datetime.fromisoformat(body["status"]["nextSyncTime"])
    last_sync = datetime.fromisoformat(body["status"]["lastSyncTime"])
    assert next_sync - last_sync == timedelta(hours=1)
    sync_now(kubectl, namespace, "later")
    wait_for(kube_api, namespace, handled("later"))
    assert runs(sandbox) == 4


def run_started(body: dict[str, Any]) -> datetime:
    """When the last completed run started, from its status (whole seconds)."""
    status = body["status"]
    end = datetime.fromisoformat(status["lastSyncTime"])
    return end - timedelta(seconds=status["lastRun"]["durationSeconds"])


def test_fair_6_sync_now_is_spaced_per_resource_and_never_dropped(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """With a 10 s spacing, a request right after a run waits for the spacing to pass and
    then runs; two requests inside one spacing make one run. Only the order and the
    persisted times are checked, never how fast anything was."""
    spacing = 10
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    start_operator(namespace, env={"PERSONIO_SYNC_SYNC_NOW_SPACING_SECONDS": str(spacing)})
    created = wait_for(kube_api, namespace, is_ready)
    sync_now(kubectl, namespace, "a")
    first = wait_for(kube_api, namespace, handled("a"))
    # Whole-second time stamps: a start may read up to a second early.
    assert run_started(first) - run_started(created) >= timedelta(seconds=spacing - 1)
    count = runs(sandbox)
    sync_now(kubectl, namespace, "b")
    sync_now(kubectl, namespace, "c")
    second = wait_for(kube_api, namespace, handled("c"))
    assert runs(sandbox) == count + 1  # b and c served by one run, neither dropped
    assert run_started(second) - run_started(first) >= timedelta(seconds=spacing - 1)


def event_message(kubectl: Kubectl, ns: str, reason: str) -> str:
    """The message of the first Event with `reason` in `ns`, once there is one."""

    def probe() -> str | None:
        listed = yaml.safe_load(kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
        return next((e["message"] for e in listed if e["reason"] == reason), None)

    return eventually(probe, within=45, interval=0.2, what=f"a {reason} Event in {ns}")


def test_ux_17_a_deferred_sync_now_says_when_it_runs(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    """An hour's spacing, so the request is surely inside it: the Event names the time,
    an hour after the first run started, and the request stays pending until then."""
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace)
    start_operator(namespace, env={"PERSONIO_SYNC_SYNC_NOW_SPACING_SECONDS": "3600"})
    created = wait_for(kube_api, namespace, is_ready)
    sync_now(kubectl, namespace, "later")
    message = event_message(kubectl, namespace, "SyncRequestDeferred")
    runs_at = (run_started(created) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"it runs at {runs_at}" in message
    assert not handled("later")(kube_api.get(PersonioSync, "team", namespace=namespace))
    assert runs(sandbox) == 1


def test_r18_ux_17_suspend_stops_syncs_and_says_so(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace, suspend=True)
    start_operator(namespace)
    body = wait_for(kube_api, namespace, lambda b: b.get("status", {}).get("suspended") is True)
    assert conditions(body)["Ready"]["reason"] == "Suspended"
    assert "nextSyncTime" not in body["status"]
    sync_now(kubectl, namespace, "while-suspended")
    ignored = event_message(kubectl, namespace, "SyncRequestIgnored")  # UX-17
    assert "ignored while spec.suspend is true" in ignored
    apply_sync(kubectl, namespace, suspend=False)
    body = wait_for(kube_api, namespace, lambda b: is_ready(b) and handled("while-suspended")(b))
    assert runs(sandbox) == 1  # one run after resuming, none while suspended
    assert body["status"]["suspended"] is False


def test_r16_dry_run_reports_the_plan_and_writes_nothing(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace, dryRun=True)
    start_operator(namespace)
    body = wait_for(kube_api, namespace, is_ready)
    assert conditions(body)["Synced"]["reason"] == "DryRun"
    planned = body["status"]["lastRun"]["planned"]
    assert {p["personioId"] for p in planned} == {"p-alice-1", "p-alice-2"}
    assert awork_writes(sandbox) == 0 and owned(sandbox) == {}


def test_r19_delete_policy_removes_exactly_the_owned_absences(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    # Each resource syncs its own absence type: two resources holding the same periods
    # would be an ownership conflict (D-Owner), and only one of them would own any.
    sick = "7d0a8c1e-0002-4a6b-9c1d-000000000002"
    state = sandbox.personio_state
    state.put_absence_type({"id": sick, "name": "Sick", "category": "SICK", "unit": "DAY"})
    for index, offset in enumerate((30, 33)):
        first, after = TODAY + timedelta(days=offset), TODAY + timedelta(days=offset + 1)
        state.put_period({
            "id": f"p-alice-sick-{index}", "person_id": "1001", "absence_type_id": sick,
            "starts_from": {"date_time": f"{first}T00:00:00", "type": "FIRST_HALF"},
            "ends_at": {"date_time": f"{after}T00:00:00", "type": "SECOND_HALF"},
        })  # fmt: skip
    apply_secret(kubectl, namespace, CREDS)
    apply_sync(kubectl, namespace, deletionPolicy="Delete", absenceTypes={"include": ["Vacation"]})
    # Retain: its absences must survive
    apply_sync(kubectl, namespace, name="keep", absenceTypes={"include": ["Sick"]})
    start_operator(namespace)
    body = wait_for(kube_api, namespace, lambda b: is_ready(b) and FINALIZER in b["metadata"].get(
        "finalizers", []))  # fmt: skip
    keep = wait_for(kube_api, namespace, is_ready, name="keep")
    assert FINALIZER not in keep["metadata"].get("finalizers", [])
    markers = {a.externalProvider for a in sandbox.awork_state.absences.values()}
    assert len(markers - {None}) == 4  # two per resource
    kubectl("delete", "psync", "team", "-n", namespace, "--wait=true", "--timeout=45s")
    left = sandbox.awork_state.absences.values()
    assert HAND_MADE in sandbox.awork_state.absences
    assert len([a for a in left if a.externalProvider]) == 2  # only "keep"'s
    # Delete -> Retain takes the finalizer off again; deleting then leaves awork alone.
    apply_sync(kubectl, namespace, name="keep", deletionPolicy="Delete",
               absenceTypes={"include": ["Sick"]})  # fmt: skip
    wait_for(kube_api, namespace, lambda b: FINALIZER in b["metadata"].get("finalizers", []),
             name="keep")  # fmt: skip
    apply_sync(kubectl, namespace, name="keep", deletionPolicy="Retain",
               absenceTypes={"include": ["Sick"]})  # fmt: skip
    wait_for(kube_api, namespace, lambda b: FINALIZER not in b["metadata"].get("finalizers", []),
             name="keep")  # fmt: skip
    assert body["metadata"]["name"] == "team"
