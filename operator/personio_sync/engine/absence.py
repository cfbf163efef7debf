"""What one Personio period becomes in awork: dates, half-day flags, text, marker (R9-R11)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from personio_sync.engine.dates import PeriodDays
from personio_sync.engine.model import AbsenceBody

START_OF_DAY = time(0, 0, 0)
MIDDAY = time(12, 0, 0)
END_OF_DAY = time(23, 59, 59)


def utc_at(day: date, at: time) -> datetime:
    """A UTC instant built from the calendar date itself, never a converted local time (R9)."""
    return datetime.combine(day, at, tzinfo=UTC)


def absence_body(days: PeriodDays, *, user_id: str, description: str, marker: str) -> AbsenceBody:
    """Map a period to awork's fields following the R10 table.

    awork's flags mean different things for one day and for several: on a single
    day `isHalfDayOnStart` is the morning off and `isHalfDayOnEnd` the afternoon;
    on a range they mean 'starts at midday' and 'ends at midday'.
    """
    first, last = days.dates.start, days.dates.end
    start_at, end_at = START_OF_DAY, END_OF_DAY
    half_start = half_end = False
    if first == last:
        if days.ends_midday and not days.starts_midday:  # morning only
            end_at, half_start = MIDDAY, True
        elif days.starts_midday and not days.ends_midday:  # afternoon only
            start_at, half_end = MIDDAY, True
    else:
        if days.starts_midday:
            start_at, half_start = MIDDAY, True
        if days.ends_midday:
            end_at, half_end = MIDDAY, True
    return AbsenceBody(
        user_id=user_id,
        start_on=utc_at(first, start_at),
        end_on=utc_at(last, end_at),
        is_half_day_on_start=half_start,
        is_half_day_on_end=half_end,
        description=description,
        external_provider=marker,
    )
