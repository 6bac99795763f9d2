"""The metrics placed on first stage entries (the MQL and SQL counts, the cohort
rates and the mean durations between two stages) share one first-entries
relation: a status reads the stage history once, and each metric's numbers
equal its own query's (one reading of the history per metric) on tricky
histories — a stage entered twice, entries before and after the periods,
opportunities known only from a linked deal, an opportunity before the SQL (a
negative duration), entries on either side of midnight in Tokyo — and a count
made here in plain Python from the rows."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from data import test_links_two_sources as two
from kpitree import Project
from kpitree.compute.compile import metric_query
from kpitree.compute.compile_stages import stage_fusable, stage_query
from kpitree.compute.measure import measure_columns
from kpitree.compute.periods import Period, parse_period
from kpitree.compute.querycache import QueryCache
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse, default_warehouse_path

AS_OF = two.AS_OF
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
STAGED = [
    "mqls",
    "sqls",
    "mql_to_opportunity_rate",
    "mql_to_sql_rate",
    "sql_to_opportunity_rate",
    "mql_to_won_rate",
    "mql_to_sql_days",
    "sql_to_opportunity_hours",
]
# Durations between two stages (means), placed by their first or their second stage.
DURATIONS = """
metrics:
  mql_to_sql_days: {type: duration, entity: leads, from: mql, to: sql, duration_unit: days}
  sql_to_opportunity_hours: {type: duration, entity: leads, from: sql, to: opportunity,
                             duration_unit: hours, place_by: to}
"""

# Besides what the two sources give (MQL entries from HubSpot, opportunities and
# wins only from the deals linked to the contacts):
EXTRA = [
    # 101 re-enters MQL later: still one MQL, on its first entry (2026-01-08).
    ("101", "mql", "2026-03-05T01:00:00+00:00"),
    # 102's first MQL is at midnight in Tokyo on 1 January (still 31 December in UTC).
    ("102", "mql", "2025-12-31T15:00:00+00:00"),
    # 103 becomes an SQL one second before midnight in Tokyo on 31 January,
    # 104 at midnight: January and February in Tokyo, both January in UTC.
    ("103", "sql", "2026-01-31T14:59:59+00:00"),
    ("104", "sql", "2026-01-31T15:00:00+00:00"),
    ("104", "sql", "2026-02-10T15:00:00+00:00"),  # and again later
    # 105 was an MQL long before the periods: not one of 2026's MQLs.
    ("105", "mql", "2025-06-01T03:00:00+00:00"),
    # 106's own opportunity entry comes after its linked deal's creation
    # (2026-02-01): its own entry wins, out of the 90 days of its MQL.
    ("106", "opportunity", "2026-05-20T03:00:00+00:00"),
    # 107 and 110 become SQLs; 107 then an opportunity in 2027, after the
    # periods and the as-of day (not converted); 110 an opportunity before
    # its SQL (not a conversion of that SQL).
    ("107", "sql", "2026-01-25T03:00:00+00:00"),
    ("107", "opportunity", "2027-01-10T03:00:00+00:00"),
    ("110", "opportunity", "2026-01-21T03:00:00+00:00"),
    ("110", "sql", "2026-02-02T03:00:00+00:00"),
    # 112 is an SQL on the day of its MQL, then an opportunity by its deal.
    ("112", "sql", "2026-02-03T05:00:00+00:00"),
]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow as pa

    folder: Path = two.company.__wrapped__(tmp_path_factory)  # type: ignore[attr-defined]
    definition = folder / "kpitree.yaml"
    definition.write_text(definition.read_text(encoding="utf-8") + DURATIONS, encoding="utf-8")
    schema = arrow_schema("lead_stage_history")
    rows = [
        dict.fromkeys(schema.names)
        | {"lead_id": lead, "stage": stage, "entered_at": dt.datetime.fromisoformat(at)}
        for lead, stage, at in EXTRA
    ]
    Warehouse(default_warehouse_path(folder)).bulk_load(
        {"lead_stage_history": pa.Table.from_pylist(rows, schema=schema)},
        label="stages.csv",
        source="hubspot-contacts",
    )
    return folder


def _months() -> list[Period]:
    return [parse_period(f"2026-{m:02d}", 1) for m in range(1, 13)]


PERIODS = {
    "months": _months,
    "one month": lambda: [parse_period("2026-02", 1)],  # looks its entrants up first
    "year": lambda: [parse_period("FY2026", 1)],
}


def _by_segment(table: Any, columns: Sequence[str], keys: Sequence[str]) -> dict[tuple, tuple]:
    out = {}
    for row in table.to_pylist():
        values = tuple(row[c] or 0 for c in columns)
        if any(values):
            out[tuple(row[k] for k in keys)] = values
    return out


@pytest.mark.parametrize("dims", [(), ("rep",)])
@pytest.mark.parametrize("periods", list(PERIODS))
def test_the_shared_relation_gives_each_metrics_own_numbers(
    company: Path, dims: tuple[str, ...], periods: str
) -> None:
    project = Project.load(company)
    spans = PERIODS[periods]()
    metrics = [project.catalogue[m] for m in STAGED]
    assert len({stage_fusable(m) for m in metrics}) == 1
    keys = ["period", *[f"dim__{d}" for d in dims]]
    with project.engine() as engine:
        shared = engine.execute(stage_query(engine, metrics, spans, dims, as_of=AS_OF))
        for m in metrics:
            own = engine.execute(metric_query(engine, m, spans, dims, as_of=AS_OF))
            parts = {"count": ["n"], "conversion": ["num", "den"]}.get(m.type, ["s", "n", "q"])
            expected = _by_segment(own, parts, keys)
            got = _by_segment(shared, [f"{m.id}__{p}" for p in parts], keys)
            assert got == expected, m.id
            if periods == "months" and m.type != "count":
                assert expected, m.id  # the cohort has entrants, the duration pairs


def _first_local_days(company: Path) -> dict[tuple[str, str], dt.date]:
    project = Project.load(company)
    with project.engine() as engine:
        rows = engine.execute(engine.backend.table("lead_stage_history")).to_pylist()
    first: dict[tuple[str, str], dt.datetime] = {}
    for r in rows:
        key = (r["lead_id"], r["stage"])
        first[key] = min(first.get(key, r["entered_at"]), r["entered_at"])
    return {k: v.astimezone(TOKYO).date() for k, v in first.items()}


def test_mqls_and_sqls_per_month_equal_the_rows(company: Path) -> None:
    """MQLs and SQLs on the Tokyo day of each lead's first entry, counted in
    Python (the midnight entries fall on the side Tokyo says)."""
    days = _first_local_days(company)
    project = Project.load(company)
    months = _months()
    with project.engine() as engine:
        got = measure_columns(
            engine, project.catalogue, ["mqls", "sqls"], months, as_of=AS_OF, cache=QueryCache()
        )[()]
    for stage, metric in (("mql", "mqls"), ("sql", "sqls")):
        expected = Counter(d.month for (_, s), d in days.items() if s == stage and d.year == 2026)
        assert {i + 1: int(n) for i, n in enumerate(got[metric]) if n} == dict(expected)
    assert days[("102", "mql")] == dt.date(2026, 1, 1)
    assert days[("103", "sql")] == dt.date(2026, 1, 31)
    assert days[("104", "sql")] == dt.date(2026, 2, 1)


def _stage_history_scans(engine: Any, sql: str) -> int:
    """How many times DuckDB's plan of ``sql`` scans the stage history."""
    plan = engine.backend.raw_sql("EXPLAIN " + sql).fetchall()
    text = "\n".join(str(cell) for row in plan for cell in row)
    return text.count("lead_stage_history")


