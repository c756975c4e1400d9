"""Months in the organisation's time zone, as UTC bounds for queries.

A review done at 01:30 on 1 November in Riyadh belongs to November even
though it is still 31 October in UTC; every monthly figure uses these bounds.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` -> (year, month); raises ValueError with the expected form."""
    match = _MONTH.match(text.strip())
    if not match:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2026-10), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def month_bounds(year: int, month: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the month in ``tz``, as aware datetimes (compare with UTC columns)."""
    ny, nm = add_months(year, month, 1)
    return datetime(year, month, 1, tzinfo=tz), datetime(ny, nm, 1, tzinfo=tz)


def previous_month(now: datetime, tz: ZoneInfo) -> tuple[int, int]:
    local = now.astimezone(tz)
    return add_months(local.year, local.month, -1)


def month_label(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def last_months(year: int, month: int, n: int) -> list[tuple[int, int]]:
    """The ``n`` months ending with (year, month), oldest first."""
    return [add_months(year, month, -k) for k in range(n - 1, -1, -1)]
