"""The chart's defences, rendered offline: the admission gate (SEC-3), Secrets granted per
namespace (SEC-2), the NetworkPolicy (NET-1, NET-2) and the ports it refuses to share.

What the API server makes of them is in tests/e2e/test_chart_admission.py,
test_chart_operator.py and test_chart.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_chart_notes import notes as render_notes
from test_chart_render import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    SECRET_RULES,
    SERVES_VAP,
    by_kind,
    env,
    named,
    one,
    render,
    write_values,
)

from personio_sync.controller.runs.inputs import unreadable
from personio_sync.controller.settings import OperatorSettings, env_name
from personio_sync.errors import KubeError
from personio_sync.resource.spec import ALLOW_MASS_DELETE, ALLOW_MASS_DELETE_HANDLED
from personio_sync_testing.devtools.binaries import helm_path

SA = f"{RELEASE}-personio-sync"
READER = f"{NAMESPACE}-{RELEASE}-personio-sync-secrets"
EXPOSED = {"webhooks": {"service": {"enabled": True},
                        "baseURL": "https://hooks.example.com/webhooks/personio"}}  # fmt: skip


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_path()


def notes(tmp_path: Path, *args: str) -> str:
    """NOTES.txt as `helm install` would print it (each call in a copy of its own)."""
    return render_notes(tmp_path / f"notes-{len(list(tmp_path.iterdir()))}", *args)


def admission(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    return one(docs, "ValidatingAdmissionPolicy"), one(docs, "ValidatingAdmissionPolicyBinding")


def cel(text: str) -> str:
    return " ".join(text.split())


def test_sec_3_admission_policy_asks_whether_the_user_may_get_the_named_secret(
    helm: Path, tmp_path: Path
) -> None:
    policy, binding = admission(render(helm, tmp_path, {}))
    assert policy["metadata"]["name"] == f"{NAMESPACE}-{RELEASE}-personio-sync-secret-ref"
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": ["personio-sync.dev"], "apiVersions": ["*"],
         "operations": ["CREATE", "UPDATE"], "resources": ["personiosyncs"]}  # not /status
    ]  # fmt: skip
    (validation,) = spec["validations"]
    check = cel(validation["expression"])
    assert "resource('secrets')" in check and ".name(object.spec.secretRef.name)" in check
    assert "check('get').allowed()" in check and "namespace(request.namespace)" in check
    assert "request.userInfo.username" in validation["messageExpression"]
    assert "object.spec.secretRef.name" in validation["messageExpression"]
    assert binding["spec"] == {"policyName": policy["metadata"]["name"],
                               "validationActions": ["Deny"]}  # fmt: skip


def test_sec_3_the_gate_checks_every_spec_change_and_an_armed_consent(
    helm: Path, tmp_path: Path
) -> None:
    """The side doors of issue 16: spec changes other than secretRef, and a new (or
    re-armed) allow-mass-delete consent, need get on the Secret too."""
    policy, _ = admission(render(helm, tmp_path, {}))
    variables = {v["name"]: cel(v["expression"]) for v in policy["spec"]["variables"]}
    (validation,) = policy["spec"]["validations"]
    assert cel(validation["expression"]).startswith(
        "!(variables.namesSecret || variables.changesSpec || variables.armsConsent) ||"
    )
    assert variables["changesSpec"] == "variables.update && object.spec != oldObject.spec"
    assert f"'{ALLOW_MASS_DELETE}'" in variables["allow"]
    assert f"'{ALLOW_MASS_DELETE_HANDLED}'" in variables["handled"]
    assert "oldObject" in variables["oldAllow"] and "oldObject" in variables["oldHandled"]
    # No matchConditions: nothing else decides what is skipped.
    assert "matchConditions" not in policy["spec"]


def test_sec_3_with_watch_namespaces_the_policy_binds_only_those(
    helm: Path, tmp_path: Path
) -> None:
    _, binding = admission(render(helm, tmp_path, {"watchNamespaces": ["team-a", "team-b"]}))
    assert binding["spec"]["matchResources"] == {"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In",
         "values": ["team-a", "team-b"]}]}}  # fmt: skip


def test_sec_3_the_admission_policy_can_be_turned_off(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"admissionPolicy": {"enabled": False}})
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert "WARNING" not in notes(tmp_path, "--set", "admissionPolicy.enabled=false")


def test_sec_3_rendered_only_where_the_api_server_serves_it(helm: Path, tmp_path: Path) -> None:
    """An API server without the policy API gets the rest of the chart and a warning."""
    docs = render(helm, tmp_path, {}, api_versions=())
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert {"Deployment", "ClusterRole", "NetworkPolicy"} <= kinds
    warned = notes(tmp_path)
    assert "admission policy (SEC-3) was NOT installed" in warned
    served = notes(tmp_path, *(f"--api-versions={v}" for v in SERVES_VAP))
    assert "WARNING" not in served


def test_sec_2_serving_every_namespace_secrets_are_granted_per_namespace(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, {})
    assert named(docs, "ClusterRole", READER)["rules"] == SECRET_RULES
    bound = [b["roleRef"]["name"] for b in by_kind(docs, "ClusterRoleBinding")]
    assert READER not in bound and len(bound) == 2  # the operator's and the instance id's
    found = env(docs)
    assert found["PERSONIO_SYNC_SECRET_READER_ROLE"] == READER
    assert found["PERSONIO_SYNC_SERVICE_ACCOUNT"] == SA


def test_sec_2_cluster_wide_secrets_only_by_an_explicit_value(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"rbac": {"secrets": {"clusterWide": True}}})
    binding = named(docs, "ClusterRoleBinding", READER)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": READER}  # fmt: skip
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": NAMESPACE}]


def test_sec_2_watched_namespaces_need_no_secret_reader(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"watchNamespaces": ["team-a"]})
    assert not [d for d in docs if d["metadata"]["name"] == READER]
    assert "PERSONIO_SYNC_SECRET_READER_ROLE" not in env(docs)


def grant_in_notes(text: str) -> str:
    (command,) = re.findall(r"kubectl [^\n]*create rolebinding(?:[^\n]*\\\n)*[^\n]*", text)
    return " ".join(re.sub(r"\\\n", " ", command).split())


def test_sec_2_notes_and_the_secret_unreadable_message_give_the_same_command(
    helm: Path, tmp_path: Path
) -> None:
    """The command an admin is shown works only if its names are the chart's: the
    message is built from the settings the rendered Deployment passes."""
    found = env(render(helm, tmp_path, {}))
    settings = OperatorSettings(
        service_account=found[env_name("service_account")],
        secret_reader_role=found[env_name("secret_reader_role")],
        POD_NAMESPACE=NAMESPACE,  # the downward API's metadata.namespace
    )
    forbidden = KubeError('GET secrets hr/acme: 403 secrets "acme" is forbidden', 403)
    problem = unreadable(settings, "hr", "acme", forbidden)
    assert problem.reason == "SecretUnreadable"
    command = grant_in_notes(notes(tmp_path))
    assert command == (
        f"kubectl --namespace hr create rolebinding {READER} --clusterrole={READER} "
        f"--serviceaccount={NAMESPACE}:{SA}"
    )
    assert f"`{command}`" in problem.message and "'acme'" in problem.message
    assert "create rolebinding" not in notes(tmp_path, "--set", "rbac.secrets.clusterWide=true")
    assert "create rolebinding" not in notes(tmp_path, "--set", "watchNamespaces={hr}")


def network_policy(helm: Path, tmp_path: Path, values: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = one(render(helm, tmp_path, values), "NetworkPolicy")["spec"]
    for rule in spec.get("ingress") or []:
        assert rule["from"], "an ingress rule without peers admits every source"
    return spec


def ingress_rules(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {rule["ports"][0]["port"]: rule["from"] for rule in spec["ingress"]}


def in_namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


# The `helm test` Pod (its own labels, the release's namespace) checks /healthz.
HELM_TEST_POD = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "personio-sync-test",
                                                 "app.kubernetes.io/instance": "ps"}}}  # fmt: skip


def test_net_1_on_by_default_metrics_only_from_the_monitoring_namespace(
    helm: Path, tmp_path: Path
) -> None:
    spec = network_policy(helm, tmp_path, {})
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert ingress_rules(spec) == {"http": [in_namespace("monitoring"), HELM_TEST_POD]}


def test_net_1_the_webhook_port_only_from_the_ingress_controller_while_exposed(
    helm: Path, tmp_path: Path
) -> None:
    peer = {"podSelector": {"matchLabels": {"app": "edge"}}}
    values = {"webhooks": {**EXPOSED["webhooks"], "ingressFrom": [peer]},
              "networkPolicy": {"ingressControllerNamespace": "edge"}}  # fmt: skip
    rules = ingress_rules(network_policy(helm, tmp_path, values))
    assert rules["webhooks"] == [in_namespace("edge"), peer]
    hidden = {"webhooks": {"ingressFrom": [peer]}}  # peers listed, but nothing exposes it
    assert "webhooks" not in ingress_rules(network_policy(helm, tmp_path, hidden))


def test_net_1_no_namespace_and_no_peer_admits_nobody_but_helm_test(
    helm: Path, tmp_path: Path
) -> None:
    values = {**EXPOSED, "networkPolicy": {"monitoringNamespace": "",
                                           "ingressControllerNamespace": ""}}  # fmt: skip
    assert ingress_rules(network_policy(helm, tmp_path, values)) == {"http": [HELM_TEST_POD]}
    values["tests"] = {"enabled": False}
    assert network_policy(helm, tmp_path, values)["ingress"] == []


def test_net_1_can_be_turned_off(helm: Path, tmp_path: Path) -> None:
    assert not by_kind(render(helm, tmp_path, {"networkPolicy": {"enabled": False}}),
                       "NetworkPolicy")  # fmt: skip


def egress_ports(spec: dict[str, Any]) -> list[tuple[tuple[Any, ...], list[str]]]:
    return [
        (tuple(p["port"] for p in rule["ports"]),
         [t["ipBlock"]["cidr"] for t in rule.get("to", []) if "ipBlock" in t])
        for rule in spec["egress"]
    ]  # fmt: skip


def test_net_2_egress_by_default_only_dns_the_api_server_and_https(
    helm: Path, tmp_path: Path
) -> None:
    """No CIDRs needed: the ports alone shut out the cloud metadata service, plain http
    and every internal service; any address, since vendors' addresses move."""
    spec = network_policy(helm, tmp_path, {})
    assert egress_ports(spec) == [((53, 53), []), ((443, 6443), []), ((443,), []), ((443,), [])]
    assert {p["protocol"] for p in spec["egress"][0]["ports"]} == {"UDP", "TCP"}
    assert all("to" not in rule for rule in spec["egress"])


