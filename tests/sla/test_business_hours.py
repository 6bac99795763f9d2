"""Business-hour arithmetic across weekends and Japanese holidays, checked by
hand and against a minute-by-minute count."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.business_hours import BusinessCalendar, parse_hours

JST = dt.timezone(dt.timedelta(hours=9))
CAL = BusinessCalendar.default("Asia/Tokyo")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Friday 17:30 before Sports Day (Monday 2026-10-12): 0.5 h Friday, rest Tuesday.
        ("2026-10-09T17:30", 1, "2026-10-13T09:30"),
        # 0.5 h Friday + 9 h Tuesday + 9 h Wednesday + 5.5 h Thursday.
        ("2026-10-09T17:30", 24, "2026-10-15T14:30"),
        # Silver Week: Monday 9-21 to Wednesday 9-23 are holidays.
        ("2026-09-18T17:30", 1, "2026-09-24T09:30"),
        # Saturday: the clock starts Monday 09:00.
        ("2026-10-03T11:00", 8, "2026-10-05T17:00"),
        # Before opening: starts at 09:00; at closing time: next day.
        ("2026-10-05T07:00", 2, "2026-10-05T11:00"),
        ("2026-10-05T18:00", 1, "2026-10-06T10:00"),
        # New Year's Day (Friday 2027-01-01) and the weekend.
        ("2026-12-31T17:00", 2, "2027-01-04T10:00"),
        ("2026-10-05T10:00", 0, "2026-10-05T10:00"),
    ],
)
def test_due_times(start: str, hours: float, due: str) -> None:
    assert CAL.add_hours(at(start), hours) == at(due)


def test_hours_between_spans_weekend_and_holiday() -> None:
    # Fri 17:30 -> Tue 10:00 with Monday a holiday: 0.5 + 1 = 1.5 hours.
    assert CAL.hours_between(at("2026-10-09T17:30"), at("2026-10-13T10:00")) == 1.5
    assert CAL.hours_between(at("2026-10-13T10:00"), at("2026-10-09T17:30")) == 0.0


def test_closed_days_split_hours_and_other_zones() -> None:
    closed = BusinessCalendar.from_text(
        "Asia/Tokyo",
        {"mon": "09:00-12:00,13:00-18:00", "tue": "09:00-12:00,13:00-18:00"},
        closed_days=[dt.date(2026, 10, 6)],
    )
    # Monday 11:00 + 4 h: 1 h before lunch, 3 h after. Tuesday 10-06 is closed;
    # Wednesday to Sunday have no hours and Monday 10-12 is Sports Day: the
    # second hour of a clock started Monday 17:00 is Tuesday 10-13 09:00-10:00.
    assert closed.add_hours(at("2026-10-05T11:00"), 4) == at("2026-10-05T16:00")
    assert closed.add_hours(at("2026-10-05T17:00"), 2) == at("2026-10-13T10:00")
    # A calendar in UTC without holidays: 2026-10-12 is a working day there.
    utc = BusinessCalendar.default("UTC", country=None)
    start = dt.datetime(2026, 10, 9, 17, 30, tzinfo=dt.UTC)
    assert utc.add_hours(start, 1) == dt.datetime(2026, 10, 12, 9, 30, tzinfo=dt.UTC)


def test_parse_hours_rejects_bad_ranges() -> None:
    assert parse_hours("closed") == ()
    assert parse_hours("09:00-24:00")[0][1] is None
    for bad in ("18:00-09:00", "9-18", "09:00-12:00,11:00-13:00", "24:30-25:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)


def _minutes_open(start: dt.datetime, end: dt.datetime) -> int:
    """Independent count: step minute by minute (the reference)."""
    import holidays

    jp = holidays.country_holidays("JP", years=range(2026, 2028))
    count = 0
    t = start
    while t < end:
        local = t.astimezone(JST)
        if local.weekday() < 5 and local.date() not in jp and 9 <= local.hour < 18:
            count += 1
        t += dt.timedelta(minutes=1)
    return count


@settings(max_examples=40, deadline=None)
@given(
    start_minute=st.integers(0, 60 * 24 * 40),
    length=st.integers(0, 60 * 24 * 6),
)
def test_hours_between_matches_a_minute_count(start_minute: int, length: int) -> None:
    base = at("2026-09-15T00:00")
    start = base + dt.timedelta(minutes=start_minute)
    end = start + dt.timedelta(minutes=length)
    expected = _minutes_open(start, end) / 60
    assert CAL.hours_between(start, end) == pytest.approx(expected)
    # And add_hours inverts it: the due time of that many hours is the first
    # open minute's end at which the count is reached.
    if expected > 0:
        due = CAL.add_hours(start, expected)
        assert CAL.hours_between(start, due) == pytest.approx(expected)
        assert due <= end
