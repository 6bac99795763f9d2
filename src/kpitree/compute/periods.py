"""Periods: the time model of the KPI engine.

A :class:`Period` is a closed date range of one grain (day, week, month, fiscal
quarter, fiscal half or fiscal year). Quarters, halves and years are *fiscal*:
they are counted from ``fiscal_year_start`` and named by the fiscal year, which
is named after the calendar year it starts in (April start: FY2026 runs from
2026-04-01 to 2027-03-31 and FY2026-Q3 is October to December 2026).

Weeks are ISO weeks (Monday to Sunday, keyed by ISO week-year) and do not nest
in months, quarters or years: splitting a month into weeks gives every week
that overlaps it, so the first and last week usually reach outside the month.

A period may be truncated "to date" (:meth:`Period.to_date`): it keeps its
grain and key but ends early, e.g. October 2026 up to 2026-10-15.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kpitree.calendar import _holidays, fiscal_year_of
from kpitree.errors import UserError
from kpitree.i18n import Msg, t

__all__ = [
    "GRAINS",
    "Grain",
    "Period",
    "business_days_between",
    "elapsed_share",
    "fiscal_year_period",
    "is_all_time",
    "parse_period",
    "period_of",
    "periods_between",
]

Grain = Literal["day", "week", "month", "quarter", "half", "year", "range"]
# The calendar grains, finest first. A ``range`` (any days from one to another,
# ``2017-06-01..2018-11-30``) is not one of them: it splits into any of them.
GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter", "half", "year")
RANGE_SEPARATORS = ("..", "〜", "~")

# Length in months of the grains that are made of whole months.
_MONTHS: dict[Grain, int] = {"month": 1, "quarter": 3, "half": 6, "year": 12}
_ONE_DAY = dt.timedelta(days=1)


def _check(grain: str, fiscal_year_start: int) -> None:
    if grain not in GRAINS and grain != "range":
        raise ValueError(f"unknown grain {grain!r}; expected one of {', '.join(GRAINS)}")
    if not 1 <= fiscal_year_start <= 12:
        raise ValueError(f"fiscal_year_start must be a month 1-12, got {fiscal_year_start}")


def _add_months(first: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after the month of ``first``."""
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _year_back(day: dt.date) -> dt.date:
    """The same calendar day a year earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _iso_weeks(year: int) -> int:
    """52 or 53: the number of ISO weeks in ``year`` (28 December is always in the last)."""
    return dt.date(year, 12, 28).isocalendar()[1]


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A closed date range of one grain. Periods sort by start date."""

    start: dt.date
    end: dt.date
    grain: Grain
    fiscal_year_start: int = 4

    def __post_init__(self) -> None:
        _check(self.grain, self.fiscal_year_start)
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def fiscal_year(self) -> int:
        """The fiscal year of the first day."""
        return fiscal_year_of(self.start, self.fiscal_year_start)

    @property
    def _number(self) -> int:
        """1-based number of a quarter or half within its fiscal year."""
        months = (self.start.month - self.fiscal_year_start) % 12
        return months // _MONTHS[self.grain] + 1

    @property
    def key(self) -> str:
        """Canonical text: ``2026-10-05``, ``2026-W41``, ``2026-10``, ``FY2026-Q3``,
        ``FY2026-H1`` or ``FY2026``. A to-date period has the key of the full one."""
        start = self.start
        if self.grain == "range":
            return f"{start.isoformat()}..{self.end.isoformat()}"
        if self.grain == "day":
            return start.isoformat()
        if self.grain == "week":
            year, week, _ = start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        if self.grain == "month":
            return f"{start.year:04d}-{start.month:02d}"
        if self.grain == "year":
            return f"FY{self.fiscal_year:04d}"
        letter = "Q" if self.grain == "quarter" else "H"
        return f"FY{self.fiscal_year:04d}-{letter}{self._number}"

    def label(self, lang: str | None = None) -> str:
        """Human text in ``lang`` (default: the current language)."""
        start = self.start
        key = f"engine.period.{self.grain}"
        if self.grain == "range":
            end = self.end
            return t(
                key,
                lang=lang,
                start=t("engine.period.day", lang=lang, year=start.year, month=start.month,
                        day=start.day),
                end=t("engine.period.day", lang=lang, year=end.year, month=end.month, day=end.day),
            )  # fmt: skip
        if self.grain == "day":
            return t(key, lang=lang, year=start.year, month=start.month, day=start.day)
        if self.grain == "week":
            year, week, _ = start.isocalendar()
            return t(key, lang=lang, year=year, week=week)
        if self.grain == "month":
            name = Msg(f"engine.month.{start.month}")
            return t(key, lang=lang, year=start.year, month_name=name)
        if self.grain == "quarter":
            return t(key, lang=lang, year=self.fiscal_year, quarter=self._number)
        if self.grain == "half":
            half = Msg(f"engine.half.{self._number}")
            return t(key, lang=lang, year=self.fiscal_year, half=half)
        return t(key, lang=lang, year=self.fiscal_year)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def days(self) -> int:
        """Calendar days, both ends included."""
        return (self.end - self.start).days + 1

    def _full(self) -> Period:
        """The whole period (undoes :meth:`to_date`; a range is its own whole)."""
        if self.grain == "range":
            return self
        return period_of(self.start, self.grain, self.fiscal_year_start)

    def next(self) -> Period:
        """The following period of the same grain (always a whole one); after a
        range, the range of as many days that follows it."""
        if self.grain == "range":
            return dataclasses.replace(
                self, start=self.end + _ONE_DAY, end=self.end + dt.timedelta(days=self.days())
            )
        return period_of(self._full().end + _ONE_DAY, self.grain, self.fiscal_year_start)

    def previous(self) -> Period:
        """The preceding period of the same grain; before a range, the range of
        as many days that ends the day before it starts."""
        if self.grain == "range":
            return dataclasses.replace(
                self, start=self.start - dt.timedelta(days=self.days()), end=self.start - _ONE_DAY
            )
        return period_of(self.start - _ONE_DAY, self.grain, self.fiscal_year_start)

    def previous_to_date(self) -> Period:
        """The previous period, cut to as many days as this one has run: a
        to-date period (2026-12-01..07) is compared with the same stretch of the
        one before (2026-11-01..07), never with all of it; a whole period with
        the whole previous one."""
        before = self.previous()
        if self.grain == "range" or self.end >= self._full().end:
            return before
        return before.to_date(before.start + (self.end - self.start)) or before

    def same_period_last_year(self) -> Period:
        """The period a year earlier with the same number: 2026-10 -> 2025-10,
        FY2026-Q3 -> FY2025-Q3, 2026-W53 -> 2025-W52 (clamped to the last week),
        2024-02-29 -> 2023-02-28.

        A to-date period gives a to-date period ending on the matching day
        (the same weekday for weeks), so the two cover comparable stretches.
        """
        fys = self.fiscal_year_start
        if self.grain == "range":
            return dataclasses.replace(self, start=_year_back(self.start), end=_year_back(self.end))
        if self.grain == "week":
            year, week, _ = self.start.isocalendar()
            monday = dt.date.fromisocalendar(year - 1, min(week, _iso_weeks(year - 1)), 1)
            result = period_of(monday, "week", fys)
            end = result.start + (self.end - self.start)
        else:
            result = period_of(_year_back(self.start), self.grain, fys)
            end = _year_back(self.end)
        if self.end < self._full().end:
            return result.to_date(end) or result
        return result

    def split(self, grain: Grain) -> list[Period]:
        """The periods of ``grain`` (finer or equal) that cover this one, in order.

        Weeks do not nest: every ISO week that overlaps the period is returned
        whole, so the first and last may reach outside it. For other grains the
        parts cover each day exactly once; in a to-date period the last part is
        cut at its end.
        """
        _check(grain, self.fiscal_year_start)
        if grain == "range":
            return [self]
        if self.grain != "range" and GRAINS.index(grain) > GRAINS.index(self.grain):
            raise ValueError(f"cannot split a {self.grain} into {grain}s (coarser grain)")
        parts: list[Period] = []
        day = self.start
        while day <= self.end:
            part = period_of(day, grain, self.fiscal_year_start)
            parts.append(part)
            day = part.end + _ONE_DAY
        if grain != "week":
            parts[-1] = parts[-1].to_date(self.end) or parts[-1]
        return parts

    def to_date(self, as_of: dt.date) -> Period | None:
        """The period cut to end at ``as_of`` (inclusive): ``None`` before it starts,
        the period itself once it is over. Grain and key do not change."""
        if as_of < self.start:
            return None
        if as_of >= self.end:
            return self
        return dataclasses.replace(self, end=as_of)

    def is_complete(self, as_of: dt.date) -> bool:
        return as_of >= self.end


