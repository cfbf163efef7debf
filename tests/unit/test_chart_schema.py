"""values.schema.json makes helm refuse bad values, naming the value at fault.

A refused value never reaches the cluster: helm checks the schema before rendering.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from personio_sync_testing.devtools.binaries import helm_path

CHART = Path(__file__).resolve().parents[2] / "charts" / "personio-sync"

# (values, the JSON path helm must name, a word of its explanation)
BAD_VALUES: dict[str, tuple[dict[str, Any], str, str]] = {
    "typo-top-level": ({"replicas": 2}, "additional properties 'replicas'", "not allowed"),
    "typo-nested": ({"operator": {"logLvl": "INFO"}}, "/operator", "'logLvl' not allowed"),
    "negative-replicas": ({"replicaCount": -1}, "/replicaCount", "minimum"),
    "replicas-not-a-number": ({"replicaCount": "two"}, "/replicaCount", "integer"),
    "namespace-not-dns": ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0", "pattern"),
    "namespace-twice": ({"watchNamespaces": ["a", "a"]}, "/watchNamespaces", "are equal"),
    "url-not-http": (
        {"operator": {"personioApiUrl": "ftp://files.example.com"}},
        "/operator/personioApiUrl",
        "pattern",
    ),
    "url-relative": ({"operator": {"aworkApiUrl": "/api/v1"}}, "/operator/aworkApiUrl", "pattern"),
    "log-level": ({"operator": {"logLevel": "LOUD"}}, "/operator/logLevel", "one of"),
    "log-format": ({"operator": {"logFormat": "xml"}}, "/operator/logFormat", "one of"),
    "concurrency-zero": (
        {"operator": {"maxConcurrentSyncs": 0}},
        "/operator/maxConcurrentSyncs",
        "minimum",
    ),
    "per-namespace-zero": (
        {"operator": {"maxRunsPerNamespace": 0}},
        "/operator/maxRunsPerNamespace",
        "minimum",
    ),
    "port-out-of-range": ({"operator": {"httpPort": 70000}}, "/operator/httpPort", "maximum"),
    "pull-policy": ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy", "one of"),
    "empty-repository": ({"image": {"repository": ""}}, "/image/repository", "minLength"),
    "digest-without-algorithm": ({"image": {"digest": "0123abcd"}}, "/image/digest", "pattern"),
    "sec-2-secrets-cluster-wide-with-watch-namespaces": (
        {"watchNamespaces": ["hr"], "rbac": {"secrets": {"clusterWide": True}}},
        "/rbac/secrets/clusterWide",
        "false",
    ),
    "net-1-monitoring-namespace-not-dns": (
        {"networkPolicy": {"monitoringNamespace": "Monitoring"}},
        "/networkPolicy/monitoringNamespace",
        "oneOf",
    ),
    "net-2-egress-rule-not-an-object": (
        {"networkPolicy": {"extraEgress": ["10.0.0.8/32"]}},
        "/networkPolicy/extraEgress/0",
        "object",
    ),
    "network-policy-bad-cidr": (
        {"networkPolicy": {"awork": {"cidrs": ["api.awork.com"]}}},
        "/networkPolicy/awork/cidrs/0",
        "pattern",
    ),
    "privilege-escalation": (
        {"securityContext": {"allowPrivilegeEscalation": True}},
        "/securityContext/allowPrivilegeEscalation",
        "false",
    ),
    "root": ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext", "true"),
    "container-root-uid": (
        {"securityContext": {"runAsUser": 0}},
        "/securityContext/runAsUser",
        "minimum",
    ),
    "writable-root-filesystem": (
        {"securityContext": {"readOnlyRootFilesystem": False}},
        "/securityContext/readOnlyRootFilesystem",
        "true",
    ),
    "read-only-root-removed": (
        {"securityContext": {"readOnlyRootFilesystem": None}},
        "/securityContext",
        "readOnlyRootFilesystem",
    ),
    "capabilities-not-all-dropped": (
        {"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}},
        "/securityContext/capabilities/drop",
        "contains",
    ),
    "capability-added": (
        {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}},
        "/securityContext/capabilities/add",
        "maxItems",
    ),
    "seccomp-unconfined": (
        {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
        "/securityContext/seccompProfile/type",
        "one of",
    ),
    "pod-seccomp-unconfined": (
        {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}},
        "/podSecurityContext/seccompProfile/type",
        "one of",
    ),
    "seccomp-localhost-without-profile": (
        {"securityContext": {"seccompProfile": {"type": "Localhost"}}},
        "/securityContext/seccompProfile",
        "localhostProfile",
    ),
    "security-context-removed": (
        {"securityContext": None},
        "at '': missing property 'securityContext'",
        "missing",
    ),
    "limits-removed": ({"resources": {"limits": None}}, "/resources", "limits"),
    "admission-policy-typo": (
        {"admissionPolicy": {"enable": False}},
        "/admissionPolicy",
        "'enable' not allowed",
    ),
    "admission-policy-not-bool": (
        {"admissionPolicy": {"enabled": "no"}},
        "/admissionPolicy/enabled",
        "boolean",
    ),
}


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_path()


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_are_refused_with_the_path(helm: Path, tmp_path: Path, case: str) -> None:
    values, path, hint = BAD_VALUES[case]
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    args = [str(helm), "template", "ps", str(CHART), "--kube-version", "1.37.2", "-f", str(file)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, f"helm accepted {values}"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert path in result.stderr, result.stderr
    assert hint in result.stderr, result.stderr


def test_an_existing_service_account_must_be_named(helm: Path, tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump({"serviceAccount": {"create": False}}))
    args = [str(helm), "template", "ps", str(CHART), "--kube-version", "1.37.2", "-f", str(file)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "serviceAccount.name is required when serviceAccount.create is false" in result.stderr


def test_install_md_hardening_may_be_tightened_but_not_loosened(helm: Path, tmp_path: Path) -> None:
    """What docs/install.md promises (read-only root, every capability dropped, seccomp)
    stays; a Localhost seccomp profile and an explicit extra drop are accepted."""
    values = {
        "securityContext": {
            "capabilities": {"drop": ["ALL", "NET_RAW"]},
            "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/ps.json"},
        },
        "podSecurityContext": {"runAsUser": 20002},
    }
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    args = [str(helm), "template", "ps", str(CHART), "--kube-version", "1.37.2", "-f", str(file)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    deployment = next(
        doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] == "Deployment"
    )
    context = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL", "NET_RAW"]}
    assert context["seccompProfile"]["type"] == "Localhost"
