"""The sync window (R2): calendar dates around 'today' in the resource's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from personio_sync.engine.model import DateRange


def today_in(time_zone: str, now: datetime) -> date:
    """The calendar date in `time_zone` at the aware instant `now` (the caller reads the clock)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(time_zone)).date()


def sync_window(today: date, past_days: int, future_days: int) -> DateRange:
    """[today - past, today + future], both ends inclusive."""
    return DateRange(today - timedelta(days=past_days), today + timedelta(days=future_days))
