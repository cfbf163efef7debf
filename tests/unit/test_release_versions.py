"""REL-1: one version, pyproject.toml's, for the wheel, the image, the chart and the docs.

The release script refuses to run when the chart's version or appVersion or the newest
CHANGELOG heading differ (or, in GitHub Actions, the tag): checked here on a copy of the
files it reads, so the refusal and its message are pinned without building anything.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from personio_sync import __version__

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
CHART_YAML = Path("charts") / "personio-sync" / "Chart.yaml"


def test_rel1_everything_names_the_package_version() -> None:
    chart = yaml.safe_load((ROOT / CHART_YAML).read_text())
    assert chart["version"] == chart["appVersion"] == VERSION == __version__
    newest = re.search(r"^## \[([^]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert newest and newest.group(1) == VERSION, "CHANGELOG.md's newest heading"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"\d+\.\d+\.\d+-py3", dockerfile), "the Dockerfile names no version"


def test_rel1_the_install_docs_show_the_current_version() -> None:
    for doc in (ROOT / "README.md", ROOT / "docs" / "install.md"):
        shown = set(re.findall(r"--version (\d+\.\d+\.\d+)", doc.read_text()))
        assert shown == {VERSION}, f"{doc.name} shows {shown}"


def release_copy(tmp_path: Path) -> Path:
    """The files hack/release.sh reads for its version check, in a tree of their own."""
    for name in ("hack/release.sh", "pyproject.toml", "CHANGELOG.md", str(CHART_YAML)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def check_versions(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "hack" / "release.sh"), "--check-versions"],
        capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
    )  # fmt: skip


def test_rel1_the_release_accepts_agreeing_versions(tmp_path: Path) -> None:
    result = check_versions(release_copy(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"versions agree: {VERSION}" in result.stderr


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        (str(CHART_YAML), f"version: {VERSION}", "version: 9.9.9",
         f"Chart.yaml version is '9.9.9': set it to {VERSION}"),
        (str(CHART_YAML), f'appVersion: "{VERSION}"', 'appVersion: "9.9.9"',
         f"Chart.yaml appVersion is '9.9.9': set it to \"{VERSION}\""),
        ("CHANGELOG.md", f"## [{VERSION}]", "## [9.9.9]",
         f"newest heading is '[9.9.9]': add '## [{VERSION}]'"),
    ],
)  # fmt: skip
def test_rel1_the_release_refuses_a_version_that_disagrees(
    tmp_path: Path, path: str, old: str, new: str, message: str
) -> None:
    root = release_copy(tmp_path)
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new, 1))
    result = check_versions(root)
    assert result.returncode == 1
    assert f"versions disagree with pyproject.toml ({VERSION})" in result.stderr
    assert message in result.stderr


def test_rel1_a_tag_must_be_the_version(tmp_path: Path) -> None:
    root = release_copy(tmp_path)
    ok = check_versions(root, GITHUB_REF_TYPE="tag", GITHUB_REF_NAME=f"v{VERSION}")
    assert ok.returncode == 0, ok.stderr
    bad = check_versions(root, GITHUB_REF_TYPE="tag", GITHUB_REF_NAME="v9.9.9")
    assert bad.returncode == 1
    assert f"tag v9.9.9 does not match the version: tag v{VERSION} instead" in bad.stderr
