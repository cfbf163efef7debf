"""Fake Personio v2 (see personio_sync_testing.fakes for the public names)."""

from personio_sync_testing.fakes.personio.app import FakePersonio
from personio_sync_testing.fakes.personio.state import PersonioState

__all__ = ["FakePersonio", "PersonioState"]
