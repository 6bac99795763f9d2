"""Business-hour arithmetic: when a clock of working hours runs out, and how
many working hours lie between two instants.

A :class:`BusinessCalendar` says which hours of each weekday are open
(``09:00-18:00`` by default, Monday to Friday), in one time zone, with the
public holidays of a country (Japan by default, from the ``holidays``
package) and extra closed days (a year-end closure) shut all day.

Every computation is done on UTC instants built from the local opening hours,
so a day with a daylight-saving change counts its real length; Asia/Tokyo has
no such days. Pure and dependency-light: alerts, SLAs and compute use it.

>>> import datetime as dt
>>> cal = BusinessCalendar.default("Asia/Tokyo")
>>> friday = dt.datetime(2026, 9, 18, 17, 30, tzinfo=cal.zone)  # 9/21-23 are holidays
>>> cal.add_hours(friday, 1).isoformat()
'2026-09-24T09:30:00+09:00'
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from zoneinfo import ZoneInfo

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "calendar_hours_between",
    "parse_hours",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UTC = dt.UTC
_RANGE = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-4]):([0-5]\d)\s*$")
# A calendar that is never open would make add_hours loop for ever.
_HORIZON_DAYS = 3 * 366

Interval = tuple[dt.time, dt.time | None]  # None as the end means midnight (24:00)


def parse_hours(text: str) -> tuple[Interval, ...]:
    """``"09:00-12:00, 13:00-18:00"`` as intervals; ``""`` or ``"closed"`` is none.
    Raises ``ValueError`` naming the bad part."""
    text = text.strip()
    if text in ("", "closed"):
        return ()
    out: list[Interval] = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if m is None:
            raise ValueError(part.strip())
        start = dt.time(int(m[1]), int(m[2]))
        end_h, end_m = int(m[3]), int(m[4])
        if end_h == 24 and end_m != 0:
            raise ValueError(part.strip())
        end = None if end_h == 24 else dt.time(end_h, end_m)
        if end is not None and end <= start:
            raise ValueError(part.strip())
        out.append((start, end))
    out.sort(key=lambda iv: iv[0])
    for (_, a_end), (b_start, _) in itertools.pairwise(out):
        if a_end is None or a_end > b_start:
            raise ValueError(text)
    return tuple(out)


@cache
def _public_holidays(country: str, year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=year).keys())


def calendar_hours_between(start: dt.datetime, end: dt.datetime) -> float:
    """Elapsed wall-clock hours (negative when ``end`` is before ``start``)."""
    return (end.astimezone(_UTC) - start.astimezone(_UTC)).total_seconds() / 3600.0


@dataclass(frozen=True)
class BusinessCalendar:
    """Open hours per weekday (0 = Monday) in ``timezone``, minus the public
    holidays of ``country`` (``None``: none) and ``closed_days``."""

    timezone: str = "Asia/Tokyo"
    hours: Mapping[int, tuple[Interval, ...]] = field(default_factory=dict)
    country: str | None = "JP"
    closed_days: frozenset[dt.date] = frozenset()
    # Each day's open stretches, once worked out (an SLA report asks for the same
    # days tens of thousands of times); not part of what the calendar is.
    _days: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def default(
        cls,
        timezone: str = "Asia/Tokyo",
        *,
        country: str | None = "JP",
        closed_days: Iterable[dt.date] = (),
    ) -> BusinessCalendar:
        """Monday to Friday, 09:00-18:00."""
        nine_to_six = ((dt.time(9), dt.time(18)),)
        return cls(timezone, dict.fromkeys(range(5), nine_to_six), country, frozenset(closed_days))

    @classmethod
    def from_text(
        cls,
        timezone: str,
        weekly: Mapping[str, str],
        *,
        country: str | None = "JP",
        closed_days: Iterable[dt.date] = (),
    ) -> BusinessCalendar:
        """From ``{mon: "09:00-18:00", ...}``; weekdays not named are closed."""
        hours = {WEEKDAYS.index(k): parse_hours(v) for k, v in weekly.items()}
        return cls(timezone, hours, country, frozenset(closed_days))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open_day(self, day: dt.date) -> bool:
        """Whether ``day`` has opening hours (not a holiday or closed day)."""
        if not self.hours.get(day.weekday()) or day in self.closed_days:
            return False
        return self.country is None or day not in _public_holidays(self.country, day.year)

    def open_intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The open stretches of ``day`` as UTC instants."""
        return list(self._intervals(day))

    def _intervals(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """:meth:`open_intervals`, worked out once per day."""
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = tuple(self._compute_intervals(day))
        return found

    def _compute_intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if not self.is_open_day(day):
            return []
        zone = self.zone
        out = []
        for start, end in self.hours.get(day.weekday(), ()):
            a = dt.datetime.combine(day, start, tzinfo=zone).astimezone(_UTC)
            if end is None:
                nxt = day + dt.timedelta(days=1)
                b = dt.datetime.combine(nxt, dt.time(0), tzinfo=zone).astimezone(_UTC)
            else:
                b = dt.datetime.combine(day, end, tzinfo=zone).astimezone(_UTC)
            out.append((a, b))
        return out

    def _local_day(self, at: dt.datetime) -> dt.date:
        return _aware(at).astimezone(self.zone).date()

    def add_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The instant when ``hours`` business hours have passed since ``start``
        (in the calendar's time zone). A clock started outside open hours
        starts at the next opening."""
        start = _aware(start).astimezone(_UTC)
        remaining = dt.timedelta(hours=hours)
        day = self._local_day(start)
        for _ in range(_HORIZON_DAYS):
            for a, b in self._intervals(day):
                if b <= start:
                    continue
                begin = max(a, start)
                available = b - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.zone)
                remaining -= available
            day += dt.timedelta(days=1)
        raise ValueError("the business calendar has no open hours")

    def hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Open hours between two instants (0 when ``end`` is not after ``start``)."""
        start = _aware(start).astimezone(_UTC)
        end = _aware(end).astimezone(_UTC)
        if end <= start:
            return 0.0
        total = dt.timedelta()
        day = self._local_day(start)
        last = self._local_day(end)
        while day <= last:
            for a, b in self._intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600.0

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """``at`` when the calendar is open then, else its next opening."""
        return self.add_hours(at, 0.0)


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; give an aware one")
    return at
