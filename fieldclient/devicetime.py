"""The device's calendar: every date and time the app shows or counts by.

China Standard Time (UTC+8, no daylight saving time) by default, whatever zone the
tablet's system is set to: grid work is counted in local days and months (a visit
at 23:30 on 31 December belongs to that year), and the worker, the centre and the
quota rules must agree on which day that is.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta, timezone, tzinfo

log = logging.getLogger("gridfield")

DEFAULT_ZONE = "Asia/Shanghai"
CST = timezone(timedelta(hours=8), "CST")  # the same offset without a zone database


@functools.lru_cache(maxsize=4)
def device_zone(name: str = DEFAULT_ZONE) -> tzinfo:
    """The calendar's zone; the fixed UTC+8 when the system has no zone database
    (Windows without the tzdata package): China has no daylight saving time."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, or no zoneinfo data at all
        log.warning("time zone %s not found; using UTC+8", name)
        return CST


def local(ts: float) -> datetime:
    """Unix time as an aware date-time on the device's calendar."""
    return datetime.fromtimestamp(ts, device_zone())


def minute_text(ts: float) -> str:
    """"2026-11-21 23:05" on the device's calendar."""
    return local(ts).strftime("%Y-%m-%d %H:%M")


def day_text(ts: float) -> str:
    """"2026-11-21" on the device's calendar."""
    return local(ts).strftime("%Y-%m-%d")
