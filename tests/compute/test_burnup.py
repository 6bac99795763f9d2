"""Burn-up points: cumulative actual and target, and a forecast line that runs
from the last complete month to the year's landing."""

from __future__ import annotations

import datetime as dt

import pytest

from kpitree.compute.landing import burnup_points
from kpitree.compute.periods import fiscal_year_period

YEAR = fiscal_year_period(2026, 4)
MONTHS = YEAR.split("month")


def test_cumulative_actual_target_and_forecast() -> None:
    targets = {m.key: 10.0 for m in MONTHS}
    targets["2027-03"] = 30.0  # a heavy last month takes more of the forecast
    actuals = {m.key: 8.0 for m in MONTHS[:7]}  # April .. October (to the 6th)
    points = burnup_points(MONTHS, actuals, targets, 120.0, dt.date(2026, 10, 6), "ja")
    assert [p.period for p in points] == [m.key for m in MONTHS]
    assert points[5].actual == 48.0 and points[6].actual == 56.0
    assert points[7].actual is None
    assert points[0].target == 10.0 and points[-1].target == 140.0
    assert [p.in_progress for p in points].index(True) == 6
    assert sum(p.in_progress for p in points) == 1
    # The line starts at September's 48 and reaches the landing in March; the
    # month in progress and the later ones share 72 by their targets (10 ... 30).
    assert points[4].forecast is None and points[5].forecast == 48.0
    assert points[6].forecast == pytest.approx(48 + 72 * 10 / 80)
    assert points[-1].forecast == pytest.approx(120.0)
    assert points[0].label == "2026年4月"


def test_the_last_day_of_a_month_closes_it() -> None:
    points = burnup_points(MONTHS, {"2026-04": 5.0}, {}, 60.0, dt.date(2026, 4, 30), "en")
    assert not any(p.in_progress for p in points)
    assert points[0].forecast == 5.0
    # No targets: the rest of the year is spread evenly.
    assert points[1].forecast == pytest.approx(5 + 55 / 11)
    assert points[-1].forecast == pytest.approx(60.0)


def test_no_landing_no_forecast_and_before_the_year_nothing() -> None:
    points = burnup_points(MONTHS, {}, {}, None, dt.date(2026, 5, 3), "en")
    assert all(p.forecast is None for p in points)
    before = burnup_points(MONTHS, {}, {}, 10.0, dt.date(2026, 3, 1), "en")
    assert all(p.actual is None and p.forecast is None for p in before)
