"""Unit-tier set-up: the chart's Go tools are built before the first test that needs them.

promtool builds from the Prometheus Go module in many minutes when the cache is cold;
that must not count against one test's timeout (the e2e tier does the same for the
control plane).
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
