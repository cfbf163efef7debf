"""The Helm chart renders what an operator needs and nothing more (`helm lint` / `template`).

Rendering is offline (no cluster); the chart is installed for real in tests/e2e/test_chart.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from personio_sync.controller.settings import OperatorSettings, env_name
from personio_sync_testing.devtools.binaries import helm_path

CHART = Path(__file__).resolve().parents[2] / "charts" / "personio-sync"
KUBE_VERSION = "1.37.2"
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
# What a current API server's discovery tells helm (`helm template` knows only what it is told).
SERVES_VAP = ("admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",)
RELEASE, NAMESPACE = "ps", "ops"
NETWORK_POLICY = {
    "enabled": True,
    "apiServer": {"cidrs": ["10.0.0.1/32"]},
    "personio": {"cidrs": ["198.51.100.0/24"]},
    "awork": {"cidrs": ["203.0.113.7/32", "2001:db8::/64"]},
}
# Every non-default shape the chart supports, each linted and rendered.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "ha": {"replicaCount": 2},
    "servicemonitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "networkpolicy": {"networkPolicy": NETWORK_POLICY},
    "webhooks": {"webhooks": {"ingress": {"enabled": True, "host": "hooks.example.com",
                                          "tls": {"secretName": "hooks-tls"}}}},
    "monitoring": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
                   "grafanaDashboard": {"enabled": True}},
}  # fmt: skip
# SEC-2: the verbs the operator calls, nothing more; Secrets only by GET, and granted
# per namespace (rules of their own).
RESOURCE_RULES = [
    {"apiGroups": ["personio-sync.dev"], "resources": ["personiosyncs"],
     "verbs": ["list", "watch", "patch"]},
    {"apiGroups": ["personio-sync.dev"], "resources": ["personiosyncs/status"],
     "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]  # fmt: skip
SECRET_RULES = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
OPERATOR_RULES = RESOURCE_RULES + SECRET_RULES
LEASE = f"{NAMESPACE}-{RELEASE}-personio-sync"
LEASE_RULES = [  # shard and heartbeat Leases, in the release namespace only (SHARD-3)
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["create", "list", "get", "update", "delete"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_path()


def write_values(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def render(
    helm: Path,
    tmp_path: Path,
    values: dict[str, Any],
    namespace: str = NAMESPACE,
    api_versions: tuple[str, ...] = SERVES_VAP,
    *,
    hooks: bool = False,
) -> list[dict[str, Any]]:
    """What `helm install` creates; `hooks`: with the `helm test` Pod."""
    args = [str(helm), "template", RELEASE, str(CHART), "--namespace", namespace]
    args += [] if hooks else ["--no-hooks"]
    args += ["--kube-version", KUBE_VERSION, "--values", str(write_values(tmp_path, values))]
    args += [f"--api-versions={version}" for version in api_versions]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def instance_id_rbac(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRole and binding that let the operator read kube-system's UID (D-Owner)."""
    return [d for d in docs if d["metadata"].get("name", "").endswith("-instance-id")]


