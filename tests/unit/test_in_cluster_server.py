"""In a pod the operator reaches the API server where the kubelet says it is."""

from __future__ import annotations

from personio_sync.controller.handlers import in_cluster_server


def test_kubernetes_service_host_and_port_name_the_api_server() -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster_server(env) == "https://10.96.0.1:443"


def test_an_ipv6_host_is_bracketed() -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    assert in_cluster_server(env) == "https://[fd00::1]:6443"


def test_without_both_variables_kopfs_default_stays() -> None:
    assert in_cluster_server({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}) is None
    assert in_cluster_server({}) is None
