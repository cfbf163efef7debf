"""SEC-3: the chart's admission policy on the real API server (RBAC authorizer, CEL).

The chart is installed for one namespace (the binding then covers only that one, so
parallel tests elsewhere are unaffected). Two users, impersonated by the admin: both may
create and update PersonioSyncs there, only bob may `get` the Secret they name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from personio_sync_testing.devtools.kubectl import CommandError, Helm, Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.harness import sync_manifest

CHART = Path(__file__).resolve().parents[2] / "charts" / "personio-sync"
RELEASE = "adm"
SECRET = "team-credentials"

EDITOR_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: psync-editor, namespace: {ns}}}
rules:
  - apiGroups: [personio-sync.dev]
    resources: [personiosyncs]
    verbs: [get, list, create, update, patch]
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
    resourceNames: [{secret}]
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
    kubectl.apply(EDITOR_ROLE.format(ns=namespace, secret=SECRET))
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


def test_sec_3_an_update_is_checked_only_when_it_changes_the_secret(
    kubectl: Kubectl, namespace: str, policy: str
) -> None:
    until_active(kubectl, namespace, policy)
    create_as(kubectl, "bob", sync_manifest(namespace, "bobs", secret=SECRET))
    # Alice may change what does not touch the Secret (as the operator's own patches) ...
    kubectl("patch", "psync", "bobs", "-n", namespace, "--as=alice", "--type=merge",
            "-p", '{"spec": {"interval": "2h"}}')  # fmt: skip
    # ... but not point bob's resource at a Secret she cannot read.
    other = yaml.safe_dump({"spec": {"secretRef": {"name": "payroll-credentials"}}})
    with pytest.raises(CommandError) as err:
        kubectl("patch", "psync", "bobs", "-n", namespace, "--as=alice", "--type=merge",
                "-p", other)  # fmt: skip
    assert 'alice may not get Secret "payroll-credentials"' in err.value.stderr
    body = kubectl.json("get", "psync", "bobs", "-n", namespace)
    assert body["spec"]["secretRef"] == {"name": SECRET} and body["spec"]["interval"] == "2h"
