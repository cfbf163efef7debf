"""values.schema.json makes helm refuse bad values, naming the value at fault.

A refused value never reaches the cluster: helm checks the schema before rendering.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from personio_sync.devtools.binaries import helm_path

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
    "port-out-of-range": ({"operator": {"httpPort": 70000}}, "/operator/httpPort", "maximum"),
    "pull-policy": ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy", "one of"),
    "empty-repository": ({"image": {"repository": ""}}, "/image/repository", "minLength"),
    "digest-without-algorithm": ({"image": {"digest": "0123abcd"}}, "/image/digest", "pattern"),
    "network-policy-without-cidrs": (
        {"networkPolicy": {"enabled": True}},
        "/networkPolicy/apiServer/cidrs",
        "minItems",
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
