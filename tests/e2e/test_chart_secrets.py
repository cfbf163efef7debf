"""SEC-2: serving every namespace, the chart's token reads Secrets only where granted.

The chart is installed in its default mode (every namespace, no cluster-wide Secret
access) and the operator runs on the chart's own token, as in test_chart_operator.py.
One deviation: the operator is told to serve only the test's namespace
(`--namespace=<team>` instead of the Deployment's `--all-namespaces`), so that it never
touches the resources other tests leave on the shared API server; its RBAC, environment
and token are the all-namespaces install's. A namespace admin (a user bound to the
built-in `admin` role's parts in that namespace, impersonated) then runs the command the
resource's `SecretUnreadable` message gives, exactly as printed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_chart_operator import RELEASE, STARTUP, Release, install_release, replica, synced

from personio_sync_testing.devtools.kubectl import CommandError, Helm, Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.fakes.seed import demo_seed_path

# The built-in `admin` ClusterRole is an aggregate that the controller manager fills in; the
# local API server runs none, so the namespace admin is bound to its parts directly.
ADMIN_PART = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: hr-admins-{part}, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole,
           name: "system:aggregate-to-{part}"}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: hr-admin}}]
"""


def namespace_admin(namespace: str) -> str:
    parts = ("admin", "edit", "view")
    return "---".join(ADMIN_PART.format(part=part, ns=namespace) for part in parts)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(demo_seed_path()) as sb:
        yield sb


@pytest.fixture
def everywhere(
    kubectl: Kubectl, helm: Helm, kubeconfig: Path, namespace: str, sandbox: Sandbox,
    tmp_path: Path, cluster: Any,
) -> Iterator[Release]:  # fmt: skip
    """The chart serving every namespace; a team namespace with a Secret and a resource."""
    team = f"{namespace}-team"
    kubectl("create", "namespace", team)
    # The admission policy would bind every namespace: not on a shared API server.
    off = ("--set", "admissionPolicy.enabled=false")
    release = install_release(kubectl, helm, kubeconfig, namespace, team, sandbox, tmp_path, *off)
    kubectl.apply(namespace_admin(team))
    eventually(lambda: kubectl("auth", "can-i", "create", "rolebindings", "-n", team,
                               "--as=hr-admin", check=False).strip() == "yes",
               within=60, what="hr-admin's RBAC loaded")  # fmt: skip
    args = release.container["args"]
    assert args[-1] == "--all-namespaces"
    container = {**release.container, "args": [*args[:-1], f"--namespace={team}"]}
    yield replace(release, container=container)
    helm("uninstall", RELEASE, "-n", namespace)
    if not cluster.local:
        kubectl("delete", "namespace", team, "--wait=false", check=False)


def may_get_secret(release: Release, namespace: str) -> bool:
    try:
        Kubectl(release.sa_kubeconfig)("get", "secret", "acme-credentials", "-n", namespace)
    except CommandError as exc:
        assert "forbidden" in exc.stderr.lower(), exc.stderr
        return False
    return True


def unreadable(release: Release) -> str:
    """The SecretUnreadable message on the resource (AssertionError until it is there)."""
    conditions = {c["type"]: c for c in release.status().get("conditions", [])}
    ready = conditions.get("Ready", {})
    assert ready.get("reason") == "SecretUnreadable", ready
    return str(ready["message"])


def test_sec_2_the_charts_token_reads_a_namespaces_secrets_once_its_admin_grants_it(
    everywhere: Release,
) -> None:
    release, team = everywhere, everywhere.team_ns
    assert not may_get_secret(release, team)  # not by default: no cluster-wide Secret access
    with replica(release, "pod-a") as pod:
        message = eventually(lambda: unreadable(release), within=STARTUP, what="SecretUnreadable")
        found = re.search(r"`(kubectl [^`]+)`", message)
        assert found, message
        argv = shlex.split(found[1])
        assert argv[:4] == ["kubectl", "--namespace", team, "create"], argv
        assert not may_get_secret(release, team)

        release.kubectl(*argv[1:], "--as=hr-admin")  # as printed, by the namespace's admin
        eventually(lambda: may_get_secret(release, team), within=60, what="the grant in effect")
        assert not may_get_secret(release, release.operator_ns)  # that namespace only
        status = eventually(lambda: synced(release), within=STARTUP, what="a sync once granted")
        assert status["users"]["matched"] > 0
        ready = {c["type"]: c for c in status["conditions"]}["Ready"]
        assert ready["status"] == "True", ready
    assert pod.popen.returncode is not None
