"""The lock files agree with pyproject.toml and with each other (docs/image.md).

requirements.lock pins the development environment; requirements-runtime.lock pins,
with hashes, exactly what the image installs, at the same versions the tests ran with;
requirements-build.lock pins the wheel build's backend. `make lock` writes all three.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from personio_sync import __version__

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    found = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, re.M)
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in found}


def test_runtime_lock_has_the_development_versions_and_hashes() -> None:
    runtime, dev = pins("requirements-runtime.lock"), pins("requirements.lock")
    assert runtime and {n: dev.get(n) for n in runtime} == runtime
    entries = re.split(r"\n(?=\S)", (ROOT / "requirements-runtime.lock").read_text())
    assert all("--hash=sha256:" in e for e in entries if not e.startswith("#"))


def test_locks_satisfy_pyproject() -> None:
    runtime, dev = pins("requirements-runtime.lock"), pins("requirements.lock")
    build = pins("requirements-build.lock")
    wanted = [
        (runtime, PYPROJECT["project"]["dependencies"]),
        (dev, PYPROJECT["project"]["optional-dependencies"]["dev"]),
        (build, PYPROJECT["build-system"]["requires"]),
    ]
    for locked, requirements in wanted:
        for requirement in map(Requirement, requirements):
            name = re.sub(r"[-_.]+", "-", requirement.name).lower()
            assert name in locked, f"{name} is not locked"
            assert requirement.specifier.contains(locked[name]), (name, locked[name])


def test_version_option_names_the_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "personio_sync.cli", "--version"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == f"personio-sync {PYPROJECT['project']['version']}"
    assert __version__ == PYPROJECT["project"]["version"]
