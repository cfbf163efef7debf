"""Personio changes one resource heard of between full syncs (issue 9).

The webhook receiver and the quick poller produce these; the resource's worker
coalesces them and syncs only what they name (a targeted sync), or falls back to one
full sync when `full` is set (a storm, or an event it cannot narrow down).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Changes:
    detected_at: datetime  # the event's occurred_at, or the poll's detection time (UTC)
    source: str  # "webhook" or "poll"
    period_ids: frozenset[str] = frozenset()
    person_ids: frozenset[str] = frozenset()
    full: bool = False
