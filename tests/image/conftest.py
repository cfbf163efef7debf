"""The image tier: the operator image built with podman and run as the chart runs it.

The image is built (hack/image/build.sh: podman and a local stand-in base, installed
and cached on first use) once per session, before the first test starts, so a cold
build never counts against a test's timeout. The kube fixtures are the e2e tier's own
(tests/e2e/conftest.py), imported rather than copied; every test here is also marked
e2e, so `-m "not e2e"` never builds an image.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.e2e.conftest import (  # noqa: F401  (fixtures, used by name)
    build_control_plane,
    cluster,
    helm,
    kube_api,
    kubeconfig,
    kubectl,
    mark_tier,
    namespace,
)

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "hack" / "image" / "build.sh"
IMAGE_DIR = Path(__file__).parent
IMAGE_KEY = pytest.StashKey[str]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, IMAGE_DIR, "image", "e2e")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the image (and the control-plane binaries) before any image test runs."""
    items = [item for item in session.items if item.get_closest_marker("image")]
    if not items or session.config.option.collectonly:
        return
    if any("cluster" in getattr(item, "fixturenames", ()) for item in items):
        build_control_plane()
    started = time.monotonic()
    # stderr is inherited: the script says what it installs and builds, and a cold
    # build (tools, base, image) takes minutes.
    result = subprocess.run(
        [str(BUILD)], stdout=subprocess.PIPE, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise pytest.UsageError(f"{BUILD} failed (exit {result.returncode}); its log is above")
    session.config.stash[IMAGE_KEY] = result.stdout.strip().splitlines()[-1]
    print(f"\n[image] built in {time.monotonic() - started:.1f}s", file=sys.stderr)


@pytest.fixture(scope="session")
def image(request: pytest.FixtureRequest) -> str:
    """The reference of the image built for this session (localhost/personio-sync:dev)."""
    return request.config.stash[IMAGE_KEY]
