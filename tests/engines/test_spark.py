"""The same tree on Apache Spark (PySpark ``local[2]``) as on the embedded DuckDB.

One Spark session serves every Spark test of the run (``spark_session`` in
conftest.py: starting a JVM costs seconds); the engines attach to it and never
stop it. Needs the ``spark`` extra and Java 17
(``bash scripts/test`` installs both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") == "true":
    import pyspark  # noqa: F401  (CI installs every extra: a skip there would hide a failure)
pytest.importorskip("pyspark", reason="the spark extra is not installed (uv sync --all-extras)")

from engines.whole_status import EDGE_MONTHS, EDGES, edge_months, make_company, status_differences
from kpitree.engines import Engine, attach_engine, load_canonical, open_engine
from kpitree.errors import UserError
from kpitree.project import Project

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, Any]]:
    return make_company(tmp_path_factory.mktemp("spark"))


# The database this module's company lives in, its current one while the module runs.
DATABASE = "whole_status"


@pytest.fixture(scope="module")
def spark(spark_session: Any, company: tuple[Project, dict[str, Any]]) -> Iterator[Engine]:
    """The company loaded in a database of its own: other modules' tests on the
    same session copy other companies into the default one, with tables that
    replacing the canonical tables leaves (custom dimensions, links, company
    master), and a landed layout reads every table of the current database."""
    project, tables = company
    before = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    spark_session.catalog.setCurrentDatabase(DATABASE)
    try:
        engine = attach_engine(spark_session, timezone="Asia/Tokyo", read_only=False)
        engine.roster = project.roster()
        assert load_canonical(engine, tables) == {k: v.num_rows for k, v in tables.items()}
        yield engine
        engine.close()
    finally:
        spark_session.catalog.setCurrentDatabase(before)


def test_whole_status_on_spark_equals_duckdb(
    company: tuple[Project, dict[str, Any]], spark: Engine
) -> None:
    """Every node, 12 months, company/department/team/rep: the same numbers to the
    last bit (no tolerance), flags, statuses and reasons included."""
    assert status_differences(company[0], spark) == []


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
    assert edge_months(spark) == EDGE_MONTHS


def test_spark_urls_and_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        open_engine("sc://127.0.0.1:1?token=s3cret")
    assert exc.value.diagnostics[0].code == "KT514"
    assert "s3cret" not in str(exc.value)


def test_salesforce_as_fivetran_lands_it_on_spark(
    company: tuple[Project, dict[str, Any]], spark_session: Any, spark: Engine
) -> None:
    """The ``fivetran_salesforce`` preset reads Fivetran's Salesforce tables in a
    Spark database and gives the imported numbers (the canonical
    ``rep_assignments`` the spark fixture loaded is read as it is), and the data
    check's rules find there what they find in the import."""
    from engines.test_landed import DEAL_STAGES, LEAD_STATUSES, NODES, _fivetran
    from engines.whole_status import AS_OF, MONTHS
    from kpitree.engines.landed import attach_landed

    project, tables = company
    spark_session.sql("CREATE DATABASE IF NOT EXISTS salesforce")
    for name, table in _fivetran(tables).items():
        frame = spark_session.createDataFrame(table)
        frame.write.mode("overwrite").saveAsTable(f"salesforce.`{name}`")
    engine = attach_engine(spark_session, timezone="Asia/Tokyo")
    engine.roster = project.roster()
    attach_landed(
        engine,
        "fivetran_salesforce",
        database="salesforce",
        lead_statuses={v: k for k, v in LEAD_STATUSES.items()},
        deal_stages={v: k for k, v in DEAL_STAGES.items()},
    )
    by = ["department", "team", "rep"]
    with project.engine() as duck:
        expected = project.status(MONTHS, by=by, as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS, by=by, as_of=AS_OF, engine=engine).frame
    columns = ["period", "segment", "node", "actual", "target", "status", "volume"]
    want = expected[expected["node"].isin(NODES)][columns].reset_index(drop=True)
    have = got[got["node"].isin(NODES)][columns].reset_index(drop=True)
    assert len(want) == len(have) and want["actual"].notna().sum() > 300
    differences = [
        (a["node"], a["period"], a["segment"], c, a[c], b[c])
        for (_, a), (_, b) in zip(want.iterrows(), have.iterrows(), strict=True)
        for c in columns
        if not (a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]))
    ]
    assert differences == []
    from kpitree.compute.quality import check_quality

    with project.engine() as duck:
        imported = check_quality(duck, project.catalogue, project.tree, AS_OF)
    landed = check_quality(engine, project.catalogue, project.tree, AS_OF)

    def found(report: Any) -> dict[tuple[str, str], Any]:
        return {
            (f.rule, f.table): (f.code, f.level, f.count, f.examples)
            for f in report.findings
            if f.table in {"leads", "deals", "deal_stage_history"}
        }

    assert found(landed) == found(imported) and ("in_future", "deals") in found(landed)


@pytest.mark.parametrize("preset", ["airbyte_salesforce", "dlt_salesforce", "fivetran_hubspot"])
def test_the_other_presets_land_it_on_spark(
    company: tuple[Project, dict[str, Any]], spark_session: Any, spark: Engine, preset: str
) -> None:
    """Airbyte's and dlt's Salesforce layouts and Fivetran's HubSpot layout in a
    Spark database give the imported numbers for a quarter, per team (the whole
    year per department, team and rep is compared on DuckDB)."""
    from engines.test_landed import (
        DEAL_STAGES,
        LEAD_STATUSES,
        NODES,
        STAGE_IDS,
        _airbyte,
        _dlt,
        _hubspot,
    )
    from engines.whole_status import AS_OF, MONTHS
    from kpitree.engines.landed import attach_landed

    project, tables = company
    layout = {"airbyte_salesforce": _airbyte, "dlt_salesforce": _dlt, "fivetran_hubspot": _hubspot}
    spark_session.sql(f"CREATE DATABASE IF NOT EXISTS {preset}")
    for name, table in layout[preset](tables).items():
        frame = spark_session.createDataFrame(table)
        frame.write.mode("overwrite").saveAsTable(f"{preset}.`{name}`")
    engine = attach_engine(spark_session, timezone="Asia/Tokyo")
    engine.roster = project.roster()
    if preset == "fivetran_hubspot":
        statuses = {"other": "disqualified", "lost": "lost"}
        stages = {v: k for k, v in STAGE_IDS.items()}
    else:
        statuses = {v: k for k, v in LEAD_STATUSES.items()}
        stages = {v: k for k, v in DEAL_STAGES.items()}
    attach_landed(engine, preset, database=preset, lead_statuses=statuses, deal_stages=stages)
    # dlt's Salesforce source loads no field history: no MQLs to compare.
    nodes = [n for n in NODES if n != "mqls" or preset != "dlt_salesforce"]
    with project.engine() as duck:
        expected = project.status(MONTHS[-3:], by=["team"], as_of=AS_OF, engine=duck).frame
    got = project.status(MONTHS[-3:], by=["team"], as_of=AS_OF, engine=engine).frame
    columns = ["period", "segment", "node", "actual", "target", "status", "volume"]
    want = expected[expected["node"].isin(nodes)][columns].reset_index(drop=True)
    have = got[got["node"].isin(nodes)][columns].reset_index(drop=True)
    assert len(want) == len(have) and want["actual"].notna().sum() > 20
    differences = [
        (a["node"], a["period"], a["segment"], c, a[c], b[c])
        for (_, a), (_, b) in zip(want.iterrows(), have.iterrows(), strict=True)
        for c in columns
        if not (a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]))
    ]
    assert differences == []
