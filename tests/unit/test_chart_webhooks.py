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


def test_the_receiver_has_its_own_port_and_nothing_exposes_it_by_default(
    helm: Path, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, {"webhooks": {"port": 9443}})
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert ports == {"http": 8080, "webhooks": 9443}
    assert env(docs)["PERSONIO_SYNC_WEBHOOK_PORT"] == "9443"
    assert named(docs, "Service", "-webhooks") == [] and by_kind(docs, "Ingress") == []


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
