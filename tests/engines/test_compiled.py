"""Trino, BigQuery and Snowflake: the status's queries compiled, not guessed.

No server of these engines runs here. Every query a whole status asks is
compiled for each (``kpitree.engines.offline``), parsed back by sqlglot in the
engine's dialect and compared with the reviewed text in
``tests/engines/snapshots/<engine>/status.sql`` (``KPITREE_UPDATE_SNAPSHOTS=1``
rewrites them after a deliberate change: review the diff). The local days the
compiled SQL computes are checked by running it, translated by sqlglot, on
DuckDB with its session in UTC: the zone has to be in the text.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
import yaml

from engines.whole_status import (
    EDGE_MONTHS,
    EDGES,
    EXTRA,
    EXTRA_NODES,
    MONTHS,
    edge_months,
    make_company,
)
from kpitree.engines import open_engine
from kpitree.engines.load import canonical_ddl
from kpitree.engines.offline import compiled_engine
from kpitree.project import Project

SNAPSHOTS = Path(__file__).parent / "snapshots"
DIALECTS = ["trino", "bigquery", "snowflake"]
_MEMTABLE = re.compile(r"ibis_[a-z]+_memtable_[a-z0-9]+")
# sqlglot writes Snowflake's unnest of an array through a string split on a
# random separator.
_SEPARATOR = re.compile(r"'[0-9a-f]{32}'")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default project with the extra nodes (medians, snapshots, cohort
    conversions, SLA metrics); compiling needs no data."""
    folder = tmp_path_factory.mktemp("compiled")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["nodes"].update(EXTRA_NODES)
    doc.update(yaml.safe_load(EXTRA))
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return Project.load(folder / "project")


def _stable(sql: str) -> str:
    """In-memory tables get random names: numbered in order of appearance (and
    Snowflake's unnest a random separator: named)."""
    names: dict[str, str] = {}
    sql = _SEPARATOR.sub("'separator'", sql)
    return _MEMTABLE.sub(lambda m: names.setdefault(m.group(0), f"memtable_{len(names)}"), sql)


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_status_queries_compile_as_reviewed(project: Project, dialect: str) -> None:
    engine = compiled_engine(dialect, timezone="Asia/Tokyo")
    project.status(["2026-02"], by=["team"], as_of=dt.date(2026, 3, 20), engine=engine)
    assert len(engine.statements) > 20
    for sql in engine.statements:
        sqlglot.parse_one(sql, read=dialect)  # valid in the engine's dialect
    text = "\n;\n\n".join(_stable(s) for s in engine.statements) + "\n"
    if dialect in ("trino", "bigquery"):  # no exact median there: the approximation
        assert "MEDIAN(" not in text.upper() and "QUANTILE_CONT" not in text.upper()
        assert ("APPROX_PERCENTILE" if dialect == "trino" else "APPROX_QUANTILES") in text
    zone = {"trino": "AT_TIMEZONE(", "snowflake": "CONVERT_TIMEZONE(", "bigquery": "'Asia/Tokyo')"}
    assert zone[dialect] in text
    path = SNAPSHOTS / dialect / "status.sql"
    if os.environ.get("KPITREE_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, (
        f"the {dialect} SQL changed: review it, then KPITREE_UPDATE_SNAPSHOTS=1"
    )


def _edge_duckdb() -> Any:
    """An in-memory DuckDB in UTC holding the edge leads, where Trino's
    ``at_timezone`` (the instant in a zone) is a macro."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(canonical_ddl("leads", "duckdb"))
    rows = pa.table(
        {
            "lead_id": list(EDGES),
            "created_at": pa.array(list(EDGES.values()), pa.timestamp("us", "UTC")),
            "channel": ["edge"] * len(EDGES),
        }
    )
    con.register("edge_rows", rows)
    con.execute("INSERT INTO leads (lead_id, created_at, channel) SELECT * FROM edge_rows")
    con.execute("CREATE MACRO at_timezone(x, zone) AS timezone(zone, x)")
    return con


def _months_of(con: Any, sql: str, dialect: str) -> list[dict[str, Any]]:
    translated = sqlglot.transpile(sql, read=dialect, write="duckdb")[0]
    rows = con.sql(translated).to_arrow_table().to_pylist()
    # DuckDB's date_trunc of a date is a timestamp at midnight: its date.
    return [
        {k: v.date() if isinstance(v, dt.datetime) else v for k, v in row.items()} for row in rows
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compiled_local_days_at_jst_month_and_fiscal_year_edges(dialect: str) -> None:
    """The compiled day and month of instants at Tokyo month and fiscal-year
    edges are the Tokyo ones with the database's session in UTC; the same
    expression compiled without the engine's rewrite puts E1 (00:00 on 1 April
    in Tokyo) in March of the previous fiscal year, the trap this catches."""
    import ibis

    engine = compiled_engine(dialect, timezone="Asia/Tokyo")
    captured: list[Any] = []
    real_execute = engine.execute

    def execute(expr: Any) -> Any:
        captured.append(expr)
        return real_execute(expr)

    engine.execute = execute  # type: ignore[method-assign]
    edge_months(engine)
    con = _edge_duckdb()
    assert _months_of(con, engine.statements[-1], dialect) == EDGE_MONTHS
    plain = _months_of(con, ibis.to_sql(captured[-1], dialect=dialect), dialect)
    assert plain[0] == {"lead_id": "E1", "day": dt.date(2025, 3, 31), "month": dt.date(2025, 3, 1)}


@pytest.mark.slow
def test_an_approximate_median_is_flagged(tmp_path: Path) -> None:
    """On an engine without an exact median, the median nodes carry the
    ``approximate_median`` flag naming the approximation; other nodes do not.
    (DuckDB told to approximate as Trino must: its approx_quantile runs here.)"""
    project, _ = make_company(tmp_path)
    with open_engine(tmp_path / "warehouse.duckdb") as engine:
        engine.approximate_median = True
        sql = engine.compile(engine.table("deals").amount.median())
        assert "APPROX_QUANTILE" in sql.upper()
        frame = project.status(MONTHS[-3:], as_of=dt.date(2026, 3, 20), engine=engine).frame
    flagged = {
        row["node"]
        for _, row in frame.iterrows()
        if any(f.code == "approximate_median" for f in row["flags"])
    }
    assert flagged == {"cycle_median"}
    row = frame[frame["node"] == "cycle_median"].iloc[-1]
    (flag,) = [f for f in row["flags"] if f.code == "approximate_median"]
    assert flag.values["method"] == "approx_quantile(x, 0.5)"
    assert "approx_quantile" in flag.message(project.tree, "en")
    assert "approx_quantile" in flag.message(project.tree, "ja")
