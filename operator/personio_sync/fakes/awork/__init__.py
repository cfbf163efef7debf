"""Fake awork API v1 (see personio_sync.fakes for the public names)."""

from personio_sync.fakes.awork.app import FakeAwork
from personio_sync.fakes.awork.state import AworkState

__all__ = ["AworkState", "FakeAwork"]
