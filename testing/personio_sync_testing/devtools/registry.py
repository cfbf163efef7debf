"""A local OCI registry on 127.0.0.1, for the release tier (make release-check).

The CNCF distribution registry, built once from its Go module (hack/tool.sh registry),
serves plain HTTP on a free loopback port with its storage in a temporary directory: the
release script pushes the image index, the chart and their signatures to it, and the
tests pull them back as a user would. Plain HTTP keeps cosign, helm, podman and syft on
their documented insecure-registry flags; nothing leaves the machine.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from personio_sync_testing.devtools.binaries import repo_root
from personio_sync_testing.devtools.processes import (
    ControlPlaneError,
    Process,
    free_port,
    wait_until,
)

CONFIG = """version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http:
  addr: 127.0.0.1:{port}
"""
READY_WITHIN = 30.0
ATTEMPTS = 3


def tool(name: str) -> Path:
    """A release tool (cosign, syft, registry) at the project's pinned version, built once."""
    result = subprocess.run(
        [str(repo_root() / "hack" / "tool.sh"), name],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise ControlPlaneError(f"hack/tool.sh {name} failed (exit {result.returncode})")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class LocalRegistry:
    """`with LocalRegistry() as reg: reg.host` → "127.0.0.1:PORT"."""

    host: str = ""
    _process: Process | None = None
    _dir: Path | None = None

    def __enter__(self) -> LocalRegistry:
        binary = tool("registry")
        self._dir = Path(tempfile.mkdtemp(prefix="personio-sync-registry-"))
        for attempt in range(1, ATTEMPTS + 1):
            port = free_port()
            config = self._dir / "config.yml"
            config.write_text(CONFIG.format(root=self._dir / "storage", port=port))
            self._process = Process.start(
                "registry", [str(binary), "serve", str(config)], self._dir / "registry.log",
                detach=False,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}/v2/"
            if wait_until(self._process, url, deadline=READY_WITHIN, attempt=attempt):
                self.host = f"127.0.0.1:{port}"
                return self
        self.__exit__()
        raise ControlPlaneError(f"registry: no free port after {ATTEMPTS} attempts")

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
