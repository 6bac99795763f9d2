"""Japanese business calendar and the clock the demo company lives on.

Instants are int64 microseconds of *local* wall-clock time since 1970-01-01
(no zone); they become UTC only when a table is built. Working in local time
keeps "9:00 on a business day" a plain arithmetic fact.

Business time is a second clock that only runs from ``open_hour`` to
``close_hour`` on business days. Lags such as "first response within 24
business hours" are drawn on that clock and mapped back to wall-clock time,
so a call never lands on a Sunday or at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays
import numpy as np
import numpy.typing as npt

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR

I64 = npt.NDArray[np.int64]


def _is_year_end_closure(days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.bool_]:
    """Dec 29 to Jan 3: most Japanese companies close (年末年始休暇)."""
    months = days.astype("datetime64[M]")
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    month = months.astype(np.int64) % 12 + 1
    closed: npt.NDArray[np.bool_] = ((month == 12) & (day_of_month >= 29)) | (
        (month == 1) & (day_of_month <= 3)
    )
    return closed


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Days from ``first_day`` to ``last_day`` with Japanese business days marked."""

    first_day: date
    days: npt.NDArray[np.datetime64]  # datetime64[D], one per calendar day
    is_business: npt.NDArray[np.bool_]
    is_holiday: npt.NDArray[np.bool_]  # national holiday (祝日) or year-end closure
    open_hour: int
    close_hour: int
    business_before: I64  # business microseconds before each day; len(days) + 1

    @classmethod
    def build(
        cls, first_day: date, last_day: date, open_hour: int = 9, close_hour: int = 18
    ) -> BusinessCalendar:
        """A calendar covering ``first_day`` to ``last_day`` inclusive."""
        days = np.arange(
            np.datetime64(first_day, "D"), np.datetime64(last_day + timedelta(days=1), "D")
        )
        jp = holidays.country_holidays("JP", years=range(first_day.year, last_day.year + 1))
        holiday_days = np.array(sorted(jp.keys()), dtype="datetime64[D]")
        is_holiday = np.isin(days, holiday_days) | _is_year_end_closure(days)
        # 1970-01-01 was a Thursday: weekday 0 = Monday.
        weekday = (days.astype(np.int64) + 3) % 7
        is_business = (weekday < 5) & ~is_holiday
        day_us = (close_hour - open_hour) * US_PER_HOUR
        before = np.zeros(len(days) + 1, dtype=np.int64)
        np.cumsum(is_business.astype(np.int64) * day_us, out=before[1:])
        return cls(first_day, days, is_business, is_holiday, open_hour, close_hour, before)

    @property
    def origin_day(self) -> int:
        """Days since 1970-01-01 of ``first_day``."""
        return int(self.days[0].astype(np.int64))

    @property
    def weekday(self) -> npt.NDArray[np.int64]:
        """0 = Monday … 6 = Sunday, per calendar day."""
        return (self.days.astype(np.int64) + 3) % 7

    def day_index(self, local_us: I64) -> I64:
        """Index into ``days`` of each instant, clipped to the calendar."""
        idx = local_us // US_PER_DAY - self.origin_day
        return np.clip(idx, 0, len(self.days) - 1)

    def day_start_us(self, day_idx: npt.NDArray[np.integer]) -> I64:
        """Local midnight of each day index."""
        return (day_idx.astype(np.int64) + self.origin_day) * US_PER_DAY

    def to_business(self, local_us: I64) -> I64:
        """Business microseconds elapsed since ``first_day`` at each instant."""
        idx = self.day_index(local_us)
        of_day = local_us - self.day_start_us(idx) - self.open_hour * US_PER_HOUR
        span = (self.close_hour - self.open_hour) * US_PER_HOUR
        within = np.clip(of_day, 0, span) * self.is_business[idx]
        elapsed: I64 = self.business_before[idx] + within
        return elapsed

    def from_business(self, business_us: I64) -> I64:
        """The wall-clock instant at which the business clock shows ``business_us``.

        A value that falls exactly on a closing time maps to the next opening,
        so results always lie inside business hours.
        """
        idx = np.searchsorted(self.business_before, business_us, side="right") - 1
        idx = np.clip(idx, 0, len(self.days) - 1)
        within = business_us - self.business_before[idx]
        return self.day_start_us(idx) + self.open_hour * US_PER_HOUR + within

    def add_business_hours(self, local_us: I64, hours: npt.NDArray[np.float64]) -> I64:
        """``local_us`` moved forward by ``hours`` of business time."""
        lag = np.rint(hours * US_PER_HOUR).astype(np.int64)
        return self.from_business(self.to_business(local_us) + lag)

    def snap_to_business(self, local_us: I64) -> I64:
        """Instants outside business hours moved to the next opening."""
        return self.from_business(self.to_business(local_us))

    def next_business_index(self, day_idx: npt.NDArray[np.integer]) -> I64:
        """Index of the first business day on or after each day index."""
        business = np.flatnonzero(self.is_business)
        return business[np.searchsorted(business, day_idx)].astype(np.int64)

    def next_business_day(self, day: date) -> int:
        """Index of the first business day on or after ``day``."""
        start = (day - self.first_day).days
        return start + int(np.argmax(self.is_business[start:]))


def local_us(day: date) -> int:
    """Local midnight of ``day`` as microseconds since 1970-01-01."""
    return (day - date(1970, 1, 1)).days * US_PER_DAY
