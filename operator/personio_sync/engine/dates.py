"""Personio periods → inclusive calendar dates and half-day ends (R3, R10).

Personio v2 sends naive local date-times with an EXCLUSIVE end (a one-day absence
on 2 Apr ends at 3 Apr 00:00). We read the wall-clock date and never go through
UTC, which would shift days east of Greenwich.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from personio_sync.engine.model import AbsencePeriod, DateRange

_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PeriodDays:
    """A period as the calendar sees it: dates plus which ends are half days."""

    dates: DateRange
    starts_midday: bool  # the first day starts at noon (Personio start SECOND_HALF)
    ends_midday: bool  # the last day ends at noon (Personio end FIRST_HALF)


def is_hourly(period: AbsencePeriod) -> bool:
    """An hour-based period carries a real time of day at either end (R4)."""
    ends = [period.starts_from] + ([period.ends_at] if period.ends_at else [])
    return any(moment.time() != time(0, 0) for moment in ends)


def period_days(period: AbsencePeriod, window: DateRange) -> PeriodDays:
    """Inclusive dates of a period; an open end (`ends_at: null`) runs to the window's end."""
    start = period.starts_from.date()
    if period.ends_at is None:
        end = max(start, window.end)
    else:
        end = max(start, _last_instant(period.starts_from, period.ends_at).date())
    return PeriodDays(
        dates=DateRange(start, end),
        starts_midday=period.starts_type == "SECOND_HALF",
        ends_midday=period.ends_type == "FIRST_HALF" and period.ends_at is not None,
    )


def _last_instant(start: datetime, end: datetime) -> datetime:
    """The last moment inside [start, end): midnight ends belong to the previous day."""
    return end - _INSTANT if end > start else start


def as_utc(value: datetime) -> datetime:
    """awork and Kubernetes speak UTC; a value without an offset is UTC already (the
    engine's calendar-day moments, R9), never shifted through a local zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`: Kubernetes status times and awork's API alike."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
