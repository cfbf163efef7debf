"""Webhooks end to end (issue 9, HOOK-1..6): the fake Personio delivers to the operator's
receiver, a real process on the real API server. The resource's interval is a day and
no sync-now annotation is set (except where the full sync is the point), so a change
reaching awork came through the webhook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from lightkube import Client

from personio_sync.controller.context import SYNC_NOW, SYNC_NOW_HANDLED
from personio_sync_testing.devtools.kube import PersonioSync
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.personio.webhooks import WebhookFields
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import OperatorProcess, is_ready, secret_manifest
from personio_sync_testing.harness import sync_manifest as manifest

pytestmark = pytest.mark.e2e

VACATION = "7d0a8c1e-0001-4a6b-9c1d-000000000001"
ALICE_AWORK = "5c3d0000-0000-4000-8000-000000000001"
API_USER = "5c3d0000-0000-4000-8000-0000000000a1"
TODAY = datetime.now(ZoneInfo("Europe/Berlin")).date()
HOOK_TOKEN = "hook-token-e2e-41d7c9-0123456789abcdef"
CREDS = {
    "personioClientId": "acme-client-hook",
    "personioClientSecret": "acme-secret-hook-77a1",
    "aworkApiKey": "acme-awork-key-hook-3e90",
    "personioWebhookToken": HOOK_TOKEN,
}
CREDENTIAL_VALUES = tuple(CREDS.values())  # never in the operator's log (conftest)
EVENTS = ["absence-period.created", "absence-period.updated.timerange",
          "absence-period.updated.status", "absence-period.deleted", "person.updated"]  # fmt: skip


def period(pid: str, start: int, end: int) -> dict[str, Any]:
    """A full-day period of Alice's from today+start to today+end (inclusive)."""
    first, after = TODAY + timedelta(days=start), TODAY + timedelta(days=end + 1)
    return {
        "id": pid,
        "person_id": "1001",
        "absence_type_id": VACATION,
        "starts_from": {"date_time": f"{first.isoformat()}T00:00:00", "type": "FIRST_HALF"},
        "ends_at": {"date_time": f"{after.isoformat()}T00:00:00", "type": "SECOND_HALF"},
    }


SEED: dict[str, Any] = {
    "personio": {
        "credentials": [{"client_id": CREDS["personioClientId"],
                         "client_secret": CREDS["personioClientSecret"]}],
        "absence_types": [{"id": VACATION, "name": "Vacation", "category": "PAID_VACATION"}],
        "persons": [{"id": "1001", "email": "alice@acme.example", "first_name": "Alice"}],
        "absence_periods": [period("p-alice-1", 7, 9)],
    },
    "awork": {
        "api_keys": [{"key": CREDS["aworkApiKey"], "api_user_id": API_USER}],
        "api_users": [{"id": API_USER, "name": "personio-sync"}],
        "users": [{"id": ALICE_AWORK, "firstName": "Alice", "emails": ["alice@acme.example"]}],
    },
}  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SEED, today=TODAY) as sb:
        yield sb


def owned(sandbox: Sandbox) -> set[str]:
    return {
        str(a.externalProvider).rsplit(":", 1)[-1]
        for a in sandbox.awork_state.absences.values()
        if a.externalProvider
    }


def runs(sandbox: Sandbox) -> int:
    return sandbox.personio.journal.count("GET", "/v2/absence-types")


def awork_writes(sandbox: Sandbox) -> int:
    return sum(sandbox.awork.journal.count(m) for m in ("POST", "PUT", "DELETE", "PATCH"))


