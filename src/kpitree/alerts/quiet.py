"""Quiet hours: when notifications wait. A notification due in quiet hours is
deferred to the end of them, never dropped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = ["QuietHours"]

_UTC = dt.UTC


def _clock(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    """``start``-``end`` every day in ``timezone`` (wrapping midnight when
    start is later than end), plus whole weekends or public holidays."""

    start: dt.time
    end: dt.time
    timezone: str = "Asia/Tokyo"
    weekends: bool = False
    holidays_country: str | None = None  # whole public holidays of this country

    @classmethod
    def of(
        cls,
        start: str,
        end: str,
        timezone: str,
        *,
        weekends: bool = False,
        holidays_country: str | None = None,
    ) -> QuietHours:
        return cls(_clock(start), _clock(end), timezone, weekends, holidays_country)

    def _quiet_day(self, day: dt.date) -> bool:
        if self.weekends and day.weekday() >= 5:
            return True
        if self.holidays_country:
            from kpitree.business_hours import BusinessCalendar

            cal = BusinessCalendar.default(self.timezone, country=self.holidays_country)
            return not cal.is_open_day(day) and day.weekday() < 5
        return False

    def _in_window(self, local: dt.datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def is_quiet(self, at: dt.datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        return self._quiet_day(local.date()) or self._in_window(local)

    def until(self, at: dt.datetime) -> dt.datetime:
        """``at`` when it is not quiet, else the first moment after it that is not."""
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        for _ in range(400):
            if self._quiet_day(local.date()):
                nxt = local.date() + dt.timedelta(days=1)
                local = dt.datetime.combine(nxt, dt.time(0), tzinfo=zone)
                continue
            if self._in_window(local):
                end = dt.datetime.combine(local.date(), self.end, tzinfo=zone)
                if end <= local:
                    end = dt.datetime.combine(
                        local.date() + dt.timedelta(days=1), self.end, tzinfo=zone
                    )
                local = end
                continue
            return local.astimezone(_UTC)
        return local.astimezone(_UTC)  # pragma: no cover - always quiet: send anyway
