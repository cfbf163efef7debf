"""`helm test` (HELMTEST-1): a Pod hook that checks /healthz and that the CRD is served,
run as the operator's ServiceAccount with the operator's image and security settings,
and never selected by the operator's Service or Deployment. It runs for real against the
operator in tests/image/test_image.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_chart_notes import notes
from tests.unit.test_chart_render import container, one, render

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


def http_peers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who the NetworkPolicy lets reach the HTTP port (/healthz, /metrics)."""
    rules = one(docs, "NetworkPolicy")["spec"]["ingress"]
    return [peer for rule in rules if {"port": "http", "protocol": "TCP"} in rule["ports"]
            for peer in rule["from"]]  # fmt: skip


def admits(peers: list[dict[str, Any]], pod: dict[str, Any]) -> bool:
    labels = pod["metadata"]["labels"].items()
    return any(set(p) == {"podSelector"} and p["podSelector"]["matchLabels"].items() <= labels
               for p in peers)  # fmt: skip


@pytest.mark.parametrize("policy", [{}, {"monitoringNamespace": "", "ingressFrom": []}])
def test_helmtest_1_the_network_policy_lets_the_test_pod_reach_healthz(
    helm: Path, tmp_path: Path, policy: dict[str, Any]
) -> None:
    """The NetworkPolicy is on by default and admits the monitoring namespace only; the
    `helm test` Pod (same namespace) is let in too, and nothing else with it."""
    docs = render(helm, tmp_path, {"networkPolicy": policy}, hooks=True)
    peers = http_peers(docs)
    assert admits(peers, hook_pod(docs))
    assert not admits(peers, one(docs, "Deployment")["spec"]["template"])
    off = render(helm, tmp_path, {"networkPolicy": policy, "tests": {"enabled": False}})
    assert len(http_peers(off)) == len(peers) - 1


def test_helmtest_1_the_install_notes_name_the_command(tmp_path: Path) -> None:
    assert "helm test ps --namespace ops" in notes(tmp_path / "on")
    assert "helm test" not in notes(tmp_path / "off", "--set", "tests.enabled=false")
