"""The text of the statements a status sends to DuckDB, on a small company:
each lists only what it reads."""

from __future__ import annotations

import datetime as dt
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
