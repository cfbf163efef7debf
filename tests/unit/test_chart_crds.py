"""The chart's CRD: the PersonioSync CRD is a byte-for-byte copy of crds/, and the only one
(kopf runs standalone: leader election uses a built-in Lease, no peering CRDs).

helm packages charts/personio-sync/crds/ as files (a symlink would be packaged as a
dangling link or not at all), so the CRD is copied; this test fails when the copy is stale:
    cp crds/personiosync.yaml charts/personio-sync/crds/personiosync.yaml
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_CRDS = ROOT / "charts" / "personio-sync" / "crds"
CRD_FILE = "personiosync.yaml"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_chart_crd_is_the_generated_crd() -> None:
    source, copy = ROOT / "crds" / CRD_FILE, CHART_CRDS / CRD_FILE
    assert source.is_file(), f"{source} is missing (generated from the spec model)"
    assert copy.is_file() and not copy.is_symlink(), f"{copy} must be a regular file"
    assert copy.read_bytes() == source.read_bytes(), f"stale copy: cp {source} {copy}"


def test_chart_ships_no_other_crds() -> None:
    assert sorted(p.name for p in CHART_CRDS.iterdir()) == [CRD_FILE]


def camel_words(path: str) -> list[str]:
    """'spec.api.baseURL' → ['spec', 'api', 'base', 'url'] ('hourly' is not 'url')."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", path)]


def test_camel_words() -> None:
    assert camel_words("spec.hourlyAbsences") == ["spec", "hourly", "absences"]
    assert camel_words("spec.api.baseURL") == ["spec", "api", "base", "url"]
    assert camel_words("spec.URLPath.aworkHost") == ["spec", "url", "path", "awork", "host"]


def test_r22_the_resource_has_no_url_field() -> None:
    """R22: no PersonioSync field can point the operator (and a Secret) at another host."""
    (crd,) = load_all(CHART_CRDS / CRD_FILE)

    def keys(schema: Any, path: str) -> list[str]:
        if not isinstance(schema, dict):
            return []
        found = []
        for name, sub in schema.get("properties", {}).items():
            found += [f"{path}.{name}", *keys(sub, f"{path}.{name}")]
        return found + keys(schema.get("items"), f"{path}[]")

    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        fields = keys(spec, "spec")
        assert fields, "the CRD schema lists no spec fields"
        offending = [
            f
            for f in fields
            if set(camel_words(f)) & {"url", "uri", "host", "endpoint"}
            # HOOK-7: deprecated and ignored (older manifests still apply); the operator
            # registers its own URL and never reads this one (docs/rules.md).
            and f != "spec.webhook.url"
        ]
        assert not offending, f"R22: spec fields that name a host: {offending}"
