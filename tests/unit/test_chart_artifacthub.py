"""Chart.yaml carries what Artifact Hub shows (ARTIFACTHUB-1): each `artifacthub.io/*`
annotation parses to the shape Artifact Hub documents, and says what the chart does
(the CRD it installs, the image it deploys, the project's license)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "personio-sync"
REPOSITORY = "https://github.com/personio-sync/personio-sync"
CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}
CAPABILITIES = {"Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights",
                "Auto Pilot"}  # fmt: skip


def chart() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return found


def annotation(name: str) -> Any:
    return yaml.safe_load(chart()["annotations"][f"artifacthub.io/{name}"])


def test_artifacthub_1_changes_links_and_license() -> None:
    changes = annotation("changes")
    assert changes and all(c["kind"] in CHANGE_KINDS and c["description"] for c in changes)
    for link in [*annotation("links"), *(lk for c in changes for lk in c.get("links", []))]:
        assert link["name"] and (link["url"] + "/").startswith(f"{REPOSITORY}/"), link
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart()["annotations"]["artifacthub.io/license"] == project["license"]
    assert all(m["name"] for m in chart()["maintainers"])


def test_artifacthub_1_the_image_is_the_one_this_version_deploys() -> None:
    (image,) = annotation("images")
    assert image["image"] == f"ghcr.io/personio-sync/personio-sync:{chart()['appVersion']}"


def test_artifacthub_1_operator_and_its_crd() -> None:
    annotations = chart()["annotations"]
    assert annotations["artifacthub.io/operator"] == "true"
    assert annotations["artifacthub.io/operatorCapabilities"] in CAPABILITIES
    crd = yaml.safe_load((CHART / "crds" / "personiosync.yaml").read_text())
    (listed,) = annotation("crds")
    assert listed["name"] == crd["metadata"]["name"]
    assert listed["kind"] == crd["spec"]["names"]["kind"]
    assert listed["version"] in [v["name"] for v in crd["spec"]["versions"] if v["served"]]


def test_artifacthub_1_home_and_sources_name_the_repository_when_set() -> None:
    meta = chart()
    assert meta.get("home", REPOSITORY) == REPOSITORY
    assert REPOSITORY in meta.get("sources", [REPOSITORY])
