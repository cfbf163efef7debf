"""Fake awork API v1 (see personio_sync_testing.fakes for the public names)."""

from personio_sync_testing.fakes.awork.app import FakeAwork
from personio_sync_testing.fakes.awork.state import AworkState

__all__ = ["AworkState", "FakeAwork"]
