"""Time as certificates count it: whole seconds in UTC, NumericDates, and days in China Standard Time."""

from __future__ import annotations

import datetime as dt

from backend.china_time import CHINA_TIME


def now() -> dt.datetime:
    """Now, in whole seconds (what a NumericDate can say)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def epoch(moment: dt.datetime) -> int:
    """A NumericDate: seconds since the epoch."""
    return int(moment.timestamp())


def day_start(day: dt.date) -> dt.datetime:
    """Midnight China Standard Time at the start of `day`, in UTC."""
    return dt.datetime.combine(day, dt.time(), CHINA_TIME).astimezone(dt.UTC)
