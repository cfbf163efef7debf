"""SEC-3: the chart's admission policy on the real API server (RBAC authorizer, CEL).

The chart is installed for one namespace (the binding then covers only that one, so
parallel tests elsewhere are unaffected). Two users, impersonated by the admin: both may
create, update and patch PersonioSyncs there (and their status), only bob may `get` the
Secrets they name. Alice stands for a user with edit rights on the resource and no
right to its credentials: every change that steers what the operator does with them is
refused to her, and what the operator itself writes is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personio_sync.clients.kube import annotation_patch, finalizer_patch
from personio_sync.controller.context import FINALIZER, SYNC_NOW
from personio_sync.resource.spec import ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED
from personio_sync_testing.devtools.kubectl import CommandError, Helm, Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.harness import sync_manifest

CHART = Path(__file__).resolve().parents[2] / "charts" / "personio-sync"
RELEASE = "adm"
SECRET, OTHER = "team-credentials", "other-credentials"  # bob may get both, alice neither

EDITOR_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: psync-editor, namespace: {ns}}}
rules:
  - apiGroups: [personio-sync.dev]
    resources: [personiosyncs]
    verbs: [get, list, create, update, patch]
  - apiGroups: [personio-sync.dev]
    resources: [personiosyncs/status]
    verbs: [get, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: psync-editors, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: psync-editor}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}}
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: secret-reader, namespace: {ns}}}
rules:
  - apiGroups: [""]
    resources: [secrets]
    resourceNames: [{secret}, {other}]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: secret-readers, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}}
"""


@pytest.fixture
def policy(kubectl: Kubectl, helm: Helm, namespace: str) -> Iterator[str]:
    """The chart (admission policy on by default) serving `namespace`; the users' RBAC."""
    helm("install", RELEASE, str(CHART), "-n", namespace, "--no-hooks",
         "--set", f"watchNamespaces={{{namespace}}}")  # fmt: skip
    kubectl.apply(EDITOR_ROLE.format(ns=namespace, secret=SECRET, other=OTHER))
    yield f"{namespace}-{RELEASE}-personio-sync-secret-ref"
    helm("uninstall", RELEASE, "-n", namespace)


def create_as(kubectl: Kubectl, user: str, manifest: str, *extra: str) -> str:
    return kubectl("create", "-f", "-", f"--as={user}", *extra, input=manifest)


def refused_by(policy: str, kubectl: Kubectl, user: str, manifest: str) -> str:
    """The message of a server-side dry run the policy refuses (AssertionError otherwise)."""
    try:
        create_as(kubectl, user, manifest, "--dry-run=server")
    except CommandError as exc:
        assert policy in exc.stderr, exc.stderr  # not (yet) the policy: RBAC still loading
        return exc.stderr
    raise AssertionError(f"{user}'s request was admitted")


def admitted(kubectl: Kubectl, user: str, manifest: str) -> bool:
    try:
        create_as(kubectl, user, manifest, "--dry-run=server")
    except CommandError as exc:
        raise AssertionError(exc.stderr) from None
    return True


def until_active(kubectl: Kubectl, namespace: str, policy: str) -> str:
    """The API server loads policies and RBAC asynchronously: wait with dry runs until
    alice is refused by the policy and bob is admitted. Returns alice's refusal."""
    manifest = sync_manifest(namespace, "probe", secret=SECRET)
    message = eventually(lambda: refused_by(policy, kubectl, "alice", manifest), within=60,
                         what="the admission policy to refuse alice")  # fmt: skip
    eventually(lambda: admitted(kubectl, "bob", manifest), within=60, what="bob admitted")
    return message


def test_sec_3_only_a_user_who_may_get_the_secret_may_name_it(
    kubectl: Kubectl, namespace: str, policy: str
) -> None:
    message = until_active(kubectl, namespace, policy)
    assert "forbidden" in message.lower()
    assert f'alice may not get Secret "{SECRET}" in namespace "{namespace}"' in message
    with pytest.raises(CommandError, match="may not get Secret"):
        create_as(kubectl, "alice", sync_manifest(namespace, "alices", secret=SECRET))
    assert not kubectl("get", "psync", "-n", namespace, "-o", "name").strip()

    create_as(kubectl, "bob", sync_manifest(namespace, "bobs", secret=SECRET))  # admitted
    assert kubectl.json("get", "psync", "bobs", "-n", namespace)["spec"]["secretRef"] == {
        "name": SECRET
    }


def patch_as(kubectl: Kubectl, user: str, namespace: str, body: dict[str, Any], *extra: str) -> str:
    return kubectl("patch", "psync", "bobs", "-n", namespace, f"--as={user}", "--type=merge",
                   "-p", json.dumps(body), *extra)  # fmt: skip


