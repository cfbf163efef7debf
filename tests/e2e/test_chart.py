"""The chart on a real API server: docs/install.md's commands, then least privilege.

The install, upgrade and uninstall blocks of docs/install.md are run as written, with
only the placeholders filled in, the namespaces made unique, and `--no-hooks` added
(the local API server runs no pods, so nothing would ever become ready). The objects
helm creates are then checked, and `kubectl auth can-i --as=<the chart's
ServiceAccount>` shows what the operator may do and, above all, what it may not.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from personio_sync_testing.devtools.kubectl import CommandError, Helm, Kubectl

ROOT = Path(__file__).resolve().parents[2]
INSTALL_DOC = ROOT / "docs" / "install.md"
APP_VERSION = yaml.safe_load((ROOT / "charts/personio-sync/Chart.yaml").read_text())["appVersion"]
RELEASE = "personio-sync"  # as in the docs; its full name is the chart name too
TESTED = re.compile(r"<!-- tested: [^>]*-->\s*```sh\n(.*?)```", re.S)


def documented_blocks() -> list[list[list[str]]]:
    """The marked ```sh blocks of docs/install.md, each as a list of argv lists."""
    blocks = TESTED.findall(INSTALL_DOC.read_text())
    assert len(blocks) == 3, "docs/install.md should mark install, upgrade and uninstall"
    return [[shlex.split(cmd) for cmd in block.replace("\\\n", " ").splitlines()
             if cmd.strip()] for block in blocks]  # fmt: skip


@dataclass(frozen=True)
class Docs:
    """Runs documented commands against the test cluster with the test's names."""

    kubectl: Kubectl
    helm: Helm
    operator_ns: str
    team_ns: str
    placeholders: dict[str, str]
    helm_extra: tuple[str, ...] = ()

    def run(self, block: list[list[str]], *extra: str) -> str:
        out = ""
        for argv in block:
            program, *args = [self._fill(a) for a in argv]
            args = [self._namespace(args, i) for i in range(len(args))]
            if program == "helm":
                changes = args[0] in ("install", "upgrade")
                out += self.helm(*args, *(("--no-hooks", *self.helm_extra, *extra) * changes))
            else:
                assert program == "kubectl", f"unexpected command in the docs: {argv}"
                out += self.kubectl(*args)
        return out

    def _fill(self, arg: str) -> str:
        for placeholder, value in self.placeholders.items():
            arg = arg.replace(placeholder, value)
        if arg.startswith(("./charts/", "charts/")):
            return str(ROOT / arg)
        return arg

    def _namespace(self, args: list[str], i: int) -> str:
        names = {"hr": self.team_ns, RELEASE: self.operator_ns}
        is_ns = i > 0 and args[i - 1] in ("--namespace", "-n", "namespace")
        return names.get(args[i], args[i]) if is_ns else args[i]


def can_i(kubectl: Kubectl, sa: str, *what: str) -> bool:
    out = kubectl("auth", "can-i", *what, f"--as={sa}", check=False)
    return out.strip() == "yes"


def get(kubectl: Kubectl, *what: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", *what)
    return found


def absent(kubectl: Kubectl, *what: str) -> bool:
    try:
        kubectl("get", *what)
    except CommandError as exc:
        return "NotFound" in exc.stderr
    return False


@pytest.fixture
def team_ns(namespace: str, kubectl: Kubectl, cluster: Any) -> Iterator[str]:
    """A second namespace, for the team (the docs' `hr`); created by the documented command."""
    yield f"{namespace}-hr"
    if not cluster.local:  # a real cluster finishes the deletion; the local one never would
        kubectl("delete", "namespace", f"{namespace}-hr", "--wait=false", check=False)


def test_documented_install_upgrade_uninstall(
    kubectl: Kubectl, helm: Helm, namespace: str, team_ns: str
) -> None:
    docs = Docs(
        kubectl,
        helm,
        operator_ns=namespace,
        team_ns=team_ns,
        placeholders={
            "YOUR_REGISTRY": "registry.invalid",
            "YOUR_": "e2e-",
            # The secret reader's names carry the release namespace (SEC-2).
            f"{RELEASE}-{RELEASE}-secrets": f"{namespace}-{RELEASE}-secrets",
            f"--serviceaccount={RELEASE}:": f"--serviceaccount={namespace}:",
        },
    )
    install, upgrade, uninstall = documented_blocks()
    notes = docs.run(install)
    assert "create secret generic" in notes and "get psync" in notes, notes
    sa = f"system:serviceaccount:{namespace}:{RELEASE}"
    check_cluster_wide_install(kubectl, docs, sa)

    docs.run(upgrade, "--set", f"watchNamespaces={{{docs.team_ns}}}")
    check_namespaced_upgrade(kubectl, docs, sa)

    docs.run(uninstall)
    assert absent(kubectl, "deployment", RELEASE, "-n", namespace)
    assert absent(kubectl, "role", f"{namespace}-{RELEASE}", "-n", docs.team_ns)
    assert absent(kubectl, "role", f"{RELEASE}-leader-election", "-n", namespace)
    assert not can_i(kubectl, sa, "get", "secrets", "-n", docs.team_ns)
    assert absent(kubectl, "validatingadmissionpolicy", f"{namespace}-{RELEASE}-secret-ref")
    # Helm never deletes CRDs: the users' PersonioSyncs survive an uninstall.
    get(kubectl, "crd", "personiosyncs.personio-sync.dev")


def check_cluster_wide_install(kubectl: Kubectl, docs: Docs, sa: str) -> None:
    ns, cluster_name = docs.operator_ns, f"{docs.operator_ns}-{RELEASE}"
    deployment = get(kubectl, "deployment", RELEASE, "-n", ns)
    labels = deployment["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == RELEASE
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == RELEASE
    assert pod["containers"][0]["image"] == f"registry.invalid/personio-sync:{APP_VERSION}"
    assert pod["containers"][0]["args"] == ["run", f"--peering={cluster_name}", "--all-namespaces"]
    for what in (("serviceaccount", RELEASE), ("service", f"{RELEASE}-metrics"),
                 ("poddisruptionbudget", RELEASE)):  # fmt: skip
        get(kubectl, *what, "-n", ns)
    binding = get(kubectl, "clusterrolebinding", cluster_name)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": ns}]
    get(kubectl, "secret", "acme-credentials", "-n", docs.team_ns)

    for allowed in (("watch", "personiosyncs", "--all-namespaces"),
                    ("patch", "personiosyncs", "--subresource=status", "-n", docs.team_ns),
                    ("get", "secrets", "-n", docs.team_ns),  # the documented grant
                    ("create", "events", "-n", docs.team_ns)):  # fmt: skip
        assert can_i(kubectl, sa, *allowed), allowed
    # SEC-2: Secrets only where a namespace admin granted them, never cluster-wide.
    get(kubectl, "clusterrole", f"{cluster_name}-secrets")
    assert absent(kubectl, "clusterrolebinding", f"{cluster_name}-secrets")
    for other in (ns, "default", "kube-system"):
        assert not can_i(kubectl, sa, "get", "secrets", "-n", other), other
    for denied in FORBIDDEN_EVERYWHERE:
        assert not can_i(kubectl, sa, *denied, "-n", docs.team_ns), denied
    check_lease_rbac(kubectl, sa, ns, lease=cluster_name)
    # SEC-3: the admission policy, bound in every namespace.
    policy = get(kubectl, "validatingadmissionpolicy", f"{cluster_name}-secret-ref")
    binding = get(kubectl, "validatingadmissionpolicybinding", f"{cluster_name}-secret-ref")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    selector = binding["spec"].get("matchResources", {}).get("namespaceSelector", {})
    assert not selector.get("matchExpressions")


def check_lease_rbac(kubectl: Kubectl, sa: str, ns: str, *, lease: str) -> None:
    """D-Lease and SHARD-3: Leases in the release's own namespace only — the leader Lease,
    one per shard and one heartbeat per replica, whose names follow the pods' identities
    and so cannot be granted by name (docs/sharding.md); elsewhere none, and never patch."""
    for allowed in (
        ("create", "leases"),
        ("list", "leases"),
        ("get", f"leases/{lease}"),
        ("update", f"leases/{lease}-shard-0"),
        ("delete", f"leases/{lease}-replica-0123456789ab"),
    ):
        assert can_i(kubectl, sa, *allowed, "-n", ns), allowed
    assert not can_i(kubectl, sa, "patch", f"leases/{lease}", "-n", ns)
    for other in ("kube-system", "default"):
        for denied in (("update", f"leases/{lease}"), ("get", "leases"), ("create", "leases")):
            assert not can_i(kubectl, sa, *denied, "-n", other), (denied, other)


# Never allowed, whatever the scope: the operator creates no workloads, writes no
# Secrets, does not create or delete PersonioSyncs, and touches no other API.
FORBIDDEN_EVERYWHERE: tuple[tuple[str, ...], ...] = (
    ("create", "pods"),
    ("create", "deployments.apps"),
    ("list", "secrets"),  # SEC-2: Secrets by GET only, no list, no watch
    ("watch", "secrets"),
    ("create", "secrets"),
    ("patch", "secrets"),
    ("delete", "secrets"),
    ("get", "configmaps"),
    ("create", "personiosyncs"),
    ("delete", "personiosyncs"),
    ("update", "personiosyncs"),  # SEC-2: patches only, never a PUT
    ("update", "personiosyncs", "--subresource=status"),
    ("update", "personiosyncs", "--subresource=finalizers"),
    ("patch", "events"),
    ("list", "customresourcedefinitions"),
    ("patch", "customresourcedefinitions/personiosyncs.personio-sync.dev"),
    ("delete", "customresourcedefinitions/personiosyncs.personio-sync.dev"),
    ("list", "clusterroles"),
    ("create", "rolebindings"),
    ("impersonate", "serviceaccounts"),
    ("create", "serviceaccounts/token"),
    ("list", "namespaces"),
    ("create", "events.events.k8s.io"),
    ("create", "leases.coordination.k8s.io"),
)


def check_namespaced_upgrade(kubectl: Kubectl, docs: Docs, sa: str) -> None:
    ns, name = docs.operator_ns, f"{docs.operator_ns}-{RELEASE}"
    args = get(kubectl, "deployment", RELEASE, "-n", ns)["spec"]["template"]["spec"]
    assert args["containers"][0]["args"][2:] == [f"--namespace={docs.team_ns}"]
    assert absent(kubectl, "clusterrole", name)
    assert absent(kubectl, "clusterrolebinding", name)
    get(kubectl, "role", name, "-n", docs.team_ns)
    binding = get(kubectl, "validatingadmissionpolicybinding", f"{name}-secret-ref")
    (selected,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selected["values"] == [docs.team_ns]  # SEC-3: only where the operator serves

    assert can_i(kubectl, sa, "get", "secrets", "-n", docs.team_ns)
    assert can_i(kubectl, sa, "watch", "personiosyncs", "-n", docs.team_ns)
    check_lease_rbac(kubectl, sa, ns, lease=name)
    # Outside the watched namespace: nothing, not even the operator's own namespace.
    for other in (ns, "default", "kube-system"):
        assert not can_i(kubectl, sa, "get", "secrets", "-n", other), other
        assert not can_i(kubectl, sa, "list", "personiosyncs", "-n", other), other
    assert not can_i(kubectl, sa, "list", "secrets", "--all-namespaces")
    assert not can_i(kubectl, sa, "list", "leases", "--all-namespaces")
    for denied in FORBIDDEN_EVERYWHERE:
        assert not can_i(kubectl, sa, *denied, "-n", docs.team_ns), denied


def test_optional_objects_are_accepted_by_the_api_server(
    kubectl: Kubectl, helm: Helm, namespace: str, tmp_path: Path
) -> None:
    """HA and the NetworkPolicy (IPv4 and IPv6 blocks, selectors, named ports, extra rules)
    pass real validation."""
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({
        "replicaCount": 2,
        "watchNamespaces": [namespace],
        "networkPolicy": {
            "apiServer": {"cidrs": ["10.0.0.1/32"]},
            "personio": {"cidrs": ["198.51.100.0/24"]},
            "awork": {"cidrs": ["2001:db8::/64"]},
            "dns": {"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
            "ingressFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "extraEgress": [{"ports": [{"port": 3128}]}],
        },
        "webhooks": {"service": {"enabled": True},
                     "baseURL": "https://hooks.example.com/webhooks/personio"},
    }))  # fmt: skip
    chart = str(ROOT / "charts" / "personio-sync")
    helm("install", "opt", chart, "-n", namespace, "--no-hooks", "-f", str(values))
    policy = get(kubectl, "networkpolicy", "opt-personio-sync", "-n", namespace)["spec"]
    assert [rule["ports"][0]["port"] for rule in policy["ingress"]] == ["http", "webhooks"]
    assert len(policy["egress"]) == 5  # DNS, API server, awork, Personio, the extra rule
    assert get(kubectl, "deployment", "opt-personio-sync", "-n", namespace)["spec"]["replicas"] == 2
    assert get(kubectl, "pdb", "opt-personio-sync", "-n", namespace)["spec"]["maxUnavailable"] == 1
    helm("uninstall", "opt", "-n", namespace)
    assert absent(kubectl, "networkpolicy", "opt-personio-sync", "-n", namespace)
