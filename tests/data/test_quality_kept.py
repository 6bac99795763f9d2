"""Rule results of the data check used again after a write that leaves their
tables alone (:mod:`kpitree.compute.quality_kept`), on the company of
tests/data/quality_company.py: after an import of deals the report equals one
counted from scratch, the rules of other tables are not counted again, and a
change made by another tool (no write version moves) is counted again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree.compute import quality_kept
from kpitree.compute.quality import check_quality
from kpitree.project import Project

from .quality_company import AS_OF, DEALS_MAP, build_company, cli_runner, write


@pytest.fixture
def kpitree(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KPITREE_LANG", "en")
    return cli_runner(capsys)


def _report(folder: Path) -> dict[str, Any]:
    project = Project.load(folder)
    with project.engine() as engine:
        found = check_quality(engine, project.catalogue, project.tree, dt.date.fromisoformat(AS_OF))
    return found.to_json()


def _from_scratch(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as m:
        m.setattr(quality_kept, "_KEPT", {})
        return _report(folder)


def _finding(report: dict[str, Any], rule: str, table: str) -> dict[str, Any] | None:
    return next((f for f in report["findings"] if (f["rule"], f["table"]) == (rule, table)), None)


def test_rules_of_tables_a_write_left_alone_are_used_again(
    tmp_path: Path, kpitree: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = build_company(tmp_path, kpitree)
    first = _report(folder)
    assert _report(folder) == first  # the same file: every rule used again
    used = quality_kept.used_again()
    # Two more deals, one of them without an amount: only the deal rules move.
    more = "ID,Lead,Created,Close,Won,Amount,Status,Owner,Account\n"
    more += "D8,L1,2026/04/21,,,,open,R1,\nD9,L1,2026/04/22,,,800,open,R1,\n"
    csv = write(tmp_path, "more.csv", more)
    mapping = write(tmp_path, "deals.yaml", DEALS_MAP)
    assert kpitree("import", csv, "--mapping", mapping, "--project", str(folder)).code == 0
    after = _report(folder)
    assert after == _from_scratch(folder, monkeypatch)
    before_amount = _finding(first, "deal_without_amount", "deals")
    after_amount = _finding(after, "deal_without_amount", "deals")
    assert before_amount is not None and after_amount is not None
    assert after_amount["count"] == before_amount["count"] + 1
    assert "D8" in after_amount["examples"]
    reused = quality_kept.used_again() - used
    assert reused > 0  # the rules of leads and activities, at least
    # Another tool changes a lead (no write version moves): nothing is used again.
    project = Project.load(folder)
    with duckdb.connect(project.warehouse_target) as con:
        con.execute("DELETE FROM lead_stage_history")
    changed = _report(folder)
    assert changed == _from_scratch(folder, monkeypatch)
    assert changed != after
