"""Query results kept per table version: a status after new data reruns only
the queries that read the changed tables, and is the same as one computed
from scratch; a file written by something other than kpitree drops them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml

from kpitree.compute.periods import parse_period
from kpitree.compute.querycache import QueryCache
from kpitree.compute.status import StatusResult, compute_status
from kpitree.compute.targets import Targets
from kpitree.data.demo import generate
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse
from kpitree.engines import Engine
from kpitree.project import Project

AS_OF = dt.date(2025, 11, 18)
PERIODS = ["2025-10", "2025-11"]


@pytest.fixture
def demo(tmp_path: Path) -> Project:
    company = generate("tiny", seed=5)
    Warehouse(tmp_path / "warehouse.duckdb").bulk_load(company.tables, label="demo")
    definition = Project.init(tmp_path / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(tmp_path / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    Project.load(tmp_path / "project").plan_from_history("FY2024", fiscal_year=2025)
    return Project.load(tmp_path / "project")


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL texts the engines run."""
    texts: list[str] = []
    real = Engine.execute_sql_many

    def spy(self: Engine, sqls: Any) -> Any:
        sqls = list(sqls)
        texts.extend(sqls)
        return real(self, sqls)

    monkeypatch.setattr(Engine, "execute_sql_many", spy)
    yield texts


def status(demo: Project, cache: QueryCache) -> StatusResult:
    with demo.engine() as engine:
        return compute_status(
            demo.tree,
            demo.catalogue,
            engine,
            Targets(demo.tree, demo.plan_or_none),
            [parse_period(p, 4) for p in PERIODS],
            [(), ("department", "team", "rep")],
            as_of=AS_OF,
            cache=cache,
        )


def fresh(demo: Project) -> StatusResult:
    """The same status with nothing kept (a new cache)."""
    return status(demo, QueryCache())


def versions(demo: Project) -> dict[str, int]:
    with duckdb.connect(demo.warehouse_target, read_only=True) as con:
        rows = con.execute("SELECT table_name, version FROM kpitree_table_versions").fetchall()
    return {str(t): int(v) for t, v in rows}


def won_deal(deal_id: str, amount: float) -> pa.Table:
    at = dt.datetime(2025, 11, 10, 3, tzinfo=dt.UTC)
    row = {"deal_id": deal_id, "amount": amount, "currency": "JPY", "created_at": at,
           "close_date": dt.date(2025, 11, 10), "status": "won", "stage": "closed_won"}  # fmt: skip
    schema = arrow_schema("deals")
    return pa.Table.from_pylist([{c: row.get(c) for c in schema.names}], schema=schema)


def test_a_second_status_runs_no_query_and_is_the_same(demo: Project, ran: list[str]) -> None:
    cache = QueryCache()
    first = status(demo, cache)
    count = len(ran)
    assert count > 3
    again = status(demo, cache)
    assert len(ran) == count  # every result was kept
    assert cache.result_hits >= count
    assert again.frame.equals(first.frame)


def test_new_deals_rerun_only_the_queries_that_read_deals(demo: Project, ran: list[str]) -> None:
    cache = QueryCache()
    before = status(demo, cache)
    won_before = before.row("won_deals", "2025-11").actual
    assert won_before is not None
    old = versions(demo)
    Warehouse(demo.warehouse_target).bulk_load({"deals": won_deal("D-NEW", 5e6)}, label="new")
    new = versions(demo)
    assert new["deals"] == old["deals"] + 1
    assert {t: v for t, v in new.items() if t != "deals"} == {
        t: v for t, v in old.items() if t != "deals"
    }
    ran.clear()
    after = status(demo, cache)
    assert ran and all('"deals"' in sql for sql in ran)  # leads, activities... were kept
    assert after.row("won_deals", "2025-11").actual == won_before + 1
    assert after.frame.equals(fresh(demo).frame)


def test_undo_is_a_write_too(demo: Project) -> None:
    cache = QueryCache()
    result = Warehouse(demo.warehouse_target).bulk_load(
        {"deals": won_deal("D-UNDO", 1e6)}, label="new"
    )
    with_deal = status(demo, cache)
    old = versions(demo)["deals"]
    Warehouse(demo.warehouse_target).undo(result.import_id)
    assert versions(demo)["deals"] == old + 1
    without = status(demo, cache)
    assert without.row("won_deals", "2025-11").actual == (
        (with_deal.row("won_deals", "2025-11").actual or 0) - 1
    )
    assert without.frame.equals(fresh(demo).frame)


def test_a_write_by_another_tool_drops_the_kept_results(demo: Project) -> None:
    cache = QueryCache()
    before = status(demo, cache)
    with duckdb.connect(demo.warehouse_target) as con:  # no version is bumped
        con.execute("DELETE FROM deals WHERE status = 'won'")
    after = status(demo, cache)
    assert before.row("won_deals", "2025-11").actual
    assert after.row("won_deals", "2025-11").actual in (0, None)
    assert after.frame.equals(fresh(demo).frame)


def test_other_databases_keep_no_results(demo: Project, tmp_path: Path) -> None:
    """A file kpitree has not migrated (no versions) is read afresh each time."""
    from kpitree.engines import open_engine

    plain = tmp_path / "plain.duckdb"
    with duckdb.connect(str(plain)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    with open_engine(plain, timezone="UTC") as engine:
        assert engine.data_state() is None
    with open_engine("duckdb://", timezone="UTC") as engine:
        assert engine.data_state() is None
    with demo.engine() as engine:
        state = engine.data_state()
        assert state is not None and state[1]["deals"] >= 1