def operator_rbac(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d not in instance_id_rbac(docs)]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(docs)["env"]}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_helm_lint_is_clean(helm: Path, tmp_path: Path, variant: str) -> None:
    values = write_values(tmp_path, VARIANTS[variant])
    args = [str(helm), "lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION]
    result = subprocess.run([*args, "--values", str(values)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_rel7_helm_renders_the_chart_as_the_kubernetes_it_was_built_for(
    helm: Path, tmp_path: Path
) -> None:
    """Our helm carries a released helm's link flags: without --kube-version it takes its
    client-go's Kubernetes (1.37), not v1.20, which the chart's kubeVersion refuses."""
    for command in (["lint", str(CHART), "--strict"], ["template", RELEASE, str(CHART)]):
        result = subprocess.run([str(helm), *command], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    probe = tmp_path / "probe"
    (probe / "templates").mkdir(parents=True)
    (probe / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.0.1\n")
    (probe / "templates" / "v.yaml").write_text("kube: {{ .Capabilities.KubeVersion.Version }}\n")
    shown = subprocess.run([str(helm), "template", "p", str(probe)], capture_output=True,
                           text=True, timeout=60, check=True).stdout  # fmt: skip
    assert "kube: v1.37.0" in shown


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_has_the_conventional_labels(helm: Path, tmp_path: Path, variant: str) -> None:
    for doc in render(helm, tmp_path, VARIANTS[variant], hooks=True):
        labels = doc["metadata"]["labels"]
        # The `helm test` Pod has a name of its own: no operator selector may pick it.
        test = (doc["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"
        name = "personio-sync-test" if test else "personio-sync"
        assert labels["app.kubernetes.io/name"] == name, doc["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == APP_VERSION
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_default_is_cluster_wide_with_cluster_roles(helm: Path, tmp_path: Path) -> None:
    docs = operator_rbac(render(helm, tmp_path, {}))
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted([
        "ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "Service",
        "Deployment", "PodDisruptionBudget", "Role", "RoleBinding", "NetworkPolicy",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    ])  # fmt: skip
    assert container(docs)["args"] == ["run", f"--peering={LEASE}", "--all-namespaces"]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == LEASE  # the operator's ClusterRole, not the Secrets'
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-personio-sync", "namespace": NAMESPACE}
    ]


def test_sec_2_rbac_grants_exactly_what_the_operator_uses(helm: Path, tmp_path: Path) -> None:
    docs = operator_rbac(render(helm, tmp_path, {}))
    assert named(docs, "ClusterRole", LEASE)["rules"] == RESOURCE_RULES
    assert named(docs, "ClusterRole", f"{LEASE}-secrets")["rules"] == SECRET_RULES
    lease_role = one(docs, "Role")
    assert lease_role["metadata"]["namespace"] == NAMESPACE
    assert lease_role["rules"] == LEASE_RULES


@pytest.mark.parametrize("variant", ["default", "namespaced"])
def test_d_lease_the_leader_lease_is_in_the_release_namespace(
    helm: Path, tmp_path: Path, variant: str
) -> None:
    """The Lease's name is the operator's --peering, its namespace the pod's (downward API)."""
    docs = render(helm, tmp_path, VARIANTS[variant])
    assert container(docs)["args"][1] == f"--peering={LEASE}"
    assert env(docs)["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    (lease_role,) = [r for r in by_kind(docs, "Role") if r["metadata"]["namespace"] == NAMESPACE]
    (binding,) = [
        b
        for b in by_kind(docs, "RoleBinding")
        if b["roleRef"]["name"] == lease_role["metadata"]["name"]
    ]
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-personio-sync", "namespace": NAMESPACE}
    ]


def test_watch_namespaces_creates_only_roles_in_those_namespaces(
    helm: Path, tmp_path: Path
) -> None:
    docs = operator_rbac(render(helm, tmp_path, VARIANTS["namespaced"]))
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    for kind in ("Role", "RoleBinding"):
        assert sorted(d["metadata"]["namespace"] for d in by_kind(docs, kind)) == [
            NAMESPACE,  # the leader Lease's Role
            "team-a",
            "team-b",
        ], kind
    for role in by_kind(docs, "Role"):
        expected = LEASE_RULES if role["metadata"]["namespace"] == NAMESPACE else OPERATOR_RULES
        assert role["rules"] == expected
    for binding in by_kind(docs, "RoleBinding"):
        assert binding["subjects"][0]["namespace"] == NAMESPACE
    args = container(docs)["args"]
    assert args[2:] == ["--namespace=team-a", "--namespace=team-b"]


def test_cluster_scoped_names_are_unique_per_release_namespace(helm: Path, tmp_path: Path) -> None:
    """Two releases named alike in different namespaces must not share a ClusterRole."""
    names = [
        (doc["kind"], doc["metadata"]["name"])
        for namespace in ("ns-one", "ns-two")
        for doc in render(helm, tmp_path, {}, namespace)
        if doc["kind"].startswith("Cluster") or doc["kind"].startswith("ValidatingAdmission")
    ]
    assert len(names) == len(set(names)) == 2 * 7  # 3 ClusterRoles, 2 bindings, 2 admission


@pytest.mark.parametrize("variant", ["default", "namespaced"])
def test_d_owner_instance_id_reads_only_the_kube_system_namespace(
    helm: Path, tmp_path: Path, variant: str
) -> None:
    role, binding = instance_id_rbac(render(helm, tmp_path, VARIANTS[variant]))
    assert role["kind"] == "ClusterRole" and role["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["kube-system"],
         "verbs": ["get"]}
    ]  # fmt: skip
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert "PERSONIO_SYNC_INSTANCE_ID" not in env(render(helm, tmp_path, VARIANTS[variant]))


def test_d_owner_a_set_instance_id_needs_no_cluster_access(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {**VARIANTS["namespaced"], "operator": {"instanceId": "prod"}})
    assert instance_id_rbac(docs) == [] and not by_kind(docs, "ClusterRole")
    assert env(docs)["PERSONIO_SYNC_INSTANCE_ID"] == "prod"


def test_pod_security_and_resources(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {})
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    c = container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert set(c["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]
    assert {"mountPath": "/tmp", "name": "tmp"} in c["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert pod["serviceAccountName"] == f"{RELEASE}-personio-sync"


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"repository": "r.example/ps"}, f"r.example/ps:{APP_VERSION}"),
        ({"repository": "r.example/ps", "tag": "dev"}, "r.example/ps:dev"),
        ({"repository": "r.example/ps", "tag": "dev", "digest": DIGEST}, f"r.example/ps@{DIGEST}"),
        # REL-4: a mirror replaces the registry only; the released digest stays.
        ({"registry": "mirror.example:5000/ps", "repository": "personio-sync", "digest": DIGEST},
         f"mirror.example:5000/ps/personio-sync@{DIGEST}"),
        ({"registry": "ghcr.io/personio-sync", "repository": "personio-sync"},
         f"ghcr.io/personio-sync/personio-sync:{APP_VERSION}"),
    ],
)  # fmt: skip
def test_image_by_tag_or_by_digest(
    helm: Path, tmp_path: Path, image: dict[str, str], expected: str
) -> None:
    """A release pins the digest it built and signed; the tag is then ignored."""
    assert container(render(helm, tmp_path, {"image": image}))["image"] == expected


def test_probes_hit_the_operators_health_endpoint(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"operator": {"httpPort": 8181}})
    c = container(docs)
    assert c["ports"][0] == {"name": "http", "containerPort": 8181, "protocol": "TCP"}
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert env(docs)["PERSONIO_SYNC_HTTP_PORT"] == "8181"


def test_every_env_var_is_one_the_operator_reads(helm: Path, tmp_path: Path) -> None:
    """A renamed setting must not leave the chart setting a variable nobody reads."""
    known = {env_name(field) for field in OperatorSettings.model_fields} | {"POD_ID"}
    for variant in VARIANTS.values():
        assert set(env(render(helm, tmp_path, variant))) <= known


def test_r22_api_urls_and_tuning_are_values(helm: Path, tmp_path: Path) -> None:
    """R22: base URLs are operator configuration (values → env), never resource fields."""
    values = {
        "operator": {
            "personioApiUrl": "https://personio.proxy.internal",
            "aworkApiUrl": "https://awork.proxy.internal/api/v1",
            "logLevel": "DEBUG",
            "logFormat": "text",
            "maxConcurrentSyncs": 9,
            "maxRunsPerNamespace": 3,
        }
    }
    found = env(render(helm, tmp_path, values))
    assert found["PERSONIO_API_URL"] == "https://personio.proxy.internal"
    assert found["AWORK_API_URL"] == "https://awork.proxy.internal/api/v1"
    assert found["PERSONIO_SYNC_LOG_LEVEL"] == "DEBUG"
    assert found["PERSONIO_SYNC_LOG_FORMAT"] == "text"
    assert found["PERSONIO_SYNC_MAX_CONCURRENT_SYNCS"] == "9"
    assert found["PERSONIO_SYNC_MAX_RUNS_PER_NAMESPACE"] == "3"
    assert found["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_ha_two_replicas_keep_one_available(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, VARIANTS["ha"])
    assert one(docs, "Deployment")["spec"]["replicas"] == 2
    pdb = one(docs, "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"] == one(docs, "Deployment")["spec"]["selector"]


def test_metrics_service_and_service_monitor_select_the_operator(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, VARIANTS["servicemonitor"])
    service, monitor = one(docs, "Service"), one(docs, "ServiceMonitor")
    assert service["spec"]["selector"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    labels = service["metadata"]["labels"]
    assert all(labels[k] == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert not by_kind(render(helm, tmp_path, {}), "ServiceMonitor")
