"""The Dockerfile agrees with the repository; tests/image builds and runs it for real.

hadolint (make lint) checks its style; these tests check, without a container engine,
what the image tier cannot see from inside the image: the files it copies exist and pass
.dockerignore, versions agree, the production base is pinned by digest, dependencies are
installed hash-checked from the runtime lock, and the final stage runs as a numeric
non-root user with only the virtualenv copied in.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import yaml

from personio_sync.controller.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
CHART = ROOT / "charts" / "personio-sync"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def stages() -> list[list[str]]:
    """Instructions per stage, comments and line continuations folded."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    result: list[list[str]] = [[]]  # the first: ARGs before any FROM
    for line in lines:
        if line.upper().startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result[1:]


def preamble_args() -> dict[str, str]:
    text = DOCKERFILE.split("\nFROM ", 1)[0]
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))


def instructions(stage: list[str], keyword: str) -> list[str]:
    return [ln[len(keyword) + 1 :].strip() for ln in stage if ln.upper().startswith(keyword + " ")]


def copied_sources() -> list[str]:
    sources = []
    for stage in stages():
        for args in instructions(stage, "COPY"):
            if "--from=" not in args:
                sources += args.split()[:-1]
    return sources


def test_the_image_installs_the_wheel_it_built() -> None:
    """Whatever pyproject.toml's version (REL-1: written nowhere else), that wheel."""
    build, _ = stages()
    runs = " ".join(instructions(build, "RUN"))
    assert "--wheel-dir /wheels ." in runs
    assert "/wheels/personio_sync-*-py3-none-any.whl" in runs


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


def test_production_base_is_pinned_by_digest_and_shared_by_both_stages() -> None:
    """The venv links to the base's python3, so the build stage must use the same base."""
    base = preamble_args()["BASE"]
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base), base
    assert [stage[0].split()[1] for stage in stages()] == ["${BASE}", "${BASE}"]


def test_dependencies_are_installed_hash_checked_from_the_locks() -> None:
    build, _ = stages()
    runs = " ".join(instructions(build, "RUN"))
    for lock in ("requirements-build.lock", "requirements-runtime.lock"):
        hashed = rf"--require-hashes\s+--only-binary=:all:(?:\s+--no-deps)?\s+-r {lock}"
        assert re.search(hashed, runs), f"{lock} is not installed hash-checked"
    assert "--no-build-isolation" in runs, "the build backend comes from the hashed lock only"


def test_final_stage_is_non_root_and_gets_only_the_virtualenv() -> None:
    *_, final = stages()
    (user,) = instructions(final, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit(), "USER must be a numeric non-root id"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert values["podSecurityContext"]["runAsGroup"] == int(gid)
    assert instructions(final, "COPY") == ["--from=build /opt/venv /opt/venv"]
    runs = " ".join(instructions(final, "RUN"))
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|apt-get install)\b", runs)
    assert "pip uninstall" in runs, "the base's own pip is removed"


def test_entrypoint_and_port_match_the_package() -> None:
    *_, final = stages()
    (entrypoint,) = instructions(final, "ENTRYPOINT")
    assert entrypoint == '["personio-sync"]'
    assert "personio-sync" in PYPROJECT["project"]["scripts"]
    (expose,) = instructions(final, "EXPOSE")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert int(expose) == values["operator"]["httpPort"]
    assert int(expose) == OperatorSettings.model_fields["http_port"].default
