"""The CLI's progress line on stderr: a first sync of a large company takes an hour at
awork's 1,000 requests/min, and a silent hour looks like a hang."""

from __future__ import annotations

import time
from typing import TextIO

from personio_sync.sync.progress import Progress

QUIET_SECONDS = 3.0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def format_progress(progress: Progress) -> str:
    share = 100 * progress.done / progress.total if progress.total else 100.0
    limit = {
        "awork": "awork's rate limit (1,000 requests/min)",
        "personio": "Personio's rate limit",
    }.get(progress.bottleneck or "", "no rate limit (vendor latency)")
    return (
        f"writes {progress.done}/{progress.total} ({share:.0f}%), "
        f"{progress.rate_per_second:.1f}/s, ETA {_duration(progress.eta_seconds)}, "
        f"bottleneck: {limit}"
    )


class ProgressPrinter:
    """Stays silent for short runs; afterwards one line per update."""

    def __init__(self, stream: TextIO, quiet_seconds: float = QUIET_SECONDS) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._quiet = quiet_seconds
        self._printed = False

    async def update(self, progress: Progress) -> None:
        if time.monotonic() - self._started < self._quiet:
            return
        self._printed = True
        print(f"personio-sync: {format_progress(progress)}", file=self._stream, flush=True)

    def finish(self) -> None:
        if self._printed:
            print("personio-sync: done", file=self._stream, flush=True)
