"""Fake Personio v2 (see personio_sync.fakes for the public names)."""

from personio_sync.fakes.personio.app import FakePersonio
from personio_sync.fakes.personio.state import PersonioState

__all__ = ["FakePersonio", "PersonioState"]
