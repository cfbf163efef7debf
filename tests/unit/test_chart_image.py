"""The Dockerfile stays honest although no container engine exists here to build it.

hadolint (make lint) checks its style; these tests check it against the repository: the
files it copies exist and pass .dockerignore, versions agree, and the final stage runs as
a numeric non-root user with nothing to compile with.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import yaml

from personio_sync.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CHART = ROOT / "charts" / "personio-sync"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def stages() -> list[list[str]]:
    """Instructions per stage, comments and line continuations folded."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    result: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result


def instructions(stage: list[str], keyword: str) -> list[str]:
    return [ln[len(keyword) + 1 :].strip() for ln in stage if ln.upper().startswith(keyword + " ")]


def copied_sources() -> list[str]:
    sources = []
    for stage in stages():
        for args in instructions(stage, "COPY"):
            if "--from=" not in args:
                sources += args.split()[:-1]
    return sources


def test_versions_agree() -> None:
    version = PYPROJECT["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    assert f"personio-sync=={version}" in DOCKERFILE


def test_copied_files_exist_and_pass_dockerignore() -> None:
    patterns = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore should be an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for source in copied_sources():
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert any(fnmatch.fnmatch(source.rstrip("/"), a) for a in allowed), (
            f"{source} is excluded by .dockerignore"
        )


def test_pyproject_build_inputs_are_copied() -> None:
    """The wheel build needs what pyproject.toml names (its readme file included)."""
    sources = copied_sources()
    assert PYPROJECT["project"]["readme"] in sources
    for where in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["where"]:
        assert where in sources


def test_final_stage_is_slim_non_root_and_compiler_free() -> None:
    *_, final = stages()
    assert final[0] == "FROM python:3.11-slim"
    (user,) = instructions(final, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit(), "USER must be a numeric non-root id"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    runs = " ".join(instructions(final, "RUN"))
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|apt-get install)\b", runs)
    assert "--no-index" in runs, "the final stage installs only the wheels built before"


def test_entrypoint_and_port_match_the_package() -> None:
    *_, final = stages()
    (entrypoint,) = instructions(final, "ENTRYPOINT")
    assert entrypoint == '["personio-sync"]'
    assert "personio-sync" in PYPROJECT["project"]["scripts"]
    (expose,) = instructions(final, "EXPOSE")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(expose) == values["operator"]["httpPort"]
    assert int(expose) == OperatorSettings.model_fields["http_port"].default
