"""Fiscal years, months and business days.

A fiscal year is named after the calendar year it starts in, as Japanese
companies do: with an April start, FY2026 (2026年度) runs from 2026-04 to 2027-03.

Public holidays come from the ``holidays`` library. Computing a country's year
costs a command about a third of a second (importing the library, then its
rules), so each year computed is kept in the user's cache folder
(``$XDG_CACHE_HOME/kpitree``, by default ``~/.cache/kpitree``), keyed by the
library's version: a new version computes it again. ``KPITREE_CACHE_DIR``
chooses another folder; a folder that cannot be written only means no cache.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from kpitree.sealed import cache_folder

__all__ = [
    "business_days",
    "cache_folder",
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


def _holidays_file(country: str, year: int) -> Path | None:
    from importlib import metadata

    from kpitree.installed import installed_version

    try:
        version = installed_version("holidays")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", country) or not re.fullmatch(
        r"[A-Za-z0-9.+_-]{1,64}", version
    ):
        return None
    return cache_folder() / f"holidays-{version}" / f"{country}-{year:04d}.json"


@cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    path = _holidays_file(country, year)
    if path is not None:
        try:
            days = json.loads(path.read_text(encoding="utf-8"))
            return frozenset(dt.date.fromisoformat(d) for d in days)
        except (OSError, ValueError, TypeError):
            pass  # not computed yet (or unreadable): compute it
    import holidays

    found = frozenset(holidays.country_holidays(country, years=year).keys())
    if path is not None:
        _keep(path, sorted(d.isoformat() for d in found))
    return found


def _keep(path: Path, days: list[str]) -> None:
    """Write ``days`` to ``path`` atomically; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".holidays-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(days, f)
        Path(tmp).replace(path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


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
