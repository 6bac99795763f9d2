"""Periods: grains, fiscal naming, parsing, labels, business days."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitree.calendar import business_days
from kpitree.compute.periods import (
    GRAINS,
    Grain,
    Period,
    business_days_between,
    elapsed_share,
    fiscal_year_period,
    parse_period,
    period_of,
    periods_between,
)
from kpitree.errors import UserError

D = dt.date
OCT5 = D(2026, 10, 5)  # a Monday


def p(text: str, fys: int = 4, today: dt.date = OCT5) -> Period:
    return parse_period(text, fys, today=today)


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "start", "end"),
    [
        ("2026-10", "2026-10", D(2026, 10, 1), D(2026, 10, 31)),
        ("2026/10", "2026-10", D(2026, 10, 1), D(2026, 10, 31)),
        ("2026年10月", "2026-10", D(2026, 10, 1), D(2026, 10, 31)),
        ("2026-1", "2026-01", D(2026, 1, 1), D(2026, 1, 31)),
        ("2026-Q3", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("FY2026-Q3", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("2026Q3", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("2026年度Q3", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("2026年度第3四半期", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("2026-Q4", "FY2026-Q4", D(2027, 1, 1), D(2027, 3, 31)),
        ("2026-H1", "FY2026-H1", D(2026, 4, 1), D(2026, 9, 30)),
        ("FY2026-H1", "FY2026-H1", D(2026, 4, 1), D(2026, 9, 30)),
        ("2026年度上期", "FY2026-H1", D(2026, 4, 1), D(2026, 9, 30)),
        ("2026年度下期", "FY2026-H2", D(2026, 10, 1), D(2027, 3, 31)),
        ("2026年度下半期", "FY2026-H2", D(2026, 10, 1), D(2027, 3, 31)),
        ("FY2026", "FY2026", D(2026, 4, 1), D(2027, 3, 31)),
        ("2026年度", "FY2026", D(2026, 4, 1), D(2027, 3, 31)),
        ("2026-W41", "2026-W41", D(2026, 10, 5), D(2026, 10, 11)),
        ("2026-W01", "2026-W01", D(2025, 12, 29), D(2026, 1, 4)),
        ("2026-W53", "2026-W53", D(2026, 12, 28), D(2027, 1, 3)),
        ("2026-10-05", "2026-10-05", OCT5, OCT5),
        ("2026/10/05", "2026-10-05", OCT5, OCT5),
        ("2026年10月5日", "2026-10-05", OCT5, OCT5),
        # case, spaces, full-width characters
        ("  fy2026-q3 ", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("２０２６年１０月", "2026-10", D(2026, 10, 1), D(2026, 10, 31)),
        ("ＦＹ２０２６－Ｑ３", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("２０２６年度　第３四半期", "FY2026-Q3", D(2026, 10, 1), D(2026, 12, 31)),
        ("2026-w41", "2026-W41", D(2026, 10, 5), D(2026, 10, 11)),
    ],
)
def test_parse_forms(text: str, key: str, start: dt.date, end: dt.date) -> None:
    period = p(text)
    assert (period.key, period.start, period.end) == (key, start, end)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("today", "2026-10-05"),
        ("yesterday", "2026-10-04"),
        ("this-week", "2026-W41"),
        ("last-week", "2026-W40"),
        ("this-month", "2026-10"),
        ("last-month", "2026-09"),
        ("this-quarter", "FY2026-Q3"),
        ("last-quarter", "FY2026-Q2"),
        ("this-year", "FY2026"),
        ("last-year", "FY2025"),
        ("This Month", "2026-10"),
        (" LAST_QUARTER ", "FY2026-Q2"),
    ],
)
def test_relative_words(text: str, key: str) -> None:
    assert p(text).key == key


def test_relative_words_across_boundaries() -> None:
    new_year = D(2026, 1, 1)
    assert p("yesterday", today=new_year).key == "2025-12-31"
    assert p("last-month", today=new_year).key == "2025-12"
    assert p("this-year", today=D(2026, 2, 10)).key == "FY2025"  # fiscal, April start
    assert p("this-year", 1, today=D(2026, 2, 10)).key == "FY2026"
    assert p("last-quarter", today=D(2026, 4, 1)).key == "FY2025-Q4"
    assert p("last-week", today=D(2026, 1, 2)).key == "2025-W52"


def test_relative_words_default_to_today() -> None:
    assert parse_period("today").start == dt.date.today()


def test_quarters_follow_the_fiscal_year_start() -> None:
    assert (p("2026-Q1", 1).start, p("2026-Q1", 1).end) == (D(2026, 1, 1), D(2026, 3, 31))
    assert (p("FY2026", 10).start, p("FY2026", 10).end) == (D(2026, 10, 1), D(2027, 9, 30))
    assert p("2026-H2", 10).start == D(2027, 4, 1)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "2026年13月",
        "2026-Q5",
        "2026-Q0",
        "2026年度第5四半期",
        "2026-H3",
        "2026-W54",
        "2025-W53",  # 2025 has 52 ISO weeks
        "2026-02-30",
        "2026",
        "FY26",
        "Q3",
        "",
        "next-month",
        "2026-10-05-01",
    ],
)
def test_invalid_text(text: str) -> None:
    with pytest.raises(UserError) as info:
        p(text)
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.code, diagnostic.key) == ("KT501", "engine.period.invalid")
    assert "2026-W41" in diagnostic.message("en")
    assert "FY2026-Q3" in diagnostic.message("en")
    assert "2026年度第3四半期" in diagnostic.message("ja")
    assert f"'{text}'" in diagnostic.message("ja")


# --- keys and labels -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("grain", "key", "ja", "en"),
    [
        ("day", "2026-10-05", "2026年10月5日", "2026-10-05"),
        ("week", "2026-W41", "2026年 第41週", "2026 W41"),
        ("month", "2026-10", "2026年10月", "Oct 2026"),
        ("quarter", "FY2026-Q3", "2026年度 第3四半期", "FY2026 Q3"),
        ("half", "FY2026-H2", "2026年度 下期", "FY2026 H2"),
        ("year", "FY2026", "2026年度", "FY2026"),
    ],
)
def test_keys_and_labels(grain: Grain, key: str, ja: str, en: str) -> None:
    period = period_of(OCT5, grain)
    assert (period.key, period.label("ja"), period.label("en")) == (key, ja, en)


def test_more_labels() -> None:
    assert p("2026-H1").label("ja") == "2026年度 上期"
    assert p("2026-H1").label("en") == "FY2026 H1"
    assert p("2026-01-09").label("en") == "2026-01-09"
    assert p("2026-W05").label("en") == "2026 W05"
    assert p("2026-W05").label("ja") == "2026年 第5週"


def test_week_key_uses_the_iso_week_year() -> None:
    assert period_of(D(2027, 1, 1), "week").key == "2026-W53"
    assert period_of(D(2024, 12, 31), "week").key == "2025-W01"


def test_fiscal_year_property() -> None:
    assert p("2027-02").fiscal_year == 2026
    assert p("2027-02", 1).fiscal_year == 2027
    assert p("FY2026-Q4").fiscal_year == 2026


# --- navigation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fys", "previous", "next_"),
    [
        ("2026-01", 4, "2025-12", "2026-02"),
        ("2026-12", 4, "2026-11", "2027-01"),
        ("FY2026-Q1", 4, "FY2025-Q4", "FY2026-Q2"),
        ("FY2026-Q4", 4, "FY2026-Q3", "FY2027-Q1"),
        ("FY2026-Q1", 1, "FY2025-Q4", "FY2026-Q2"),
        ("FY2026-Q4", 10, "FY2026-Q3", "FY2027-Q1"),
        ("FY2026-H1", 10, "FY2025-H2", "FY2026-H2"),
        ("FY2026", 4, "FY2025", "FY2027"),
        ("2026-W01", 4, "2025-W52", "2026-W02"),
        ("2026-W53", 4, "2026-W52", "2027-W01"),
        ("2026-01-01", 4, "2025-12-31", "2026-01-02"),
        ("2024-02-28", 4, "2024-02-27", "2024-02-29"),
    ],
)
def test_previous_and_next(text: str, fys: int, previous: str, next_: str) -> None:
    period = p(text, fys)
    assert (period.previous().key, period.next().key) == (previous, next_)


def test_next_quarter_dates_with_other_fiscal_starts() -> None:
    q4 = p("FY2026-Q4", 1)
    assert (q4.start, q4.end) == (D(2026, 10, 1), D(2026, 12, 31))
    assert (q4.next().start, q4.next().end) == (D(2027, 1, 1), D(2027, 3, 31))
    q1 = p("FY2026-Q1", 10)
    assert (q1.previous().start, q1.previous().end) == (D(2026, 7, 1), D(2026, 9, 30))


@pytest.mark.parametrize(
    ("text", "fys", "last_year"),
    [
        ("2026-10", 4, "2025-10"),
        ("2026-01", 4, "2025-01"),
        ("FY2026-Q3", 4, "FY2025-Q3"),
        ("FY2026-Q4", 4, "FY2025-Q4"),
        ("FY2026-Q4", 1, "FY2025-Q4"),
        ("FY2026-H2", 10, "FY2025-H2"),
        ("FY2026", 4, "FY2025"),
        ("2026-W41", 4, "2025-W41"),
        ("2026-W53", 4, "2025-W52"),  # 2025 has no week 53
        ("2021-W01", 4, "2020-W01"),
        ("2024-02-29", 4, "2023-02-28"),
        ("2026-03-01", 4, "2025-03-01"),
    ],
)
def test_same_period_last_year(text: str, fys: int, last_year: str) -> None:
    assert p(text, fys).same_period_last_year() == p(last_year, fys)


def test_same_period_last_year_of_a_to_date_period() -> None:
    month = p("2026-10").to_date(D(2026, 10, 15))
    assert month is not None
    last = month.same_period_last_year()
    assert (last.key, last.start, last.end) == ("2025-10", D(2025, 10, 1), D(2025, 10, 15))
    week = p("2026-W41").to_date(D(2026, 10, 7))  # Monday..Wednesday
    assert week is not None
    last = week.same_period_last_year()
    assert (last.key, last.start, last.end) == ("2025-W41", D(2025, 10, 6), D(2025, 10, 8))


def test_periods_between() -> None:
    assert [x.key for x in periods_between(p("2026-11"), p("2027-02"))] == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert periods_between(p("2026-Q3"), p("2026-Q3")) == [p("2026-Q3")]
    assert periods_between(p("2027-02"), p("2026-11")) == []
    with pytest.raises(ValueError, match="same grain"):
        periods_between(p("2026-11"), p("2026-Q3"))


def test_fiscal_year_period() -> None:
    assert fiscal_year_period(2026) == Period(D(2026, 4, 1), D(2027, 3, 31), "year", 4)
    assert fiscal_year_period(2026, 1) == Period(D(2026, 1, 1), D(2026, 12, 31), "year", 1)
    assert fiscal_year_period(2026, 10).end == D(2027, 9, 30)


def test_periods_sort_by_start() -> None:
    months = [p("2026-12"), p("2026-02"), p("2026-07")]
    assert [x.key for x in sorted(months)] == ["2026-02", "2026-07", "2026-12"]


def test_bad_periods_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(D(2026, 10, 2), D(2026, 10, 1), "day")
    with pytest.raises(ValueError, match="fiscal_year_start"):
        period_of(OCT5, "month", 13)
    with pytest.raises(ValueError, match="grain"):
        period_of(OCT5, "fortnight")  # type: ignore[arg-type]


# --- split, to-date ------------------------------------------------------------------


def test_split_quarter_into_months() -> None:
    assert [m.key for m in p("FY2026-Q3").split("month")] == ["2026-10", "2026-11", "2026-12"]
    assert [m.key for m in p("FY2026-Q4").split("month")] == ["2027-01", "2027-02", "2027-03"]


def test_split_month_into_days() -> None:
    days = p("2026-10").split("day")
    assert len(days) == 31
    assert (days[0].key, days[-1].key) == ("2026-10-01", "2026-10-31")


def test_split_month_into_weeks_overlaps_the_edges() -> None:
    weeks = p("2026-10").split("week")  # 1 October is a Thursday, 31 October a Saturday
    assert [w.key for w in weeks] == ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
    assert (weeks[0].start, weeks[-1].end) == (D(2026, 9, 28), D(2026, 11, 1))


def test_split_same_grain_and_coarser() -> None:
    assert p("2026-10").split("month") == [p("2026-10")]
    with pytest.raises(ValueError, match="coarser"):
        p("2026-W41").split("month")


def test_split_a_to_date_period_stops_at_its_end() -> None:
    quarter = p("FY2026-Q3").to_date(D(2026, 11, 10))
    assert quarter is not None
    months = quarter.split("month")
    assert [(m.key, m.end) for m in months] == [
        ("2026-10", D(2026, 10, 31)),
        ("2026-11", D(2026, 11, 10)),
    ]
    assert len(quarter.split("day")) == 41


def test_to_date() -> None:
    october = p("2026-10")
    assert october.to_date(D(2026, 9, 30)) is None
    assert october.to_date(D(2026, 10, 31)) is october
    assert october.to_date(D(2027, 1, 1)) is october
    cut = october.to_date(D(2026, 10, 15))
    assert cut is not None
    assert (cut.start, cut.end, cut.grain, cut.key) == (
        D(2026, 10, 1),
        D(2026, 10, 15),
        "month",
        "2026-10",
    )
    assert cut.days() == 15
    assert cut.label("en") == "Oct 2026"
    assert not cut.is_complete(D(2026, 10, 14))
    assert cut.is_complete(D(2026, 10, 15))
    assert (cut.next().key, cut.next().end) == ("2026-11", D(2026, 11, 30))
    assert cut.previous().key == "2026-09"


def test_contains_days_and_complete() -> None:
    october = p("2026-10")
    assert october.contains(D(2026, 10, 1)) and october.contains(D(2026, 10, 31))
    assert not october.contains(D(2026, 11, 1))
    assert october.days() == 31
    assert fiscal_year_period(2027).days() == 366  # includes 2028-02-29
    assert not october.is_complete(D(2026, 10, 30))
    assert october.is_complete(D(2026, 10, 31))


# --- business days -------------------------------------------------------------------


def test_business_days_april_and_golden_week() -> None:
    assert business_days_between(D(2026, 4, 1), D(2026, 4, 30)) == 21  # 29 April is Shōwa Day
    assert business_days_between(D(2026, 5, 1), D(2026, 5, 31)) == 18  # 4-6 May


def test_business_days_across_new_year() -> None:
    start, end = D(2026, 12, 28), D(2027, 1, 8)
    assert business_days_between(start, end) == 9  # 1 January is a holiday
    closure = ["2026-12-29", "2026-12-30", "2026-12-31", "2027-01-02", "2027-01-03"]
    assert business_days_between(start, end, closed_days=closure) == 6


def test_business_days_edge_cases() -> None:
    assert business_days_between(D(2026, 4, 2), D(2026, 4, 1)) == 0
    assert business_days_between(D(2026, 5, 3), D(2026, 5, 3)) == 0  # Sunday
    assert business_days_between(D(2026, 4, 1), D(2026, 4, 1)) == 1
    assert business_days_between(D(2026, 4, 1), D(2026, 4, 30), country="US") == 22


@pytest.mark.parametrize("month", range(1, 13))
def test_business_days_agree_with_the_calendar(month: int) -> None:
    period = period_of(D(2027, month, 1), "month")
    closed = ["2027-12-30", "2027-12-31"]
    expected = business_days(2027, month, closed_days=closed)
    assert business_days_between(period.start, period.end, closed_days=closed) == expected


def test_elapsed_share() -> None:
    april = p("2026-04")
    assert elapsed_share(april, D(2026, 3, 31)) == 0.0
    assert elapsed_share(april, D(2026, 4, 1)) == pytest.approx(1 / 21)
    assert elapsed_share(april, D(2026, 4, 15)) == pytest.approx(11 / 21)
    assert elapsed_share(april, D(2026, 4, 30)) == 1.0
    assert elapsed_share(april, D(2026, 6, 1)) == 1.0
    # Closed days count as not business days.
    closed = [f"2026-04-{d:02d}" for d in (1, 2, 3)]
    assert elapsed_share(april, D(2026, 4, 3), closed_days=iter(closed)) == 0.0


def test_elapsed_share_without_business_days_uses_calendar_days() -> None:
    week = p("2026-W19")  # 4-6 May are holidays
    closed = ["2026-05-07", "2026-05-08"]
    assert elapsed_share(week, D(2026, 5, 6), closed_days=closed) == pytest.approx(3 / 7)


# --- properties ----------------------------------------------------------------------

dates = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))
grains = st.sampled_from(GRAINS)
starts = st.integers(min_value=1, max_value=12)


@given(dates, grains, starts)
def test_period_of_contains_the_day(day: dt.date, grain: Grain, fys: int) -> None:
    period = period_of(day, grain, fys)
    assert period.contains(day)
    assert period.grain == grain
    assert period_of(period.start, grain, fys) == period == period_of(period.end, grain, fys)


@given(dates, grains, starts)
def test_next_and_previous_are_inverse(day: dt.date, grain: Grain, fys: int) -> None:
    period = period_of(day, grain, fys)
    assert period.next().previous() == period
    assert period.previous().next() == period
    assert period.next().start == period.end + dt.timedelta(days=1)


@given(st.integers(min_value=1900, max_value=2200), st.sampled_from(GRAINS), starts)
def test_fiscal_year_splits_cover_every_day_once(year: int, grain: Grain, fys: int) -> None:
    fiscal_year = fiscal_year_period(year, fys)
    parts = fiscal_year.split(grain)
    assert all(part.grain == grain for part in parts)
    if grain == "week":  # weeks do not nest: they cover the year but may stick out
        assert parts[0].start <= fiscal_year.start and parts[-1].end >= fiscal_year.end
        return
    assert parts[0].start == fiscal_year.start and parts[-1].end == fiscal_year.end
    for before, after in itertools.pairwise(parts):
        assert after.start == before.end + dt.timedelta(days=1)
    assert sum(part.days() for part in parts) == fiscal_year.days()


@given(dates, grains, starts)
def test_parse_key_round_trip(day: dt.date, grain: Grain, fys: int) -> None:
    period = period_of(day, grain, fys)
    assert parse_period(period.key, fys) == period


@given(dates, grains, starts)
def test_parse_label_round_trip(day: dt.date, grain: Grain, fys: int) -> None:
    period = period_of(day, grain, fys)
    assert parse_period(period.label("ja"), fys) == period
    if grain != "month":  # "Oct 2026" is display-only
        assert parse_period(period.label("en"), fys) == period


@given(dates, grains, starts)
def test_same_period_last_year_is_a_year_back(day: dt.date, grain: Grain, fys: int) -> None:
    period = period_of(day, grain, fys)
    last = period.same_period_last_year()
    assert last.grain == grain and last.start < period.start
    if grain in ("quarter", "half", "year"):
        assert last.fiscal_year == period.fiscal_year - 1
        assert last.key[6:] == period.key[6:]
    elif grain == "month":
        assert (last.start.year, last.start.month) == (day.year - 1, day.month)


def test_a_custom_range_of_days() -> None:
    p = parse_period("2017-06-01..2018-11-30")
    assert (p.start, p.end, p.grain, p.key) == (
        dt.date(2017, 6, 1),
        dt.date(2018, 11, 30),
        "range",
        "2017-06-01..2018-11-30",
    )
    assert parse_period(p.key) == p
    assert parse_period("２０１７年６月１日〜2018/11/30") == p  # any day form, full-width too
    assert p.label("ja") == "2017年6月1日〜2018年11月30日"
    assert p.label("en") == "2017-06-01 – 2018-11-30"
    assert p.previous() == parse_period("2015-12-01..2017-05-31")  # as many days before
    assert p.previous().days() == p.days() == p.next().days()
    assert p.same_period_last_year() == parse_period("2016-06-01..2017-11-30")
    cut = p.to_date(dt.date(2018, 1, 15))
    assert cut is not None and cut.end == dt.date(2018, 1, 15)
    months = p.split("month")
    assert months[0].key == "2017-06" and months[-1].key == "2018-11" and len(months) == 18


def test_a_range_that_runs_backwards_or_has_no_days_is_an_error() -> None:
    with pytest.raises(UserError) as backwards:
        parse_period("2018-11-30..2017-06-01")
    assert backwards.value.diagnostics[0].code == "KT580"
    assert "2018-11-30" in backwards.value.diagnostics[0].message("en")
    for text in ("2017-06..2018-11", "2017-06-01..", "..2018-11-30", "2017-06-01..soon"):
        with pytest.raises(UserError) as bad:
            parse_period(text)
        assert bad.value.diagnostics[0].code == "KT501", text


def test_the_previous_period_is_compared_over_the_same_days() -> None:
    december = period_of(dt.date(2026, 12, 1), "month")
    running = december.to_date(dt.date(2026, 12, 7))
    assert running is not None
    before = running.previous_to_date()
    assert (before.start, before.end) == (dt.date(2026, 11, 1), dt.date(2026, 11, 7))
    # A whole period is compared with the whole one before it.
    assert december.previous_to_date() == december.previous()
    # More days than the previous month has: all of it.
    march = period_of(dt.date(2027, 3, 1), "month").to_date(dt.date(2027, 3, 30))
    assert march is not None
    feb = march.previous_to_date()
    assert (feb.start, feb.end) == (dt.date(2027, 2, 1), dt.date(2027, 2, 28))
    # Weeks: the same weekdays of the week before.
    week = period_of(dt.date(2026, 12, 7), "week").to_date(dt.date(2026, 12, 9))
    assert week is not None
    last = week.previous_to_date()
    assert (last.start, last.end) == (dt.date(2026, 11, 30), dt.date(2026, 12, 2))