def wait_for(kube_api: Client, ns: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kube_api.get(PersonioSync, "team", namespace=ns)
        return body if check(body) else None

    return eventually(probe, within=45, interval=0.2, what=f"{ns}/team")


def started(
    kubectl: Kubectl,
    kube_api: Client,
    ns: str,
    sandbox: Sandbox,
    start_operator: Any,
    *,
    hook: bool = True,
) -> OperatorProcess:
    """The resource synced once, the operator running, Personio's webhook registered."""
    kubectl.apply(secret_manifest(ns, CREDS))
    kubectl.apply(manifest(ns, interval="24h"))
    op: OperatorProcess = start_operator(ns)
    wait_for(kube_api, ns, is_ready)
    if not hook:
        return op
    fields = WebhookFields(url=op.webhook_url(ns, "team"), token=f"Bearer {HOOK_TOKEN}",
                           status="ENABLED", enabled_events=EVENTS)  # fmt: skip
    sandbox.personio.webhooks.create(fields)
    return op


def last_event(kind: str) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        return bool((body.get("status") or {}).get("lastEvent", {}).get("kind") == kind)

    return check


def test_hook_6_a_personio_change_reaches_awork_through_the_webhook_alone(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    op = started(kubectl, kube_api, namespace, sandbox, start_operator)
    assert owned(sandbox) == {"p-alice-1"}
    sandbox.personio_state.put_period(period("p-alice-2", 20, 21))
    eventually(lambda: owned(sandbox) == {"p-alice-1", "p-alice-2"}, within=45, what="created")
    sandbox.personio_state.cancel("p-alice-1")
    eventually(lambda: owned(sandbox) == {"p-alice-2"}, within=45, what="deleted")
    body = wait_for(kube_api, namespace, last_event("absence-period.deleted"))
    assert body["status"]["lastEvent"]["outcome"] == "accepted"
    annotations = body["metadata"].get("annotations", {})
    assert SYNC_NOW not in annotations and SYNC_NOW_HANDLED not in annotations
    codes = {d.status_code for d in sandbox.personio.webhooks.activity_of() if d.status_code}
    assert codes == {202}
    assert 'personio_sync_webhook_events_total{outcome="accepted"} 2.0' in op.metrics()


def test_hook_1_2_bad_token_unknown_resource_and_malformed_body_write_nothing(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    op = started(kubectl, kube_api, namespace, sandbox, start_operator, hook=False)
    sandbox.personio_state.cancel("p-alice-1")  # a run would delete its awork absence …
    assert sandbox.personio.webhooks.activity_of() == []  # … but no delivery tells of it
    before = (runs(sandbox), awork_writes(sandbox))
    url = op.webhook_url(namespace, "team")
    event = {"event_name": "absence-period.deleted", "payload": {"id": "p-alice-1"}}
    good = {"Authorization": HOOK_TOKEN}
    with httpx.Client(timeout=5) as http:
        assert http.post(url, json=event, headers={"Authorization": "wrong"}).status_code == 401
        assert http.post(url, json=event).status_code == 401
        ghost = op.webhook_url(namespace, "ghost")
        assert http.post(ghost, json=event, headers=good).status_code == 404
        assert http.post(url, content=b"{nope", headers=good).status_code == 400
        big = {**event, "meta": {"pad": "x" * 70_000}}
        assert http.post(url, json=big, headers=good).status_code == 413
        ignored = {"event_name": "document.created", "payload": {"id": "d-1"}}
        assert http.post(url, json=ignored, headers=good).status_code == 200  # a barrier
    wait_for(kube_api, namespace, last_event("document.created"))
    assert (runs(sandbox), awork_writes(sandbox)) == before
    assert owned(sandbox) == {"p-alice-1"}


def test_hook_6_a_lost_delivery_is_caught_by_the_next_full_sync(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    started(kubectl, kube_api, namespace, sandbox, start_operator)
    sandbox.personio.set_knobs(webhook_drop_rate=1.0)
    sandbox.personio_state.put_period(period("p-alice-2", 20, 21))
    eventually(
        lambda: [a.outcome for a in sandbox.personio.webhooks.activity_of()] == ["DROPPED"],
        within=10,
        what="the dropped delivery",
    )
    assert owned(sandbox) == {"p-alice-1"}
    kubectl("annotate", "--overwrite", "psync", "team", "-n", namespace, f"{SYNC_NOW}=1")
    eventually(lambda: owned(sandbox) == {"p-alice-1", "p-alice-2"}, within=45, what="synced")


def registering(kubectl: Kubectl, ns: str) -> None:
    """Registration on; the URL is the operator's (HOOK-7), the harness's base URL."""
    kubectl.apply(manifest(ns, interval="24h", webhook={"register": True}))


def webhook_state(state: str) -> Callable[[dict[str, Any]], bool]:
    def check(body: dict[str, Any]) -> bool:
        return bool((body.get("status") or {}).get("webhook", {}).get("state") == state)

    return check


def test_hook_7_the_operator_registers_its_webhook_and_removes_it_on_deletion(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    sandbox.personio_state.put_credential(
        {**SEED["personio"]["credentials"][0],
         "scopes": ["personio:persons:read", "personio:absences:read", "personio:webhooks:write"]}
    )  # fmt: skip
    kubectl.apply(secret_manifest(namespace, CREDS))
    op: OperatorProcess = start_operator(namespace)
    registering(kubectl, namespace)
    body = wait_for(kube_api, namespace, lambda b: is_ready(b) and webhook_state("Registered")(b))
    (hook,) = sandbox.personio.webhooks.listed()
    assert body["status"]["webhook"]["id"] == hook.id
    assert hook.status == "ENABLED" and hook.url == op.webhook_url(namespace, "team")
    assert body["status"]["webhook"]["url"] == hook.url
    assert hook.description.startswith(f"personio-sync:{body['status']['ownerKey']} ")  # HOOK-14
    assert hook.token == HOOK_TOKEN and "absence-period.deleted" in hook.enabled_events
    sandbox.personio_state.put_period(period("p-alice-2", 20, 21))  # delivered by Personio
    eventually(lambda: owned(sandbox) == {"p-alice-1", "p-alice-2"}, within=45, what="created")
    kubectl("delete", "psync", "team", "-n", namespace, "--wait=false")
    eventually(lambda: sandbox.personio.webhooks.listed() == [], within=45, what="removed")


def test_hook_7_without_the_scope_the_status_says_so_and_syncs_go_on(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    kubectl.apply(secret_manifest(namespace, CREDS))
    start_operator(namespace)
    registering(kubectl, namespace)
    body = wait_for(kube_api, namespace, lambda b: is_ready(b) and webhook_state("NotPermitted")(b))
    assert body["status"]["webhook"]["reason"] == "WebhookNotPermitted"
    assert "personio:webhooks:write" in body["status"]["webhook"]["message"]
    assert owned(sandbox) == {"p-alice-1"} and sandbox.personio.webhooks.listed() == []
    reasons = kubectl("get", "events", "-n", namespace, "-o", "jsonpath={.items[*].reason}")
    assert "WebhookNotPermitted" in reasons.split()


def test_fair_8_a_re_created_resource_does_not_show_the_old_ones_last_event(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    op = started(kubectl, kube_api, namespace, sandbox, start_operator, hook=False)
    ignored = {"event_name": "document.created", "payload": {"id": "d-1"}}
    with httpx.Client(timeout=5) as http:
        answer = http.post(op.webhook_url(namespace, "team"), json=ignored,
                           headers={"Authorization": HOOK_TOKEN})  # fmt: skip
    assert answer.status_code == 200
    old = wait_for(kube_api, namespace, last_event("document.created"))
    kubectl("delete", "psync", "team", "-n", namespace)  # waits until it is gone
    kubectl.apply(manifest(namespace, interval="24h"))
    new = wait_for(kube_api, namespace, is_ready)  # its first run's status write
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert "lastEvent" not in new["status"]


def test_hook_15_without_a_base_url_no_receiver_listens_and_the_status_names_the_value(
    kubectl: Kubectl, kube_api: Client, namespace: str, sandbox: Sandbox, start_operator: Any
) -> None:
    kubectl.apply(secret_manifest(namespace, CREDS))
    op: OperatorProcess = start_operator(namespace, env={"PERSONIO_SYNC_WEBHOOK_BASE_URL": ""})
    registering(kubectl, namespace)
    body = wait_for(kube_api, namespace, lambda b: is_ready(b) and webhook_state("Disabled")(b))
    webhook = body["status"]["webhook"]
    assert webhook["reason"] == "WebhooksDisabled" and "webhooks.baseURL" in webhook["message"]
    event = {"event_name": "absence-period.deleted", "payload": {"id": "p-alice-1"}}
    with pytest.raises(httpx.ConnectError):  # no port bound: nothing answers, not even 404
        httpx.post(op.webhook_url(namespace, "team"), json=event, timeout=5,
                   headers={"Authorization": HOOK_TOKEN})  # fmt: skip
    assert httpx.get(f"{op.url}/healthz", timeout=5).status_code == 200  # the rest is up
    assert sandbox.personio.webhooks.listed() == []
    reasons = kubectl("get", "events", "-n", namespace, "-o", "jsonpath={.items[*].reason}")
    assert "WebhooksDisabled" in reasons.split()
