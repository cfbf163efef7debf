"""Where a long run stands, for the CLI's stderr line and the resource's status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Writes done / planned, pace, and which vendor's rate limit sets the pace."""

    done: int
    total: int
    rate_per_second: float
    eta_seconds: float | None
    bottleneck: str | None  # "awork" when its rate limit holds writes back, else None


ProgressCallback = Callable[[Progress], Awaitable[None]]
