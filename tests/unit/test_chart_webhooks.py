"""The chart's webhook exposure (issue 9): the receiver port in the pod, its own Service,
an optional Ingress with TLS that routes only the webhook path (its NetworkPolicy rule:
test_chart_security.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_chart_render import (
    CHART,
    KUBE_VERSION,
    by_kind,
    container,
    env,
    render,
    write_values,
)

from personio_sync_testing.devtools.binaries import helm_path

INGRESS = {"enabled": True, "host": "hooks.example.com", "className": "nginx",
           "tls": {"secretName": "hooks-tls"}}  # fmt: skip


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_path()


def named(docs: list[dict[str, Any]], kind: str, suffix: str) -> list[dict[str, Any]]:
    return [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]


BASE = "https://hooks.example.com/webhooks/personio"


def test_hook_15_webhooks_are_off_by_default_no_port_no_service_no_rule(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(
        helm, tmp_path, {"webhooks": {"port": 9443, "ingressFrom": [{"podSelector": {}}]}}
    )
    assert {p["name"] for p in container(docs)["ports"]} == {"http"}
    assert "PERSONIO_SYNC_WEBHOOK_BASE_URL" not in env(docs)
    assert named(docs, "Service", "-webhooks") == [] and by_kind(docs, "Ingress") == []
    (policy,) = by_kind(docs, "NetworkPolicy")
    assert [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]] == ["http"]


def test_hook_15_a_base_url_turns_the_receiver_on_on_its_own_port(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, {"webhooks": {"port": 9443, "baseURL": BASE + "/"}})
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert ports == {"http": 8080, "webhooks": 9443}
    assert env(docs)["PERSONIO_SYNC_WEBHOOK_PORT"] == "9443"
    assert env(docs)["PERSONIO_SYNC_WEBHOOK_BASE_URL"] == BASE
    assert named(docs, "Service", "-webhooks") == [] and by_kind(docs, "Ingress") == []


def test_hook_15_the_ingress_gives_the_base_url_unless_one_is_set(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, {"webhooks": {"ingress": INGRESS}})
    assert env(docs)["PERSONIO_SYNC_WEBHOOK_BASE_URL"] == BASE
    mine = "https://edge.example.net/personio-hooks"  # a proxy in front that rewrites
    docs = render(helm, tmp_path, {"webhooks": {"ingress": INGRESS, "baseURL": mine}})
    assert env(docs)["PERSONIO_SYNC_WEBHOOK_BASE_URL"] == mine


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ({"service": {"enabled": True}}, "webhooks.service.enabled needs webhooks.baseURL"),
        ({"baseURL": "hooks.example.com"}, "baseURL"),
        ({"baseURL": "https://hooks.example.com/x?token=1"}, "baseURL"),
    ],
)
def test_hook_15_a_service_without_a_base_url_or_a_bad_url_is_refused(
    helm: Path, tmp_path: Path, hooks: dict[str, Any], message: str
) -> None:
    args = [str(helm), "template", "ps", str(CHART), "--kube-version", KUBE_VERSION]
    values = write_values(tmp_path, {"webhooks": hooks})
    result = subprocess.run([*args, "--values", str(values)], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_the_ingress_routes_only_the_webhook_path_over_tls(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"webhooks": {"ingress": INGRESS}})
    (service,) = named(docs, "Service", "-webhooks")
    assert service["spec"]["ports"] == [
        {"name": "webhooks", "port": 80, "targetPort": "webhooks", "protocol": "TCP"}
    ]
    (ingress,) = by_kind(docs, "Ingress")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["hooks.example.com"], "secretName": "hooks-tls"}]
    (path,) = spec["rules"][0]["http"]["paths"]
    assert path["path"] == "/webhooks/personio" and path["pathType"] == "Prefix"
    backend = path["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "webhooks"}}


@pytest.mark.parametrize(
    ("ingress", "message"),
    [
        ({"enabled": True, "tls": {"secretName": "t"}}, "webhooks.ingress.host is required"),
        ({"enabled": True, "host": "h.example.com"}, "https only"),
        ({"enabled": True, "host": "H_bad", "tls": {"secretName": "t"}}, "host"),
    ],
)
def test_an_ingress_without_host_or_tls_is_refused(
    helm: Path, tmp_path: Path, ingress: dict[str, Any], message: str
) -> None:
    args = [str(helm), "template", "ps", str(CHART), "--kube-version", KUBE_VERSION]
    values = write_values(tmp_path, {"webhooks": {"ingress": ingress}})
    result = subprocess.run([*args, "--values", str(values)], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr
