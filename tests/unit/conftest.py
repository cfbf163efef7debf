"""Unit-tier set-up: the one way to build a controller Context, and the chart's Go tools
built before the first test that needs them (a cold build must not count against one
test's timeout; the e2e tier does the same for the control plane)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from controller_fakes import make_context as build

from personio_sync.controller.context import Context
from personio_sync_testing.devtools.binaries import (
    CHART_TOOLS,
    BinariesError,
    chart_tool,
    helm_path,
)

FIXTURES = {name: name.replace("-", "_") for name in CHART_TOOLS}


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    used = {name for item in session.items for name, fixture in FIXTURES.items()
            if fixture in getattr(item, "fixturenames", ())}  # fmt: skip
    for name in sorted(used):
        try:
            chart_tool(name)
        except BinariesError as exc:
            raise pytest.UsageError(f"cannot build {name}: {exc}") from None


@pytest.fixture(scope="session")
def promtool() -> Path:
    return chart_tool("promtool")


@pytest.fixture(scope="session")
def helm_docs() -> Path:
    return chart_tool("helm-docs")


@pytest.fixture(scope="module")
def helm() -> Path:
    """The helm the control plane build made (the chart tests render with it)."""
    return helm_path()


@pytest.fixture
def make_context() -> Callable[..., Context]:
    """`make_context(kube, now=..., events=..., sleep=..., leadership=..., **settings)`
    (controller_fakes.make_context, for helpers that build one outside a test)."""
    return build
