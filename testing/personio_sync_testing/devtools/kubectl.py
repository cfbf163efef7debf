"""Run kubectl (and helm) against one kubeconfig, returning stdout or raising with stderr.

Always passes the kubeconfig explicitly, so a KUBECONFIG in the developer's environment
can never redirect a test at the wrong cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personio_sync_testing.devtools.binaries import kubectl_path


class CommandError(RuntimeError):
    """A command exited non-zero; `stderr` holds what it said."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(f"{' '.join(args)} exited {returncode}: {stderr.strip() or stdout}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class Kubectl:
    """`kubectl("get", "psync", "-n", ns)` → stdout; `.json(...)` → decoded `-o json`."""

    kubeconfig: Path
    binary: Path | None = None
    timeout: float = 60.0

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        binary = self.binary or kubectl_path()
        return run([str(binary), f"--kubeconfig={self.kubeconfig}", *args], input, self.timeout,
                   check=check)  # fmt: skip

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, manifest: str, *args: str) -> str:
        """`kubectl apply -f -` with strict field validation (kubectl's default)."""
        return self("apply", "-f", "-", *args, input=manifest)


@dataclass(frozen=True)
class Helm:
    """`helm(...)` with the same explicit kubeconfig."""

    kubeconfig: Path
    binary: Path
    timeout: float = 120.0

    def __call__(self, *args: str, input: str | None = None) -> str:
        return run([str(self.binary), f"--kubeconfig={self.kubeconfig}", *args], input,
                   self.timeout)  # fmt: skip


def run(args: list[str], input: str | None, timeout: float, *, check: bool = True) -> str:
    # No inherited KUBECONFIG: the explicit flag is the only source of truth.
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    result = subprocess.run(
        args, input=input, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check and result.returncode != 0:
        raise CommandError(args, result.returncode, result.stdout, result.stderr)
    return result.stdout
