"""Counting semantics on a hand-made company whose every number is worked out
by hand in the comments (Asia/Tokyo, fiscal year from April).

Reps: r1 is in team A (inside sales) until 2026-05-14 and in team B from
2026-05-15; r2 is in team B. Leads L1..L4, deals D1..D4 and activities A1..A3
are described where they are built.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project
from kpitree.compute.measure import measure
from kpitree.compute.metrics import catalogue
from kpitree.compute.periods import parse_period
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse
from kpitree.engines import Engine, open_engine
from kpitree.errors import UserError

UTC = dt.UTC


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _table(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(name)
    full = [{c: row.get(c) for c in schema.names} for row in rows]
    return pa.Table.from_pylist(full, schema=schema)


TABLES: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "name": "佐藤"}, {"rep_id": "r2", "name": "鈴木"}],
    "rep_assignments": [
        {"rep_id": "r1", "valid_from": d("2026-01-01"), "valid_to": d("2026-05-14"),
         "department": "inside_sales", "team": "A"},
        {"rep_id": "r1", "valid_from": d("2026-05-15"), "department": "inside_sales", "team": "B"},
        {"rep_id": "r2", "valid_from": d("2026-01-01"), "department": "inside_sales", "team": "B"},
    ],
    "leads": [
        # 2026-03-31T15:30Z is 2026-04-01 00:30 in Tokyo: an April lead.
        {"lead_id": "L1", "created_at": ts("2026-03-31T15:30"), "owner_id": "r1", "channel": "web"},
        {"lead_id": "L2", "created_at": ts("2026-04-05T02:00"), "owner_id": "r1",
         "channel": "イベント"},
        {"lead_id": "L3", "created_at": ts("2026-04-20T02:00"), "owner_id": "r2", "channel": "web"},
        {"lead_id": "L4", "created_at": ts("2026-05-01T02:00")},
    ],
    "lead_stage_history": [
        # L1 becomes an MQL on 04-02, falls back and re-enters on 05-03: one MQL, in April.
        {"lead_id": "L1", "stage": "mql", "entered_at": ts("2026-04-02T01:00")},
        {"lead_id": "L1", "stage": "mql", "entered_at": ts("2026-05-03T01:00")},
        {"lead_id": "L1", "stage": "sql", "entered_at": ts("2026-04-10T01:00")},
        {"lead_id": "L1", "stage": "won", "entered_at": ts("2026-06-01T01:00")},
        {"lead_id": "L2", "stage": "mql", "entered_at": ts("2026-05-20T01:00")},
        {"lead_id": "L3", "stage": "mql", "entered_at": ts("2026-04-21T04:00")},
        # 102 days after its MQL: outside a 60-day window.
        {"lead_id": "L3", "stage": "sql", "entered_at": ts("2026-08-01T01:00")},
    ],
    "deals": [
        {"deal_id": "D1", "lead_id": "L1", "owner_id": "r1", "created_at": ts("2026-04-15T03:00"),
         "status": "won", "close_date": d("2026-06-01"), "amount": 1_000_000.0},
        {"deal_id": "D2", "owner_id": "r2", "created_at": ts("2026-04-20T03:00"),
         "status": "lost", "close_date": d("2026-05-10"), "amount": 500_000.0},
        # Open, with an expected close date that has slipped into the past.
        {"deal_id": "D3", "owner_id": "r2", "created_at": ts("2026-05-01T03:00"),
         "status": "open", "close_date": d("2026-04-30"), "amount": 2_000_000.0},
        {"deal_id": "D4", "owner_id": "r1", "created_at": ts("2026-05-02T00:00"),
         "status": "won", "close_date": d("2026-05-31"), "amount": 3_000_000.0},
    ],
    "activities": [
        {"activity_id": "A1", "type": "call", "occurred_at": ts("2026-04-02T03:00"),
         "owner_id": "r1", "lead_id": "L1", "outcome": "connected"},
        {"activity_id": "A2", "type": "call", "occurred_at": ts("2026-04-21T10:00"),
         "owner_id": "r2", "lead_id": "L3", "outcome": "no_answer"},
        # Before L3's MQL: not a response to it.
        {"activity_id": "A3", "type": "email", "occurred_at": ts("2026-04-20T00:00"),
         "owner_id": "r2", "lead_id": "L3"},
    ],
}  # fmt: skip

DEFINITION = """\
kpitree: 1
name: Semantics
fiscal_year: 2026
nodes:
  revenue:
    kind: kgi
    unit: currency
    formula: won_deals * avg_deal_size
    metric: revenue
    target: 12000000
  won_deals: {unit: count, formula: opportunities * win_rate, metric: won_deals}
  opportunities: {unit: count, metric: opportunities}
  win_rate: {unit: ratio, assume: 0.5}
  avg_deal_size: {unit: currency, assume: 2000000, metric: avg_deal_size}
  leads: {unit: count, metric: leads, target: {monthly: 4}}
