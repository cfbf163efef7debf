"""Fixtures the unit tests share: the one way to build a controller Context."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from controller_fakes import make_context as build

from personio_sync.controller.context import Context


@pytest.fixture
def make_context() -> Callable[..., Context]:
    """`make_context(kube, now=..., events=..., sleep=..., leadership=..., **settings)`
    (controller_fakes.make_context, for helpers that build one outside a test)."""
    return build
