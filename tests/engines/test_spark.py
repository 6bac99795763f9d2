"""The same tree on Apache Spark (PySpark ``local[2]``) as on the embedded DuckDB.

One Spark session serves the whole module (starting a JVM costs seconds); the
engines attach to it and never stop it. Needs the ``spark`` extra and Java 17
(``bash scripts/test`` installs both).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

if os.environ.get("CI") == "true":
    import pyspark  # noqa: F401  (CI installs every extra: a skip there would hide a failure)
pytest.importorskip("pyspark", reason="the spark extra is not installed (uv sync --all-extras)")

from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.engines import Engine, attach_engine, load_canonical, open_engine
from kpitree.errors import UserError
from kpitree.project import Project

pytestmark = [pytest.mark.engine, pytest.mark.slow]

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


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, Any]]:
    """The tiny demo company, FY2025 planned from FY2024, with extra nodes for
    medians, snapshots, cohort conversions and SLA metrics."""
    folder = tmp_path_factory.mktemp("spark")
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


@pytest.fixture(scope="module")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    lake = tmp_path_factory.mktemp("lake")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("kpitree-tests")
        .config("spark.sql.warehouse.dir", str(lake))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spark(spark_session: Any, company: tuple[Project, dict[str, Any]]) -> Iterator[Engine]:
    project, tables = company
    engine = attach_engine(spark_session, timezone="Asia/Tokyo", read_only=False)
    engine.roster = project.roster()
    assert load_canonical(engine, tables) == {k: v.num_rows for k, v in tables.items()}
    yield engine
    engine.close()


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


def test_whole_status_on_spark_equals_duckdb(
    company: tuple[Project, dict[str, Any]], spark: Engine
) -> None:
    """Every node, 12 months, company/department/team/rep: the same numbers to the
    last bit (no tolerance), flags, statuses and reasons included."""
    project, _ = company
    by = ["department", "team", "rep"]
    with project.engine() as duck:
        expected = project.status(MONTHS, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS, by=by, as_of=AS_OF, engine=spark).frame
    assert len(got) == len(expected) > 12 * len(project.tree.nodes)
    assert set(expected["node"]) >= set(EXTRA_NODES)
    measured = expected[expected["source"] == "measured"]
    assert measured["node"].nunique() >= 20 and measured["actual"].notna().sum() > 500
    differences = [
        (row["node"], row["period"], row["segment"], column, row[column], other[column])
        for (_, row), (_, other) in zip(expected.iterrows(), got.iterrows(), strict=True)
        for column in expected.columns
        if not _same(row[column], other[column], row["node"])
    ]
    assert differences == []


def test_instants_come_back_exact_in_utc(
    company: tuple[Project, dict[str, Any]], spark: Engine
) -> None:
    """Spark hands instants back as wall-clock times of its session zone (Tokyo
    here); the engine returns the stored instants, in UTC, as DuckDB does."""
    leads = spark.table("leads")
    edge = leads.filter(leads.channel == "edge").order_by("lead_id")
    got = spark.execute(edge.select("lead_id", "created_at")).to_pylist()
    assert got == [{"lead_id": k, "created_at": v} for k, v in EDGES.items()]
    sql = spark.compile(edge.select("created_at"))
    assert spark.execute_sql(sql).column("created_at").to_pylist() == list(EDGES.values())


def test_local_months_at_jst_month_and_fiscal_year_edges(spark: Engine) -> None:
    """An instant a few hours before midnight UTC on the last day of a month is in
    the next month in Tokyo: the trap of computing months in UTC (Ibis's PySpark
    default) or in the column's zone."""
    leads = spark.table("leads")
    edge = leads.filter(leads.channel == "edge")
    expr = edge.select(
        "lead_id", day=edge.created_at.date(), month=edge.created_at.date().truncate("M")
    ).order_by("lead_id")
    assert spark.execute(expr).to_pylist() == [
        {"lead_id": "E1", "day": dt.date(2025, 4, 1), "month": dt.date(2025, 4, 1)},
        {"lead_id": "E2", "day": dt.date(2025, 7, 1), "month": dt.date(2025, 7, 1)},
        {"lead_id": "E3", "day": dt.date(2026, 1, 1), "month": dt.date(2026, 1, 1)},
        {"lead_id": "E4", "day": dt.date(2026, 3, 31), "month": dt.date(2026, 3, 1)},
    ]


def test_spark_urls_and_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        open_engine("sc://127.0.0.1:1?token=s3cret")
    assert exc.value.diagnostics[0].code == "KT514"
    assert "s3cret" not in str(exc.value)