metrics:
  median_cycle:
    type: duration
    entity: deals
    from: created_at
    to: won
    stat: median
    place_by: to
  mql_to_sql_period:
    type: conversion
    entity: leads
    from: mql
    to: sql
    mode: period
data:
  warehouse: warehouse.duckdb
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("semantics")
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    Warehouse(folder / "warehouse.duckdb").bulk_load(
        {name: _table(name, rows) for name, rows in TABLES.items()}, label="hand-made"
    )
    return Project.load(folder)


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def engine(project: Project, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The same numbers on the embedded DuckDB and on a real PostgreSQL server."""
    if request.param == "duckdb":
        with project.engine() as eng:
            yield eng
        return
    from kpitree.engines import copy_warehouse

    url = request.getfixturevalue("postgres_url")
    copy_warehouse(project.warehouse_target, url)
    with open_engine(url, timezone=project.tree.timezone) as eng:
        yield eng


MONTHS = [parse_period(m) for m in ("2026-03", "2026-04", "2026-05", "2026-06", "2026-08")]


def values(
    project: Project, engine: Engine, metric: str, level: tuple[str, ...] = ()
) -> dict[Any, float]:
    import pandas as pd

    frames = measure(engine, project.catalogue, [metric], MONTHS, [level])
    frame = frames[level]
    out = {}
    for _, row in frame.iterrows():
        dims = (None if pd.isna(row[f"dim__{x}"]) else row[f"dim__{x}"] for x in level)
        key = (MONTHS[int(row["period"])].key, *dims)
        value = float(row[metric])
        if not math.isnan(value):
            out[key if level else key[0]] = value
    return out


def test_local_day_places_a_utc_evening_in_the_next_month(project: Project, engine: Engine) -> None:
    got = values(project, engine, "leads")
    assert got == {"2026-03": 0, "2026-04": 3, "2026-05": 1, "2026-06": 0, "2026-08": 0}


def test_a_stage_counts_once_at_its_first_entry(project: Project, engine: Engine) -> None:
    assert values(project, engine, "mqls") == {
        "2026-03": 0, "2026-04": 2, "2026-05": 1, "2026-06": 0, "2026-08": 0,
    }  # fmt: skip


def test_team_is_the_assignment_valid_on_the_day_of_the_fact(
    project: Project, engine: Engine
) -> None:
    got = values(project, engine, "mqls", ("team",))
    # L1 (r1, April: team A), L3 (r2: team B); L2 (r1 on 05-20: team B).
    assert {k: v for k, v in got.items() if v} == {
        ("2026-04", "A"): 1,
        ("2026-04", "B"): 1,
        ("2026-05", "B"): 1,
    }
    # D4 closes on 05-31 after r1 moved: a team B win.
    won = values(project, engine, "won_deals", ("team",))
    assert {k: v for k, v in won.items() if v} == {("2026-05", "B"): 1, ("2026-06", "B"): 1}


def test_facts_without_owner_are_their_own_segment(project: Project, engine: Engine) -> None:
    got = values(project, engine, "leads", ("team",))
    assert got[("2026-05", None)] == 1
    company = values(project, engine, "leads")
    for month in ("2026-04", "2026-05"):
        assert sum(v for k, v in got.items() if k[0] == month) == company[month]


def test_cohort_conversion_within_window(project: Project, engine: Engine) -> None:
    got = values(project, engine, "mql_to_sql_rate")
    # April cohort {L1, L3}: L1 converts in 8 days, L3 after 102 (window 60) -> 1/2.
    assert got["2026-04"] == 0.5
    # May cohort {L2}: no SQL -> 0/1. (L1's second MQL entry is not a new entrant.)
    assert got["2026-05"] == 0.0
    assert "2026-06" not in got  # no entrants: undefined, not zero


def test_period_conversion_mixes_cohorts(project: Project, engine: Engine) -> None:
    got = values(project, engine, "mql_to_sql_period")
    assert got["2026-04"] == 0.5  # SQL events in April (L1) / MQL events in April (2)
    assert "2026-08" not in got  # L3's SQL in August over no MQL: undefined


def test_win_rate_and_money(project: Project, engine: Engine) -> None:
    assert values(project, engine, "win_rate") == {"2026-05": 0.5, "2026-06": 1.0}
    assert values(project, engine, "revenue")["2026-05"] == 3_000_000
    assert values(project, engine, "avg_deal_size") == {"2026-05": 3e6, "2026-06": 1e6}


def test_open_pipeline_is_a_snapshot_at_period_end(project: Project, engine: Engine) -> None:
    got = values(project, engine, "pipeline_amount")
    # End of April: D1 (won in June) and D2 (lost in May) were open.
    assert got["2026-04"] == 1_500_000
    # End of May: D1 and D3 (open, its past expected close date does not close it).
    assert got["2026-05"] == 3_000_000
    assert got["2026-03"] == 0


def test_durations(project: Project, engine: Engine) -> None:
    # D4: created 05-02 (Tokyo), won 05-31 -> 29 days; D1: 04-15 -> 06-01 -> 47 days.
    assert values(project, engine, "sales_cycle_days") == {"2026-05": 29.0, "2026-06": 47.0}
    assert values(project, engine, "median_cycle") == {"2026-05": 29.0, "2026-06": 47.0}
    # First activity at or after the MQL: L1 2 h, L3 6 h (the earlier e-mail does not count).
    assert values(project, engine, "response_time_hours") == {"2026-04": 4.0}


def test_activity_filters_share_one_scan(project: Project, engine: Engine) -> None:
    assert values(project, engine, "calls")["2026-04"] == 2
    assert values(project, engine, "connects")["2026-04"] == 1
    assert values(project, engine, "connect_rate")["2026-04"] == 0.5
    assert values(project, engine, "emails")["2026-04"] == 1


def test_status_of_a_finished_month(project: Project, engine: Engine) -> None:
    result = project.status("2026-05", as_of=d("2026-06-30"), engine=engine)
    revenue = result.row("revenue")
    assert revenue.actual == 3_000_000
    assert revenue.source == "measured"
    assert revenue.target == pytest.approx(1_000_000)  # 12M a year, even allocation
    assert revenue.achievement == pytest.approx(3.0)
    assert revenue.status == "on_track"
    assert revenue.reconciliation == pytest.approx(0.0)  # 1 won x 3M average
    # win_rate has no metric: implied by won deals = opportunities x win rate.
    win_rate = result.row("win_rate")
    assert (win_rate.actual, win_rate.source) == (0.5, "implied")  # 1 won / 2 created
    assert result.row("won_deals").previous == 0  # April


def test_pace_and_forecast_within_a_month(project: Project, engine: Engine) -> None:
    # April 2026 has 21 business days, 11 of them by the 15th; two leads so far.
    leads = project.status("2026-04", as_of=d("2026-04-15"), engine=engine).row("leads")
    assert leads.actual == 2
    assert leads.expected == pytest.approx(4 * 11 / 21)
    assert leads.forecast == pytest.approx(2 * 21 / 11)
    assert leads.pace == pytest.approx(2 / (4 * 11 / 21))
    assert leads.status == "at_risk"  # 95% of pace: between 0.9 and 1.0


def test_open_cohorts_are_flagged(project: Project, engine: Engine) -> None:
    """A node measured by a cohort conversion is incomplete while the window of
    its last cohort is open (April cohort + 60 days runs to 06-29)."""
    import dataclasses

    from kpitree.compute.status import compute_status
    from kpitree.compute.targets import Targets

    tree = project.tree
    leads = dataclasses.replace(tree.nodes["leads"], metric="mql_to_sql_rate", target=None)
    patched = dataclasses.replace(tree, nodes={**tree.nodes, "leads": leads})
    flags = {}
    for as_of in (d("2026-05-31"), d("2026-06-30")):
        result = compute_status(
            patched,
            catalogue(patched),
            engine,
            Targets(patched, lambda fy: None),
            [parse_period("2026-04")],
            as_of=as_of,
            with_explanations=False,
        )
        flags[as_of.isoformat()] = result.row("leads").incomplete
    assert flags == {"2026-05-31": True, "2026-06-30": False}


def test_unknown_dimension_is_a_clear_error(project: Project) -> None:
    with pytest.raises(UserError) as err:
        project.status("2026-04", by="teem", as_of=d("2026-04-30"))
    assert err.value.diagnostics[0].code == "KT530"
    assert "team" in err.value.diagnostics[0].message("en")


def test_target_file_overrides_the_plan(project: Project, tmp_path: Path) -> None:
    import dataclasses

    from kpitree.compute.targets import read_target_file

    file = tmp_path / "targets.csv"
    file.write_text("node,period,target,team\nleads,2026-04,10,\nleads,2026-04,7,A\n", "utf-8")
    found = read_target_file(file, project.tree, ["team"])
    assert found[("leads", "2026-04", ())] == 10
    assert found[("leads", "2026-04", (("team", "A"),))] == 7
    bad = tmp_path / "bad.csv"
    bad.write_text("node,period,target\nleeds,2026-04,10\n", "utf-8")
    with pytest.raises(UserError) as err:
        read_target_file(bad, project.tree, ["team"])
    diag = err.value.diagnostics[0]
    assert (diag.code, diag.span.line if diag.span else None) == ("KT542", 2)
    assert "leads" in diag.message("en")
    del dataclasses


def test_metric_definitions_are_checked_with_locations(tmp_path: Path) -> None:
    (tmp_path / "kpitree.yaml").write_text(
        DEFINITION.replace("data:\n  warehouse: warehouse.duckdb\n", "")
        + """\
  typo_column:
    type: sum
    entity: deals
    measure: amout
  typo_stage:
    type: count
    entity: leads
    time: mqll
  bad_ratio:
    type: ratio
    numerator: leads
    denominator: leeds
""",
        encoding="utf-8",
    )
    result = Project.check(tmp_path)
    found = {(x.code, x.message("en")) for x in result.errors}
    codes = sorted(code for code, _ in found)
    assert codes == ["KT522", "KT524", "KT525"]
    messages = " | ".join(m for _, m in found)
    assert "amount" in messages and "leads" in messages
    lines = sorted(x.span.line for x in result.errors if x.span)
    assert len(lines) == 3 and all(line > 20 for line in lines)


def test_status_without_comparisons(project: Project, engine: Engine) -> None:
    result = project.status("2026-05", as_of=d("2026-06-30"), engine=engine, compare=False)
    won = result.row("won_deals")
    assert (won.actual, won.previous, won.last_year) == (1, None, None)
