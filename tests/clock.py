"""Moments for tests, in the site's time zone (Asia/Shanghai). Tests whose meaning depends on
"now" freeze the clock at FROZEN_NOW (the `frozen_clock` fixture) instead of reading the
calendar."""

from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FROZEN_NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
# Before any moment a test records: prices from here are in force for every test.
LONG_AGO = datetime(2020, 1, 1, tzinfo=SHANGHAI)


def local(year, month, day, hour=12, minute=0) -> datetime:
    """An aware moment in Asia/Shanghai, the site's time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)
