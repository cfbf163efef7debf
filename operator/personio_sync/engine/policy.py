"""What one PersonioSync asks of a sync, as plain values.

The resource layer builds it from the spec (`resource/policy.py`), so the rules and the
runner never see the CRD model: a new spec field reaches the engine through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from personio_sync.engine.matching import Override
from personio_sync.engine.source import SourcePolicy


@dataclass(frozen=True)
class SyncPolicy:
    source: SourcePolicy = field(default_factory=SourcePolicy)
    time_zone: str = "Europe/Berlin"
    past_days: int = 14
    future_days: int = 180
    overrides: tuple[Override, ...] = ()  # userMappings (R8)
    max_delete_percent: int = 25  # deletionGuard.maxPercent (D-Guard)
    dry_run: bool = False
