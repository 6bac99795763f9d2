"""The local day of an instant: the fast path on DuckDB (epoch plus a fixed UTC
offset) must give the same day as the time-zone conversion for every instant
the window keeps, and must not be taken where the offset changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from kpitree.compute.events import fixed_offset as fixed_offset
from kpitree.compute.events import local_day
from kpitree.compute.events import window_day as window_day
from kpitree.compute.periods import parse_period
from kpitree.engines import Engine, open_engine


@pytest.fixture
def engine_in(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = open_engine("duckdb://", timezone=request.param)
    try:
        yield engine
    finally:
        engine.close()


def instants(first: dt.date, last: dt.date) -> pa.Table:
    """Random instants from a week before ``first`` to a week after ``last``,
    and every quarter hour around each midnight UTC (where local days of
    zones with whole- or half-hour offsets begin)."""
    start = dt.datetime.combine(first - dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
    span = (last - first).days + 15
    rng = np.random.default_rng(5)
    seconds = rng.integers(0, span * 86_400, 20_000).tolist()
    seconds += [
        day * 86_400 + q * 900 + s for day in range(span) for q in range(96) for s in (-1, 0)
    ]
    at = [start + dt.timedelta(seconds=int(s)) for s in seconds]
    return pa.table({"at": pa.array(at, pa.timestamp("us", tz="UTC"))})


def both_days(engine: Engine, periods: list[str]) -> tuple[str, list[tuple[dt.date, dt.date]]]:
    import ibis

    found = [parse_period(p, 4) for p in periods]
    first, last = min(p.start for p in found), max(p.end for p in found)
    t = ibis.memtable(instants(first, last))
    days = t.select(fast=window_day(engine, t.at, found), exact=local_day(t.at))
    kept = days.filter((days.fast >= first) & (days.fast <= last))
    rows = engine.execute(kept).to_pylist()
    return engine.compile(kept), [(r["fast"], r["exact"]) for r in rows]


@pytest.mark.parametrize(
    "engine_in, periods",
    [
        ("Asia/Tokyo", ["2025-12", "2026-01", "FY2025"]),
        ("Asia/Kolkata", ["2026-03"]),  # +05:30
        ("UTC", ["2026-Q1"]),
        ("America/New_York", ["2026-01"]),  # no daylight-saving change around January
    ],
    indirect=["engine_in"],
)
def test_fast_local_day_equals_the_zone_conversion(engine_in: Engine, periods: list[str]) -> None:
    sql, rows = both_days(engine_in, periods)
    assert "EPOCH_US" in sql.upper()
    assert len(rows) > 10_000
    wrong = [(fast, exact) for fast, exact in rows if fast != exact]
    assert wrong == []


@pytest.mark.parametrize("engine_in", ["America/New_York"], indirect=True)
def test_a_window_with_a_daylight_saving_change_converts_each_instant(engine_in: Engine) -> None:
    sql, rows = both_days(engine_in, ["2026-03"])  # clocks move on 2026-03-08
    assert "EPOCH_US" not in sql.upper()
    assert all(fast == exact for fast, exact in rows)


def test_fixed_offset_looks_around_the_window() -> None:
    jan, mar = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    assert fixed_offset("Asia/Tokyo", jan, mar) == 9 * 3600 * 1_000_000
    assert fixed_offset("Asia/Kolkata", jan, mar) == 19_800 * 1_000_000
    assert fixed_offset("America/New_York", jan, dt.date(2026, 1, 31)) == -5 * 3600 * 1_000_000
    assert fixed_offset("America/New_York", jan, mar) is None
    # Clocks move at 2026-03-08 07:00 UTC: within two days after a window
    # ending 03-07, not after one ending 03-05.
    assert fixed_offset("America/New_York", jan, dt.date(2026, 3, 7)) is None
    assert fixed_offset("America/New_York", jan, dt.date(2026, 3, 5)) is not None
    assert fixed_offset("Not/AZone", jan, mar) is None
