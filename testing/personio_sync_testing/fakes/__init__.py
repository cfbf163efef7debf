"""Fake Personio v2 and fake awork v1: real aiohttp servers on 127.0.0.1, in-memory state.

Tests, the benchmark and `make demo` use them instead of the vendors. Each fake
follows the vendor's documentation (shared/reference/*.md), not our clients,
and has an admin API under /_admin (seed, mutate, knobs, faults, journal).
Usage and the seed format: docs/sandbox.md.
"""

from personio_sync_testing.fakes.awork import AworkState, FakeAwork
from personio_sync_testing.fakes.generate import generate_company
from personio_sync_testing.fakes.knobs import (
    AworkKnobs,
    FaultRule,
    Journal,
    JournalEntry,
    Knobs,
    PersonioKnobs,
)
from personio_sync_testing.fakes.personio import FakePersonio, PersonioState
from personio_sync_testing.fakes.sandbox import Sandbox, serve_sandbox
from personio_sync_testing.fakes.seed import demo_seed_path, load_seed

__all__ = [
    "AworkKnobs",
    "AworkState",
    "FakeAwork",
    "FakePersonio",
    "FaultRule",
    "Journal",
    "JournalEntry",
    "Knobs",
    "PersonioKnobs",
    "PersonioState",
    "Sandbox",
    "demo_seed_path",
    "generate_company",
    "load_seed",
    "serve_sandbox",
]
