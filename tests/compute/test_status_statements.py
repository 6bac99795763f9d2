"""The text of the statements a status sends to DuckDB, on a small company:
each lists only what it reads, and the numbers do not depend on how a filter
is written (periods with and without a gap between them)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import kpitree.engines.engine as engine_module
from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.project import Project

AS_OF = dt.date(2025, 11, 18)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo company in a the-model project (it places reps by name)."""
    folder = tmp_path_factory.mktemp("statements")
    company = generate("tiny", seed=5)
    Warehouse(folder / "warehouse.duckdb").bulk_load(company.tables, label="demo")
    definition = Project.init(folder / "project", "the-model")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return folder / "project"


def _status(
    folder: Path, monkeypatch: pytest.MonkeyPatch, months: list[str], **options: Any
) -> tuple[Any, list[str]]:
    """A status computed afresh (no kept results or compiled SQL) and the
    statements it sent."""
    shutil.rmtree(folder / ".kpitree", ignore_errors=True)
    sent: list[str] = []
    run = engine_module.duckdb_arrow

    def recorded(con: Any, sql: str) -> Any:
        sent.append(sql)
        return run(con, sql)

    monkeypatch.setattr(engine_module, "duckdb_arrow", recorded)
    result = Project.load(folder).status(months, as_of=AS_OF, explain=False, **options)
    monkeypatch.setattr(engine_module, "duckdb_arrow", run)
    return result, sent


def test_the_latest_facts_query_reads_one_column_per_table(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, sent = _status(folder, monkeypatch, ["2025-10"], by=["team"])
    [latest] = [sql for sql in sent if '"latest"' in sql]
    # Each table's event columns, not its others in every subquery.
    for column in ('"attributes"', '"current_stage"', '"channel"', '"comment"', '"product"'):
        assert column not in latest


def test_the_period_case_is_written_once_when_the_periods_leave_no_gap(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by = ["department", "team", "rep"]
    _, sent = _status(folder, monkeypatch, ["2025-09", "2025-10"], by=by, compare=False)
    [leads] = [sql for sql in sent if '"leads__n"' in sql]
    # The period's CASE; the filter keeping the facts of a period compares days.
    assert len(re.findall(r"CASE WHEN \(\"t\d+\"\.\"__day\"", leads)) == 1


def _actuals(result: Any) -> dict[tuple[str, str, str], Any]:
    frame = result.frame
    return {
        (node, period, repr(segment)): actual
        for node, period, segment, actual in zip(
            frame["node"], frame["period"], frame["segment"], frame["actual"], strict=True
        )
    }


def _values(actuals: dict[tuple[str, str, str], Any]) -> dict[tuple[str, str, str], Any]:
    """The actuals that say something (not undefined, not 0)."""
    return {k: v for k, v in actuals.items() if v is not None and v == v and v != 0}


def test_periods_with_a_gap_count_only_their_own_days(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """August and October together (September between them in no period)
    give each month's numbers alone."""
    options = {"by": ["team", "rep"], "compare": False}
    both, _ = _status(folder, monkeypatch, ["2025-08", "2025-10"], **options)
    together = _actuals(both)
    alone = {}
    for month in ("2025-08", "2025-10"):
        one, _ = _status(folder, monkeypatch, [month], **options)
        alone |= _actuals(one)
    # A segment seen in one of the months is a row of the other too (with 0):
    # the values, not the rows, are compared.
    together, alone = _values(together), _values(alone)
    assert len(together) > 50
    assert together == alone