def test_net_2_cidrs_narrow_each_destination_and_urls_give_the_port(
    helm: Path, tmp_path: Path
) -> None:
    proxy = {"to": [{"ipBlock": {"cidr": "10.0.0.8/32"}}], "ports": [{"port": 3128}]}
    values = {
        "operator": {"personioApiUrl": "https://personio.proxy.internal:8443"},
        "networkPolicy": {
            "apiServer": {"cidrs": ["10.0.0.1/32"], "ports": [6443]},
            "personio": {"cidrs": ["198.51.100.0/24"]},
            "awork": {"cidrs": ["203.0.113.7/32", "2001:db8::/64"]},
            "dns": {"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
            "extraEgress": [proxy],
        },
    }
    spec = network_policy(helm, tmp_path, values)
    dns, *rest = spec["egress"]
    assert dns["to"] == [{"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    assert egress_ports({"egress": rest}) == [
        ((6443,), ["10.0.0.1/32"]),
        ((443,), ["203.0.113.7/32", "2001:db8::/64"]),  # awork
        ((8443,), ["198.51.100.0/24"]),  # personio, on its URL's port
        ((3128,), ["10.0.0.8/32"]),
    ]


def test_net_2_egress_can_be_left_open(helm: Path, tmp_path: Path) -> None:
    spec = network_policy(helm, tmp_path, {"networkPolicy": {"restrictEgress": False}})
    assert spec["policyTypes"] == ["Ingress"] and "egress" not in spec


@pytest.mark.parametrize(
    "values",
    [
        {"operator": {"httpPort": 8081}},
        {"webhooks": {"port": 8080}},
        {"operator": {"httpPort": 9000}, "webhooks": {"port": 9000}},
    ],
)
def test_the_http_and_webhook_ports_must_differ(
    helm: Path, tmp_path: Path, values: dict[str, Any]
) -> None:
    """Two servers on one container port would stop the pod at start; helm says so first."""
    args = [str(helm), "template", "ps", str(CHART), "--kube-version", KUBE_VERSION]
    result = subprocess.run([*args, "--values", str(write_values(tmp_path, values))],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert "operator.httpPort and webhooks.port are both" in result.stderr, result.stderr
