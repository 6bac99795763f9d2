"""What a number rests on, said with it: a period that has not started, deals
won without an amount, durations that come out negative, the converted count
of a conversion. A hand-made company whose numbers are worked out in the
comments (Asia/Tokyo, fiscal year from April)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kpitree import Project
from kpitree.data.warehouse import Warehouse

from .test_semantics import _table, d, ts

TABLES: dict[str, list[dict[str, Any]]] = {
    "reps": [{"rep_id": "r1", "name": "佐藤 花子"}],
    "rep_assignments": [
        {"rep_id": "r1", "valid_from": d("2026-01-01"), "department": "field_sales", "team": "A"},
    ],
    "leads": [
        {"lead_id": "L1", "created_at": ts("2026-04-01T01:00"), "owner_id": "r1"},
        {"lead_id": "L2", "created_at": ts("2026-04-02T01:00"), "owner_id": "r1"},
        {"lead_id": "L3", "created_at": ts("2026-04-03T01:00"), "owner_id": "r1"},
    ],
    "lead_stage_history": [
        # L1 and L2 become MQLs in April; L1 reaches SQL: 1 converted of 2 entrants.
        {"lead_id": "L1", "stage": "mql", "entered_at": ts("2026-04-05T01:00")},
        {"lead_id": "L2", "stage": "mql", "entered_at": ts("2026-04-06T01:00")},
        {"lead_id": "L1", "stage": "sql", "entered_at": ts("2026-04-08T01:00")},
    ],
    "deals": [
        # Three deals won in May: D1 with ¥1,000,000, D2 with ¥3,000,000, D3
        # without an amount (counted as won, not in the average deal size).
        {"deal_id": "D1", "lead_id": "L1", "owner_id": "r1", "created_at": ts("2026-04-10T03:00"),
         "status": "won", "close_date": d("2026-05-10"), "amount": 1_000_000.0},
        {"deal_id": "D2", "lead_id": "L2", "owner_id": "r1", "created_at": ts("2026-04-20T03:00"),
         "status": "won", "close_date": d("2026-05-20"), "amount": 3_000_000.0},
        # Created (imported) after it was won: a cycle of -10 days, left out.
        {"deal_id": "D3", "lead_id": "L3", "owner_id": "r1", "created_at": ts("2026-05-25T03:00"),
         "status": "won", "close_date": d("2026-05-15")},
    ],
}  # fmt: skip

DEFINITION = """\
kpitree: 1
name: Quality
fiscal_year: 2026
nodes:
  revenue:
    kind: kgi
    unit: currency
    formula: won_deals * avg_deal_size
    metric: revenue
    target: 24000000
  won_deals: {unit: count, metric: won_deals, assume: 1}
  avg_deal_size: {unit: currency, assume: 2000000, metric: avg_deal_size}
  cycle: {unit: days, metric: sales_cycle_days, target: 30}
  sql_rate: {unit: ratio, metric: mql_to_sql_rate, target: 0.5}
data:
  warehouse: warehouse.duckdb
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("quality")
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    Warehouse(folder / "warehouse.duckdb").bulk_load(
        {name: _table(name, rows) for name, rows in TABLES.items()}, label="hand-made"
    )
    return Project.load(folder)


def test_a_period_after_the_as_of_day_has_rows_without_actuals(project: Project) -> None:
    # Before the fix: KeyError 'won_deals' from measure (nothing was measured).
    result = project.status("2026-07", as_of=dt.date(2026, 6, 30), compare=False)
    rows = {r.node: r for r in result.rows}
    assert set(rows) == set(project.tree.nodes)
    for r in rows.values():
        assert r.actual is None, r.node
        assert r.status not in ("on_track", "at_risk", "off_track"), r.node
    assert rows["revenue"].target == pytest.approx(2_000_000)
    assert rows["revenue"].expected == 0


def test_won_deals_without_an_amount_are_counted_and_said(project: Project) -> None:
    result = project.status("2026-05", as_of=dt.date(2026, 6, 30), compare=False)
    assert result.row("won_deals").actual == 3
    avg = result.row("avg_deal_size")
    # (1,000,000 + 3,000,000) / 2: D3 has no amount, so it is not in the average.
    assert avg.actual == 2_000_000 and avg.volume == 2
    assert avg.missing_values == 1
    assert result.row("revenue").missing_values == 1
    assert result.row("won_deals").missing_values is None  # a count leaves nothing out
    assert avg.to_json()["missing_values"] == 1


def test_negative_durations_are_left_out_and_counted(project: Project) -> None:
    # The sales cycle is placed by the day a deal is won: D1 and D2 (30 days
    # each) in May, and D3, created 05-25 and won 05-15: -10 days, left out.
    result = project.status(["2026-04", "2026-05"], as_of=dt.date(2026, 6, 30), compare=False)
    april, may = result.row("cycle", "2026-04"), result.row("cycle", "2026-05")
    assert may.actual == 30 and may.volume == 2 and may.negative_durations == 1
    assert april.actual is None and april.negative_durations == 0
    assert may.to_json()["negative_durations"] == 1


def test_a_conversion_row_gives_its_converted_count(project: Project) -> None:
    result = project.status("2026-04", as_of=dt.date(2026, 6, 30), compare=False)
    rate = result.row("sql_rate")
    assert (rate.actual, rate.volume, rate.converted) == (0.5, 2, 1)
    assert rate.to_json()["converted"] == 1
    by_rep = project.status("2026-04", by="rep", as_of=dt.date(2026, 6, 30), compare=False)
    rep = next(r for r in by_rep.rows if r.node == "sql_rate" and r.segment)
    assert rep.converted == 1 and rep.volume == 2


def test_kpitree_status_takes_a_custom_range_and_all_time(project: Project) -> None:
    import json

    from typer.testing import CliRunner

    from kpitree.cli import app

    folder = str(project.path)
    args = ["status", folder, "--as-of", "2026-06-30", "--json"]
    span = json.loads(CliRunner().invoke(app, [*args, "--period", "2026-04-01..2026-05-31"]).output)
    assert span["periods"] == [{"key": "2026-04-01..2026-05-31", "start": "2026-04-01",
                                "end": "2026-05-31"}]  # fmt: skip
    won = next(r for r in span["rows"] if r["node"] == "won_deals")
    assert won["actual"] == 3 and won["missing_values"] is None
    every = json.loads(CliRunner().invoke(app, [*args, "--period", "all"]).output)
    assert every["periods"][0]["start"] == "2026-04-01"  # the first lead
    assert every["periods"][0]["end"] == "2026-06-30"
    python = project.status("2026-04-01..2026-05-31", as_of=dt.date(2026, 6, 30))
    assert python.row("won_deals").actual == 3
