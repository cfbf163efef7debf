"""Running the release against the local registry, and what it published (release.env)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from personio_sync_testing.devtools.registry import tool

ROOT = Path(__file__).resolve().parents[2]
KEY_PASSWORD = "release-check-throwaway"


@dataclass(frozen=True)
class Release:
    """What hack/release.sh published (its release.env), and the key it signed with."""

    registry: str  # 127.0.0.1:PORT/personio-sync
    version: str
    image: str  # 127.0.0.1:PORT/personio-sync/personio-sync
    image_digest: str
    chart: str  # oci://127.0.0.1:PORT/personio-sync/charts/personio-sync
    chart_digest: str
    public_key: Path
    out: Path
    cosign: Path

    @property
    def host(self) -> str:
        return self.registry.split("/", 1)[0]


def publish(host: str, work: Path) -> Release:
    """hack/release.sh against the local registry, signed with a fresh key pair."""
    cosign = tool("cosign")
    env = {**os.environ, "COSIGN_PASSWORD": KEY_PASSWORD}
    for name in ("GITHUB_REF_TYPE", "GITHUB_REF_NAME", "REGISTRY_AUTH_FILE"):
        env.pop(name, None)
    subprocess.run([str(cosign), "generate-key-pair"], cwd=work, env=env, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)  # fmt: skip
    out = work / "out"
    registry = f"{host}/personio-sync"
    args = [str(ROOT / "hack" / "release.sh"), "--registry", registry,
            "--key", str(work / "cosign.key"), "--plain-http", "--out", str(out)]  # fmt: skip
    # stderr is inherited: the script says what it builds, and a cold run takes minutes.
    result = subprocess.run(args, env=env, stdout=subprocess.PIPE, text=True, check=False,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    if result.returncode != 0:
        raise pytest.UsageError(f"hack/release.sh failed (exit {result.returncode}); see above")
    published = dict(
        line.split("=", 1) for line in (out / "release.env").read_text().splitlines() if line
    )
    return Release(
        registry=registry,
        version=published["VERSION"],
        image=published["IMAGE"],
        image_digest=published["IMAGE_DIGEST"],
        chart=published["CHART"],
        chart_digest=published["CHART_DIGEST"],
        public_key=work / "cosign.pub",
        out=out,
        cosign=cosign,
    )