def period_of(day: dt.date, grain: Grain, fiscal_year_start: int = 4) -> Period:
    """The period of ``grain`` that contains ``day``."""
    _check(grain, fiscal_year_start)
    if grain == "range":
        raise ValueError("a range is given by its first and last day, not by a day in it")
    if grain == "day":
        return Period(day, day, grain, fiscal_year_start)
    if grain == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return Period(monday, monday + dt.timedelta(days=6), grain, fiscal_year_start)
    size = _MONTHS[grain]
    into_year = (day.month - fiscal_year_start) % 12
    first = _add_months(day.replace(day=1), -(into_year % size))
    return Period(first, _add_months(first, size) - _ONE_DAY, grain, fiscal_year_start)


def fiscal_year_period(fiscal_year: int, fiscal_year_start: int = 4) -> Period:
    """The whole fiscal year ``fiscal_year`` (FY2026 starts in calendar 2026)."""
    _check("year", fiscal_year_start)
    return period_of(dt.date(fiscal_year, fiscal_year_start, 1), "year", fiscal_year_start)


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period from ``first`` to ``last`` (same grain), both included, in order.
    Empty when ``last`` comes before ``first``."""
    if (first.grain, first.fiscal_year_start) != (last.grain, last.fiscal_year_start):
        raise ValueError(f"periods_between needs the same grain: {first.key} vs {last.key}")
    periods: list[Period] = []
    current = first._full()
    while current.start <= last.start:
        periods.append(current)
        current = current.next()
    return periods


# --- parsing -------------------------------------------------------------------------

_RELATIVE: dict[str, tuple[Grain, bool]] = {
    "today": ("day", False),
    "yesterday": ("day", True),
    "this-week": ("week", False),
    "last-week": ("week", True),
    "this-month": ("month", False),
    "last-month": ("month", True),
    "this-quarter": ("quarter", False),
    "last-quarter": ("quarter", True),
    "this-year": ("year", False),
    "last-year": ("year", True),
}

# Matched against the NFKC-folded, lower-cased text. Groups: year, number, day.
_FY = r"(?:fy\s*)?([0-9]{4})(?:年度)?\s*-?\s*"
_PATTERNS: list[tuple[str, Grain]] = [
    (r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})", "day"),
    (r"([0-9]{4})年\s*([0-9]{1,2})月\s*([0-9]{1,2})日", "day"),
    (r"([0-9]{4})[-/]([0-9]{1,2})", "month"),
    (r"([0-9]{4})年\s*([0-9]{1,2})月", "month"),
    (r"([0-9]{4})\s*-?\s*w([0-9]{1,2})", "week"),
    (r"([0-9]{4})年\s*第\s*([0-9]{1,2})\s*週", "week"),
    (_FY + r"q([0-9]{1,2})", "quarter"),
    (r"([0-9]{4})年度\s*第\s*([0-9]{1,2})\s*四半期", "quarter"),
    (_FY + r"h([0-9]{1,2})", "half"),
    (r"([0-9]{4})年度\s*([上下])半?期", "half"),
    (r"fy\s*([0-9]{4})", "year"),
    (r"([0-9]{4})年度", "year"),
]
_FORMS = tuple((re.compile(pattern, re.ASCII), grain) for pattern, grain in _PATTERNS)
_HALF_WORDS = {"上": "1", "下": "2"}


def _from_parts(grain: Grain, year: int, number: int, day: int, fys: int) -> Period:
    """Raises ``ValueError`` for numbers out of range (month 13, quarter 5, ...)."""
    if grain == "day":
        return period_of(dt.date(year, number, day), grain, fys)
    if grain == "month":
        return period_of(dt.date(year, number, 1), grain, fys)
    if grain == "week":
        return period_of(dt.date.fromisocalendar(year, number, 1), grain, fys)
    size = _MONTHS[grain]
    if not 1 <= number <= 12 // size:
        raise ValueError(f"{grain} {number} is out of range")
    return period_of(_add_months(dt.date(year, fys, 1), (number - 1) * size), grain, fys)


def parse_period(text: str, fiscal_year_start: int = 4, *, today: dt.date | None = None) -> Period:
    """Read a period from user text (see docs/engine.md for the accepted forms).

    Case and surrounding spaces do not matter and full-width characters are
    folded (NFKC). Quarters and halves are fiscal and named by the fiscal year:
    ``2026-Q3`` is the third quarter of FY2026. Relative words (``this-month``,
    ``last-quarter``, ``this-year`` (fiscal), ``today`` ...) count from ``today``.
    Raises :class:`~kpitree.errors.UserError` (KT501) for anything else.
    """
    _check("year", fiscal_year_start)
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    for separator in RANGE_SEPARATORS:
        if separator in folded:
            return _range(text, folded.split(separator, 1), fiscal_year_start)
    relative = _RELATIVE.get(re.sub(r"[\s_]+", "-", folded))
    if relative is not None:
        grain, back = relative
        current = period_of(today or dt.date.today(), grain, fiscal_year_start)
        return current.previous() if back else current
    for pattern, grain in _FORMS:
        match = pattern.fullmatch(folded)
        if match is None:
            continue
        numbers = [int(_HALF_WORDS.get(group, group)) for group in match.groups()]
        year, number, day = (*numbers, 1, 1)[:3]
        try:
            return _from_parts(grain, year, number, day, fiscal_year_start)
        except (ValueError, OverflowError):
            break
    raise UserError.of(
        "KT501", "engine.period.invalid", None, text=text, examples=Msg("engine.period.examples")
    )


ALL_TIME = ("all", "全期間")


def is_all_time(text: str) -> bool:
    """``all`` (or ``全期間``): every day with data up to the as-of day. Its
    start depends on the data, so the project resolves it
    (:meth:`kpitree.project.Project.period`)."""
    return unicodedata.normalize("NFKC", text).strip().lower() in ALL_TIME


def _range(text: str, ends: list[str], fys: int) -> Period:
    """``2017-06-01..2018-11-30``: both ends are days (any day form), both
    included; the last may not come before the first (KT580)."""
    days = []
    for end in ends:
        try:
            found = parse_period(end, fys) if end.strip() else None
        except UserError:
            found = None
        if found is None or found.grain != "day":
            raise UserError.of(
                "KT501",
                "engine.period.invalid",
                None,
                text=text,
                examples=Msg("engine.period.examples"),
            )
        days.append(found.start)
    first, last = days
    if last < first:
        raise UserError.of(
            "KT580", "engine.period.backwards", None, text=text, start=first, end=last
        )
    return Period(first, last, "range", fys)


# --- business days -------------------------------------------------------------------


def business_days_between(
    start: dt.date, end: dt.date, *, country: str = "JP", closed_days: Iterable[str] = ()
) -> int:
    """Weekdays from ``start`` to ``end`` (both included) that are neither public
    holidays of ``country`` nor in ``closed_days`` (``YYYY-MM-DD``). 0 if ``end < start``."""
    if end < start:
        return 0
    weeks, rest = divmod((end - start).days + 1, 7)
    weekdays = weeks * 5 + sum((start.weekday() + i) % 7 < 5 for i in range(rest))
    off = {dt.date.fromisoformat(day) for day in closed_days}
    for year in range(start.year, end.year + 1):
        off |= _holidays(country, year)
    return weekdays - sum(start <= day <= end and day.weekday() < 5 for day in off)


def elapsed_share(
    period: Period, as_of: dt.date, *, country: str = "JP", closed_days: Iterable[str] = ()
) -> float:
    """The share of the period's business days that have passed by ``as_of``
    (inclusive): 0.0 before the period, 1.0 on or after its last day. A period
    without business days is measured in calendar days instead."""
    if as_of < period.start:
        return 0.0
    if as_of >= period.end:
        return 1.0
    closed = tuple(closed_days)
    total = business_days_between(period.start, period.end, country=country, closed_days=closed)
    if total == 0:
        return ((as_of - period.start).days + 1) / period.days()
    passed = business_days_between(period.start, as_of, country=country, closed_days=closed)
    return passed / total
