"""`helm test` (HELMTEST-1): a Pod hook that checks /healthz and that the CRD is served,
run as the operator's ServiceAccount with the operator's image and security settings,
and never selected by the operator's Service or Deployment. It runs for real against the
operator in tests/image/test_image.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.test_chart_render import NETWORK_POLICY, container, one, render

CHART = Path(__file__).resolve().parents[2] / "charts" / "personio-sync"


def hook_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    return pod


def test_helmtest_1_the_hook_pod_checks_healthz_and_the_crd(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {}, hooks=True)
    pod = hook_pod(docs)
    assert pod["metadata"]["annotations"] == {
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    }
    deployment = one(docs, "Deployment")["spec"]
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == deployment["template"]["spec"]["serviceAccountName"]
    assert spec["securityContext"] == deployment["template"]["spec"]["securityContext"]
    (test,) = spec["containers"]
    operator = container(docs)
    assert test["image"] == operator["image"]
    assert test["securityContext"] == operator["securityContext"]
    assert test["command"] == ["python3", "-c"]
    assert test["args"] == [(CHART / "files" / "helm-test.py").read_text()]
    env = {e["name"]: e["value"] for e in test["env"]}
    service = one(docs, "Service")
    port = service["spec"]["ports"][0]["port"]
    assert env == {
        "HEALTHZ_URL": f"http://{service['metadata']['name']}.ops.svc:{port}/healthz",
        "CRD_GROUP_VERSION": "personio-sync.dev/v1alpha1",
        "CRD_PLURAL": "personiosyncs",
    }


def test_helmtest_1_no_operator_selector_picks_the_test_pod(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {}, hooks=True)
    labels = hook_pod(docs)["metadata"]["labels"]
    selectors = [one(docs, "Service")["spec"]["selector"],
                 one(docs, "Deployment")["spec"]["selector"]["matchLabels"],
                 one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]]  # fmt: skip
    for selector in selectors:
        assert not selector.items() <= labels.items(), selector


def test_helmtest_1_without_the_metrics_service_only_the_crd_is_checked(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, {"metrics": {"service": {"enabled": False}}}, hooks=True)
    env = {e["name"]: e["value"] for e in hook_pod(docs)["spec"]["containers"][0]["env"]}
    assert env["HEALTHZ_URL"] == ""


def test_helmtest_1_tests_can_be_turned_off(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"tests": {"enabled": False}}, hooks=True)
    assert not [d for d in docs if d["kind"] == "Pod"]


def test_helmtest_1_a_network_policy_lets_the_test_pod_reach_healthz(
    helm: Path, tmp_path: Path
) -> None:
    policy = {**NETWORK_POLICY, "ingressFrom": [{"podSelector": {"matchLabels": {"a": "b"}}}]}
    docs = render(helm, tmp_path, {"networkPolicy": policy}, hooks=True)
    (http, _webhooks) = one(docs, "NetworkPolicy")["spec"]["ingress"]
    allowed = [peer["podSelector"]["matchLabels"] for peer in http["from"]]
    assert hook_pod(docs)["metadata"]["labels"].items() >= allowed[-1].items()
    assert allowed[0] == {"a": "b"}
