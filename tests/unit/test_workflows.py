"""The workflows do what the docs promise (actionlint, with shellcheck, checks the syntax).

CI runs exactly `make test`; a version tag runs hack/release.sh, the script the release
tier runs against a local registry, and nothing of it is repeated in YAML (REL-6). Every
action is pinned by commit and the Dockerfile's frontend by digest (SUPPLY-1), and the
certificate identity docs/install.md tells users to verify is this workflow's, in this
repository, at the release's tag (SUPPLY-2).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CHART = yaml.safe_load((ROOT / "charts" / "personio-sync" / "Chart.yaml").read_text())
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.M)


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True)
    return doc


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def script(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def repository() -> str:
    """owner/name, from Chart.yaml's home: the one place the project's address is set."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", CHART["home"])
    assert match, f"Chart.yaml home {CHART['home']!r} is not a GitHub repository URL"
    return match.group(1)


def test_ci_runs_what_our_ci_runs() -> None:
    ci = load("ci.yml")
    (job,) = ci["jobs"].values()
    assert "bash .ci/run" in script(job)
    assert ci["permissions"] == {"contents": "read"}


def test_rel6_the_release_workflow_calls_the_release_script_on_a_version_tag() -> None:
    release = load("release.yml")
    assert release["on"] == {"push": {"tags": ["v*.*.*"]}}
    (job,) = release["jobs"].values()
    assert job["permissions"]["id-token"] == "write", "keyless signing needs the OIDC token"
    assert job["if"] == f"github.repository == '{repository()}'"
    run = script(job)
    assert re.search(r'hack/release\.sh --registry "\$REGISTRY" --keyless', run)
    assert job["env"]["REGISTRY"] == f"ghcr.io/{repository().split('/')[0]}"
    # Building, pushing, signing and attesting are the script's; the YAML only logs in
    # and uploads the GitHub release.
    for step_word in ("cosign", "helm push", "podman build", "syft", "buildx"):
        assert step_word not in run, f"{step_word} belongs in hack/release.sh"
    assert not [s for s in steps(job) if "docker/" in s.get("uses", "")]


def test_supply1_every_action_is_pinned_by_commit_with_its_version() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        found = USES.findall(path.read_text())
        assert found, f"{path.name} uses no action?"
        for target, rest in found:
            action, _, ref = target.partition("@")
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {target} is not a commit"
            assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", rest), (
                f"{path.name}: {action} needs its version as a comment ('# vX.Y.Z')"
            )


def test_supply1_the_same_action_is_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for target, rest in USES.findall(path.read_text()):
            pins.setdefault(target.split("@")[0], set()).add(target + rest)
    assert all(len(seen) == 1 for seen in pins.values()), pins


def test_supply1_the_dockerfile_frontend_is_pinned_by_digest() -> None:
    first = (ROOT / "Dockerfile").read_text().splitlines()[0]
    assert re.fullmatch(r"# syntax=docker/dockerfile:1\.\d+@sha256:[0-9a-f]{64}", first), first


def test_supply2_the_documented_identity_is_the_release_workflow_at_the_tag() -> None:
    """docs/install.md's `--certificate-identity` is exactly what keyless signing names."""
    docs = (ROOT / "docs" / "install.md").read_text()
    identities = set(re.findall(r"--certificate-identity[= ](\S+)", docs))
    expected = (
        f"https://github.com/{repository()}/.github/workflows/release.yml@refs/tags/v{VERSION}"
    )
    assert identities == {expected}
    assert (WORKFLOWS / "release.yml").is_file()
    issuers = set(re.findall(r"--certificate-oidc-issuer[= ](\S+)", docs))
    assert issuers == {"https://token.actions.githubusercontent.com"}
    assert "--certificate-identity-regexp" not in docs, "the exact identity, not a pattern"


def test_supply2_the_address_is_set_in_one_place() -> None:
    """Chart.yaml's home and sources name the repository; no placeholder is left."""
    assert CHART["sources"] == [CHART["home"]]
    owner = repository().split("/")[0]
    for doc in (ROOT / "README.md", ROOT / "docs" / "install.md"):
        text = doc.read_text()
        assert "OWNER" not in text, f"{doc.name} still has the OWNER placeholder"
        assert f"oci://ghcr.io/{owner}/charts/personio-sync" in text
