"""Fiscal years, months and business days.

A fiscal year is named after the calendar year it starts in, as Japanese
companies do: with an April start, FY2026 (2026年度) runs from 2026-04 to 2027-03.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
from collections.abc import Iterable
from functools import cache

__all__ = [
    "business_days",
    "current_fiscal_year",
    "fiscal_months",
    "fiscal_year_of",
    "month_key",
]


def month_key(year: int, month: int) -> str:
    """``YYYY-MM``."""
    return f"{year:04d}-{month:02d}"


def fiscal_year_of(day: dt.date, start_month: int = 4) -> int:
    """The fiscal year ``day`` belongs to."""
    return day.year if day.month >= start_month else day.year - 1


def current_fiscal_year(start_month: int = 4, today: dt.date | None = None) -> int:
    return fiscal_year_of(today or dt.date.today(), start_month)


def fiscal_months(fiscal_year: int, start_month: int = 4) -> list[str]:
    """The twelve ``YYYY-MM`` keys of a fiscal year, in order."""
    keys = []
    for i in range(12):
        offset = start_month - 1 + i
        keys.append(month_key(fiscal_year + offset // 12, offset % 12 + 1))
    return keys


@cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=year).keys())


def business_days(
    year: int, month: int, country: str = "JP", closed_days: Iterable[str] = ()
) -> int:
    """Weekdays in the month that are neither public holidays of ``country`` nor
    in ``closed_days`` (``YYYY-MM-DD``, e.g. a year-end closure)."""
    closed = {dt.date.fromisoformat(d) for d in closed_days}
    closed |= _holidays(country, year)
    count = 0
    for day in range(1, _cal.monthrange(year, month)[1] + 1):
        date = dt.date(year, month, day)
        if date.weekday() < 5 and date not in closed:
            count += 1
    return count
