"""What the engine tests share: the demo company with extra nodes (medians,
snapshots, cohort conversions, SLA metrics), instants at the edges of Tokyo months
and of the fiscal year, and the whole-status comparison with DuckDB."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import yaml

from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.engines import Engine
from kpitree.project import Project

UTC = dt.UTC
AS_OF = dt.date(2026, 3, 20)
MONTHS = [
    f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(4, 13)] + [(2026, 1), (2026, 2), (2026, 3)]
]

# Instants at the edges of Tokyo months and of the fiscal year: each belongs to
# the Tokyo day in the comment, which is not its UTC day (or only just is).
EDGES = {
    "E1": dt.datetime(2025, 3, 31, 15, 0, tzinfo=UTC),  # 2025-04-01 00:00 JST: FY2025
    "E2": dt.datetime(2025, 6, 30, 15, 30, tzinfo=UTC),  # 2025-07-01 00:30 JST
    "E3": dt.datetime(2025, 12, 31, 15, 0, tzinfo=UTC),  # 2026-01-01 00:00 JST
    "E4": dt.datetime(2026, 3, 31, 14, 59, 59, tzinfo=UTC),  # 2026-03-31 23:59:59 JST
}
EXTRA = """
metrics:
  median_cycle: {type: duration, entity: deals, from: created_at, to: won, stat: median,
                 place_by: to}
  mql_to_sql_days: {type: duration, entity: leads, from: mql, to: sql, duration_unit: days,
                    place_by: to}
  first_touch_compliance: {type: sla_compliance, sla: mql_first_touch}
  first_touch_p50: {type: sla_response_p50, sla: mql_first_touch}
  first_touch_p95: {type: sla_response_p95, sla: mql_first_touch}
  first_touch_breaches: {type: sla_breaches, sla: mql_first_touch}
sla:
  mql_first_touch:
    from: mql
    to: first_activity
    activity_types: [call]
    within_hours: 8
"""
EXTRA_NODES = {
    "cycle_median": {"unit": "days", "owner": "field_sales", "metric": "median_cycle"},
    "cycle_mean": {"unit": "days", "owner": "field_sales", "metric": "sales_cycle_days"},
    "pipeline": {"unit": "currency", "owner": "field_sales", "metric": "pipeline_amount"},
    "mql_to_sql": {"unit": "ratio", "owner": "inside_sales", "metric": "mql_to_sql_rate"},
    "response": {"unit": "hours", "owner": "inside_sales", "metric": "response_time_hours"},
    "first_touch": {"unit": "ratio", "owner": "inside_sales", "metric": "first_touch_compliance",
                    "target": 0.9},
    "first_touch_p50": {"unit": "hours", "owner": "inside_sales", "metric": "first_touch_p50"},
    "first_touch_p95": {"unit": "hours", "owner": "inside_sales", "metric": "first_touch_p95"},
    "breaches": {"unit": "count", "owner": "inside_sales", "metric": "first_touch_breaches"},
    "connect_rate": {"unit": "ratio", "owner": "inside_sales", "metric": "connect_rate"},
    # Placed on another stage than the MQLs: one reading of the stage history for both.
    "sqls": {"unit": "count", "owner": "inside_sales", "metric": "sqls"},
    "sql_to_opp": {"unit": "ratio", "owner": "inside_sales", "metric": "sql_to_opportunity_rate"},
    "mql_to_sql_time": {"unit": "days", "owner": "inside_sales", "metric": "mql_to_sql_days"},
}  # fmt: skip


def _with_edges(tables: dict[str, Any]) -> dict[str, Any]:
    import pyarrow as pa

    leads = tables["leads"]
    rows = [
        dict.fromkeys(leads.column_names)
        | {"lead_id": lead, "created_at": at, "channel": "edge", "attributes": "{}"}
        for lead, at in EDGES.items()
    ]
    extra = pa.Table.from_pylist(rows, schema=leads.schema)
    return {**tables, "leads": pa.concat_tables([leads, extra])}


def make_company(folder: Path) -> tuple[Project, dict[str, Any]]:
    """The tiny demo company in ``folder``, FY2025 planned from FY2024, with extra
    nodes for medians, snapshots, cohort conversions and SLA metrics."""
    tables = _with_edges(generate("tiny", seed=11).tables)
    Warehouse(folder / "warehouse.duckdb").bulk_load(tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    doc["nodes"].update(EXTRA_NODES)
    doc.update(yaml.safe_load(EXTRA))
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    project = Project.load(folder / "project")
    project.plan_from_history("FY2024", fiscal_year=2025)
    return Project.load(folder / "project"), tables


# Averages of fractional hours: the engines add the floating-point durations in
# their own order, so the last bit may differ (documented in docs/engine.md).
LAST_BIT = {"response"}


def _same(a: Any, b: Any, node: str = "") -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        if node in LAST_BIT:
            return math.isclose(a, b, rel_tol=1e-13, abs_tol=0.0)
    return bool(a == b)


def status_differences(project: Project, engine: Engine) -> list[tuple[Any, ...]]:
    """Every value of the whole status (every node, 12 months, company,
    department, team and rep) that differs between DuckDB and ``engine``, with
    no tolerance (flags, statuses and reasons included)."""
    by = ["department", "team", "rep"]
    with project.engine() as duck:
        expected = project.status(MONTHS, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS, by=by, as_of=AS_OF, engine=engine).frame
    assert len(got) == len(expected) > 12 * len(project.tree.nodes)
    assert set(expected["node"]) >= set(EXTRA_NODES)
    measured = expected[expected["source"] == "measured"]
    assert measured["node"].nunique() >= 20 and measured["actual"].notna().sum() > 500
    return [
        (row["node"], row["period"], row["segment"], column, row[column], other[column])
        for (_, row), (_, other) in zip(expected.iterrows(), got.iterrows(), strict=True)
        for column in expected.columns
        if not _same(row[column], other[column], row["node"])
    ]


def edge_months(engine: Engine) -> list[dict[str, Any]]:
    """The local day and month of each edge lead, computed on ``engine``."""
    leads = engine.table("leads")
    edge = leads.filter(leads.channel == "edge")
    expr = edge.select(
        "lead_id", day=edge.created_at.date(), month=edge.created_at.date().truncate("M")
    ).order_by("lead_id")
    return list(engine.execute(expr).to_pylist())


EDGE_MONTHS = [
    {"lead_id": "E1", "day": dt.date(2025, 4, 1), "month": dt.date(2025, 4, 1)},
    {"lead_id": "E2", "day": dt.date(2025, 7, 1), "month": dt.date(2025, 7, 1)},
    {"lead_id": "E3", "day": dt.date(2026, 1, 1), "month": dt.date(2026, 1, 1)},
    {"lead_id": "E4", "day": dt.date(2026, 3, 31), "month": dt.date(2026, 3, 1)},
]