@pytest.mark.parametrize("periods", ["months", "year"])
def test_a_status_reads_the_stage_history_once(company: Path, periods: str) -> None:
    """Every metric placed on first stage entries, with MQLs and SQLs placed
    on different stages: one query reads the stage history, once in its SQL
    and once in DuckDB's plan (windows longer than half a year; a shorter one
    with one placing stage first looks its entrants up, a second read)."""
    project = Project.load(company)
    spans = PERIODS[periods]()
    cache = QueryCache()
    with project.engine() as engine:
        measure_columns(
            engine,
            project.catalogue,
            [*STAGED, "leads", "opportunities"],
            spans,
            levels=[(), ("rep",)],
            as_of=AS_OF,
            cache=cache,
        )
        entries = cache._entries.values()
        reading = [sql for sql, _, tables in entries if "lead_stage_history" in tables]
        assert len(reading) == 1, reading
        assert reading[0].count('"lead_stage_history"') == 1, reading[0]
        assert _stage_history_scans(engine, reading[0]) == 1


DEAL_METRICS = """
metrics:
  proposals: {type: count, entity: deals, time: "stage:proposal"}
  proposal_to_won: {type: conversion, entity: deals, from: "stage:proposal",
                    to: "stage:closed_won", window_days: 120}
  proposal_to_won_days: {type: duration, entity: deals, from: "stage:proposal",
                         to: "stage:closed_won", duration_unit: days, place_by: to}
  web_mqls: {type: count, entity: leads, time: "stage:mql", where: {channel: [web, event]}}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    import yaml

    from kpitree.data.demo import generate

    folder = tmp_path_factory.mktemp("stage-fusion-demo")
    Warehouse(folder / "warehouse.duckdb").bulk_load(generate("tiny", seed=5).tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    doc.update(yaml.safe_load(DEAL_METRICS))
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return Project.load(folder / "project")


@pytest.mark.parametrize(
    "group",
    [
        ["proposals", "proposal_to_won", "proposal_to_won_days"],  # the deals' stage history
        ["web_mqls", "mqls", "mql_to_opportunity_rate"],  # each with its own filter
    ],
)
def test_deal_stages_and_filtered_counts_share_a_relation_too(
    demo: Project, group: list[str]
) -> None:
    metrics = [demo.catalogue[m] for m in group]
    assert len({stage_fusable(m) for m in metrics}) == 1
    spans = [parse_period(f"2025-{m:02d}", 4) for m in range(4, 13)]
    as_of = dt.date(2026, 2, 1)
    keys = ["period", "dim__team"]
    with demo.engine() as engine:
        shared = engine.execute(stage_query(engine, metrics, spans, ["team"], as_of=as_of))
        for m in metrics:
            own = engine.execute(metric_query(engine, m, spans, ["team"], as_of=as_of))
            parts = {"count": ["n"], "conversion": ["num", "den"]}.get(m.type, ["s", "n", "q"])
            expected = _by_segment(own, parts, keys)
            assert expected, m.id
            assert _by_segment(shared, [f"{m.id}__{p}" for p in parts], keys) == expected, m.id
