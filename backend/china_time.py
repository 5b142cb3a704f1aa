"""China Standard Time: the zone every calendar date of the service (effective dates, validity days,
"today") is meant in. UTC+8 all year; China keeps no daylight saving time."""

from __future__ import annotations

import datetime as dt

CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "CST")


def today() -> dt.date:
    """Today in China."""
    return dt.datetime.now(CHINA_TIME).date()