CONSENT = {"metadata": {"annotations": {ALLOW_MASS_DELETE: "1", ALLOW_MASS_DELETE_HANDLED: "1"}}}
# Each change that steers what the operator does with the Secret (issue 16's side doors),
# and the field the refusal names.
SPEC = "spec"
CONSENT_FIELD = f"metadata.annotations[{ALLOW_MASS_DELETE}]"
SENSITIVE: dict[str, tuple[dict[str, Any], str]] = {
    "secretRef": ({"spec": {"secretRef": {"name": OTHER}}}, "spec.secretRef.name"),
    "webhook": (
        {"spec": {"webhook": {"register": True}}},  # the URL is the operator's (HOOK-7)
        SPEC,
    ),
    "deletionPolicy": ({"spec": {"deletionPolicy": "Delete"}}, SPEC),
    "deletionGuard": ({"spec": {"deletionGuard": {"maxPercent": 100}}}, SPEC),
    "adoptFrom": ({"spec": {"adoptFrom": ["0123456789ab"]}}, SPEC),
    "userMappings": (
        {
            "spec": {
                "userMappings": [
                    {"personioEmail": "ceo@acme.example", "aworkEmail": "mallory@acme.example"}
                ]
            }
        },
        SPEC,
    ),
    "absenceTypes": ({"spec": {"absenceTypes": {"exclude": ["Sick leave"]}}}, SPEC),
    "dryRun": ({"spec": {"dryRun": True}}, SPEC),
    "suspend": ({"spec": {"suspend": True}}, SPEC),
    "interval": ({"spec": {"interval": "2h"}}, SPEC),
    "new consent": ({"metadata": {"annotations": {ALLOW_MASS_DELETE: "2"}}}, CONSENT_FIELD),
    # Removing the acknowledgement would re-arm the consent that was used up.
    "re-armed consent": (
        {"metadata": {"annotations": {ALLOW_MASS_DELETE_HANDLED: None}}},
        CONSENT_FIELD,
    ),
}


@pytest.mark.parametrize("change", sorted(SENSITIVE))
def test_sec_3_every_sensitive_change_needs_get_on_the_secret(
    kubectl: Kubectl, namespace: str, policy: str, change: str
) -> None:
    until_active(kubectl, namespace, policy)
    create_as(kubectl, "bob", sync_manifest(namespace, "bobs", secret=SECRET))
    patch_as(kubectl, "bob", namespace, CONSENT)  # a consent given and used up
    body, field = SENSITIVE[change]
    secret = OTHER if change == "secretRef" else SECRET
    with pytest.raises(CommandError) as err:
        patch_as(kubectl, "alice", namespace, body, "--dry-run=server")
    message = " ".join(err.value.stderr.split())
    assert policy in message
    assert f'{field}: alice may not get Secret "{secret}" in namespace "{namespace}"' in message
    patch_as(kubectl, "bob", namespace, body, "--dry-run=server")  # admitted


def test_sec_3_status_and_the_operators_own_writes_are_not_checked(
    kubectl: Kubectl, namespace: str, policy: str
) -> None:
    """Alice writes exactly what the operator writes (its own patch builders), and what
    asks for nothing new: admitted, although she may not read the Secret."""
    until_active(kubectl, namespace, policy)
    create_as(kubectl, "bob", sync_manifest(namespace, "bobs", secret=SECRET))
    patch_as(kubectl, "bob", namespace, {"metadata": {"annotations": {ALLOW_MASS_DELETE: "7"}}})
    body = kubectl.json("get", "psync", "bobs", "-n", namespace)
    patch_as(kubectl, "alice", namespace, finalizer_patch(body, FINALIZER, True) or {})
    patch_as(kubectl, "alice", namespace, annotation_patch({ALLOW_MASS_DELETE_HANDLED: "7"}))
    patch_as(kubectl, "alice", namespace, annotation_patch({SYNC_NOW: "1700000000"}))
    patch_as(kubectl, "alice", namespace, {"metadata": {"labels": {"team": "hr"}}})
    patch_as(kubectl, "alice", namespace, {"status": {"message": "written as the operator"}},
             "--subresource=status")  # fmt: skip
    # Removing the consent arms nothing either.
    patch_as(kubectl, "alice", namespace, {"metadata": {"annotations": {ALLOW_MASS_DELETE: None}}})
    after = kubectl.json("get", "psync", "bobs", "-n", namespace)
    assert FINALIZER in after["metadata"]["finalizers"]
    assert after["metadata"]["annotations"][ALLOW_MASS_DELETE_HANDLED] == "7"
    assert ALLOW_MASS_DELETE not in after["metadata"]["annotations"]
    assert after["status"]["message"] == "written as the operator"
    assert after["spec"] == body["spec"]
    # The finalizer is the operator's; leave the namespace deletable.
    patch_as(kubectl, "alice", namespace, finalizer_patch(after, FINALIZER, False) or {})
