"""The same tree on ClickHouse (chDB, embedded in this process) as on DuckDB.

chDB allows one engine per process: the module opens one in-memory engine and
every test uses it. Needs the ``clickhouse`` extra (``bash scripts/test``
installs every extra).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CI") == "true":
    import chdb  # noqa: F401  (CI installs every extra: a skip there would hide a failure)
pytest.importorskip("chdb", reason="the clickhouse extra is not installed (uv sync --all-extras)")

from engines.whole_status import EDGE_MONTHS, EDGES, edge_months, make_company, status_differences
from kpitree.engines import Engine, copy_warehouse, load_canonical, open_engine
from kpitree.project import Project

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, Any]]:
    return make_company(tmp_path_factory.mktemp("clickhouse"))


@pytest.fixture(scope="module")
def clickhouse(company: tuple[Project, dict[str, Any]]) -> Iterator[Engine]:
    project, tables = company
    with open_engine("chdb://", timezone="Asia/Tokyo", read_only=False) as engine:
        engine.roster = project.roster()
        assert load_canonical(engine, tables) == {k: v.num_rows for k, v in tables.items()}
        # The warehouse's side tables (custom dimensions) go along too.
        warehouse = project.path.parent / "warehouse.duckdb"
        assert copy_warehouse(warehouse, engine)["leads"] == tables["leads"].num_rows
        yield engine


def test_whole_status_on_clickhouse_equals_duckdb(
    company: tuple[Project, dict[str, Any]], clickhouse: Engine
) -> None:
    """Every node, 12 months, company/department/team/rep: the same numbers to the
    last bit (no tolerance), flags, statuses and reasons included."""
    assert status_differences(company[0], clickhouse) == []


def test_local_months_at_jst_month_and_fiscal_year_edges(clickhouse: Engine) -> None:
    """ClickHouse takes the day of a ``DateTime64(6, 'UTC')`` column in the
    column's zone: without the engine's reading in the project zone, E1 would be
    a March lead of the previous fiscal year."""
    assert edge_months(clickhouse) == EDGE_MONTHS
    raw = clickhouse.backend.con.query("SELECT toDate(created_at) FROM leads WHERE lead_id = 'E1'")
    assert raw.result_rows == [(dt.date(2025, 3, 31),)]  # the trap, still there underneath


def test_instants_come_back_exact_in_utc(clickhouse: Engine) -> None:
    leads = clickhouse.table("leads")
    edge = leads.filter(leads.channel == "edge").order_by("lead_id")
    got = clickhouse.execute(edge.select("lead_id", "created_at")).to_pylist()
    assert got == [{"lead_id": k, "created_at": v} for k, v in EDGES.items()]
    sql = clickhouse.compile(edge.select("created_at"))
    assert clickhouse.execute_sql(sql).column("created_at").to_pylist() == list(EDGES.values())


def test_naive_timestamps_are_read_in_the_project_zone(clickhouse: Engine) -> None:
    """A timestamp written without a zone means the project's wall-clock time, as
    in DuckDB's session: 2025-04-01 00:00 in Tokyo is E1's instant."""
    import ibis

    leads = clickhouse.table("leads")
    at = ibis.timestamp("2025-04-01 00:00:00")
    expr = leads.filter((leads.channel == "edge") & (leads.created_at >= at)).count()
    assert clickhouse.execute(expr).column(0).to_pylist() == [4]
    before = leads.filter((leads.channel == "edge") & (leads.created_at < at)).count()
    assert clickhouse.execute(before).column(0).to_pylist() == [0]


def test_kpitree_query_on_clickhouse_cannot_read_outside(clickhouse: Engine, tmp_path: Any) -> None:
    """ClickHouse allows table functions that read files or URLs in a plain
    SELECT; ``query`` runs with ``readonly = 1``, so the database refuses them."""
    from kpitree.errors import UserError

    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret\n", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        clickhouse.query(f"SELECT * FROM file('{secret}', 'LineAsString')")
    assert exc.value.diagnostics[0].code == "KT511"
    assert "s3cret" not in str(exc.value)
    got = clickhouse.query("SELECT lead_id FROM leads ORDER BY lead_id", limit=2)
    assert got.num_rows == 2
