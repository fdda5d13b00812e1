"""ISO weeks, the unit an issue belongs to ('2026-W48')."""

from __future__ import annotations

import re
from datetime import date, timedelta

from newsletter.core.errors import InvalidInput

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(InvalidInput, ValueError):
    """Not an ISO week. Also a ValueError, as the standard library's date parsers raise,
    for callers that parse weeks alongside dates."""


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> str:
    """Validate and normalise '2026-W48'; raises WeekError with the reason."""
    match = _WEEK.match(text.strip())
    if not match:
        raise WeekError(f"'{text}' is not an ISO week; write it like 2026-W48")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"'{text}': {year} has no week {week}") from None
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[date, date]:
    """Monday and Sunday of the week."""
    week = parse_week(week)
    year, number = int(week[:4]), int(week[6:])
    monday = date.fromisocalendar(year, number, 1)
    return monday, monday + timedelta(days=6)
