"""When scheduled reports are due: pure date arithmetic, time-zone aware.

A schedule has occurrences (every Monday 08:00, the first business day of
every month 09:00 in the schedule's zone). At a moment ``now`` the report's
*latest occurrence* is the last one at or before ``now``; a run sends it
unless it was sent already, so a run late in the day (or days late) still
sends, and earlier missed occurrences are not sent again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from zoneinfo import ZoneInfo

from kpitree.definition.spec_reports import ReportScheduleSpec

__all__ = ["business_day_of_month", "latest_occurrence"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    if country.lower() == "none":
        return frozenset()
    import holidays

    return frozenset(holidays.country_holidays(country, years=year).keys())


def business_day_of_month(
    year: int, month: int, n: int, country: str = "JP", closed_days: Iterable[str] = ()
) -> dt.date:
    """The ``n``-th business day of a month: weekdays that are not public
    holidays of ``country`` nor ``closed_days`` (``YYYY-MM-DD``). January 2027
    with Japanese holidays: the 1st is New Year's Day, so business day 1 is
    Monday the 4th. A month with fewer business days gives its last one."""
    closed = {dt.date.fromisoformat(d) for d in closed_days} | _holidays(country, year)
    day = dt.date(year, month, 1)
    found: list[dt.date] = []
    while day.month == month:
        if day.weekday() < 5 and day not in closed:
            found.append(day)
            if len(found) == n:
                return day
        day += dt.timedelta(days=1)
    return found[-1] if found else dt.date(year, month, 1)


def _at(day: dt.date, schedule: ReportScheduleSpec, zone: ZoneInfo) -> dt.datetime:
    hour, minute = (int(x) for x in schedule.at.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), zone)


def latest_occurrence(
    schedule: ReportScheduleSpec,
    now: dt.datetime,
    *,
    timezone: str,
    country: str = "JP",
    closed_days: Iterable[str] = (),
) -> dt.datetime:
    """The last scheduled moment at or before ``now`` (an aware datetime), in
    the schedule's zone (``timezone`` when the schedule names none)."""
    zone = ZoneInfo(schedule.timezone or timezone)
    local = now.astimezone(zone)
    closed = tuple(closed_days)
    if schedule.every == "week":
        weekday = _WEEKDAYS.index(schedule.day or "monday")
        day = local.date() - dt.timedelta(days=(local.weekday() - weekday) % 7)
        moment = _at(day, schedule, zone)
        return moment if moment <= local else _at(day - dt.timedelta(days=7), schedule, zone)
    n = schedule.business_day or 1
    year, month = local.year, local.month
    moment = _at(business_day_of_month(year, month, n, country, closed), schedule, zone)
    if moment <= local:
        return moment
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return _at(business_day_of_month(year, month, n, country, closed), schedule, zone)
