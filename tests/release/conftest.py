"""The release tier (`make release-check`, part of `make test`): the release as a user gets it.

Before the first test (so a cold build counts against no test's timeout) a local registry
starts on 127.0.0.1 and hack/release.sh runs against it with a throwaway cosign key pair:
both architectures, the signed index, the SBOM attestations, the signed chart. The tests
then only use what a user has: the registry, the public key, cosign, helm and podman.
The kube fixtures are the e2e tier's (helm install goes to the local API server); every
test here is also marked e2e, so `-m "not e2e"` builds and pushes nothing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
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
from tests.release.published import Release, publish

from personio_sync_testing.devtools.registry import LocalRegistry

RELEASE_DIR = Path(__file__).parent
RELEASE_KEY = pytest.StashKey[Release]()
REGISTRY_KEY = pytest.StashKey[LocalRegistry]()
WORK_KEY = pytest.StashKey[Path]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, RELEASE_DIR, "release", "e2e")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the registry and run the whole release before any release test runs."""
    if session.config.option.collectonly:
        return
    if not any(item.get_closest_marker("release") for item in session.items):
        return
    started = time.monotonic()
    build_control_plane()
    registry = LocalRegistry().__enter__()
    session.config.stash[REGISTRY_KEY] = registry
    work = Path(tempfile.mkdtemp(prefix="personio-sync-release-"))
    session.config.stash[WORK_KEY] = work
    session.config.stash[RELEASE_KEY] = publish(registry.host, work)
    print(f"\n[release] release-check set-up took {time.monotonic() - started:.1f}s "
          "(tools, images, push, signatures, SBOMs, chart)", file=sys.stderr)  # fmt: skip


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the registry and remove the key pair and the release's files."""
    registry = config.stash.get(REGISTRY_KEY, None)
    if registry is not None:
        registry.__exit__()
    work = config.stash.get(WORK_KEY, None)
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def release(request: pytest.FixtureRequest) -> Release:
    return request.config.stash[RELEASE_KEY]
