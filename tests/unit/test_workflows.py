"""The release workflow does what docs/install.md promises (actionlint checks the syntax).

A tag builds the image for amd64 and arm64, pushes it to GitHub's registry, signs it
keyless and attests an SBOM; the chart pushed with it defaults to exactly that digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True)
    return doc


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def script(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def test_ci_runs_what_our_ci_runs() -> None:
    ci = load("ci.yml")
    (job,) = ci["jobs"].values()
    assert "bash .ci/run" in script(job)
    assert ci["permissions"] == {"contents": "read"}


def test_release_builds_both_architectures_signs_and_attests() -> None:
    release = load("release.yml")
    assert release["on"] == {"push": {"tags": ["v*.*.*"]}}
    image = release["jobs"]["image"]
    assert image["permissions"]["id-token"] == "write", "keyless signing needs the OIDC token"
    (build,) = [s for s in steps(image) if s.get("uses", "").startswith("docker/build-push")]
    assert set(build["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["with"]["push"] is True and build["with"]["sbom"] is True
    assert 'cosign sign --yes "$IMAGE"' in script(image)
    assert "cosign attest --yes --type spdxjson" in script(image)
    assert "ghcr.io/" in script(image)


def test_released_chart_defaults_to_the_signed_digest() -> None:
    chart = load("release.yml")["jobs"]["chart"]
    assert chart["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
    run = script(chart)
    assert ".image.digest = strenv(DIGEST)" in run
    assert 'grep -F "image: \\"$IMAGE@$DIGEST\\""' in run, "the packaged chart renders the digest"
    assert "helm push" in run and "oci://ghcr.io/" in run
    assert 'cosign sign --yes "$CHART"' in run
