"""Scores computed when the data changes: after ``kpitree import`` and
``kpitree imports undo`` the kept daily scores hold the dashboard's days
without any page having been opened, equal to a fresh computation; a failed
import leaves them as they were."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpitree import Project
from kpitree.abm.daily import daily_scores
from kpitree.abm.refresh import dashboard_days
from kpitree.cli import main

from .views import AS_OF, DEFINITION, build

# A node whose metric reads the target accounts of each day: the dashboard
# reads every day of the current and previous months.
TARGETS = DEFINITION.replace(
    "nodes:\n", "nodes:\n  target_accounts: {unit: count, metric: target_accounts}\n", 1
)

MAPPING = """\
mapping: 1
name: meetings
tables:
  activities:
    activity_id: {column: id}
    occurred_at: {column: at, format: "%Y-%m-%d %H:%M"}
    type: {column: kind}
    account_id: {column: account}
"""


def _cli(*args: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", *args])
    assert done.value.code in (0, None), args


def _kept(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in (folder / ".kpitree" / "cache" / "abm").glob("*")}


def _cols(rows: object) -> list[dict[str, object]]:
    import pyarrow as pa

    assert isinstance(rows, pa.Table)
    keep = ["day", "account_id", "score", "engagement", "tier", "target_account"]
    order = [("day", "ascending"), ("account_id", "ascending")]
    return rows.select(keep).sort_by(order).to_pylist()


def _check_fresh(folder: Path, kept: bool = True) -> list[dict[str, object]]:
    """The kept rows of the dashboard's days, read without computing, equal a
    fresh computation on the same data (``kept`` ``False``: only computed)."""
    project = Project.load(folder)
    abm = project.tree.abm
    assert abm is not None
    days = dashboard_days(project)
    assert project.today() in days
    with project.engine() as engine:
        store = engine.abm_scores
        fresh = daily_scores(engine, abm, days, *store.list_rows())
        if not kept:
            return _cols(fresh)
        assert store.path is not None and store.path.is_file()
        rows = store._load()  # the file as the command left it
        assert rows is not None
        assert set(days) <= set(rows.column("day").to_pylist())
    assert _cols(store.rows(days)) == _cols(fresh)
    return _cols(fresh)


def test_import_and_undo_compute_the_days_the_dashboard_reads(tmp_path: Path) -> None:
    folder = build(tmp_path, TARGETS)
    (folder / "meetings.yaml").write_text(MAPPING, encoding="utf-8")
    before = _check_fresh(folder, kept=False)  # no page opened, nothing kept yet
    assert not _kept(folder)
    today = Project.load(folder).today()
    csv = folder / "meetings.csv"
    csv.write_text(f"id,at,kind,account\nN1,{today} 09:00,meeting,GAMMA\n", encoding="utf-8")
    _cli("import", str(csv), "-m", str(folder / "meetings.yaml"), "-p", str(folder))
    after = _check_fresh(folder)
    gamma = [r for r in after if r["account_id"] == "GAMMA" and r["day"] == today]
    assert gamma[0]["engagement"] == 10.0  # the new meeting counts today
    assert after != before

    # A failed import (a date that does not parse) leaves the kept scores as they were.
    kept = _kept(folder)
    bad = folder / "bad.csv"
    bad.write_text("id,at,kind,account\nN2,yesterday,meeting,ACME\n", encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["--lang", "en", "import", str(bad), "-m", str(folder / "meetings.yaml"),
              "-p", str(folder)])  # fmt: skip
    assert done.value.code not in (0, None)
    assert _kept(folder) == kept

    from kpitree.data.warehouse import Warehouse, default_warehouse_path

    log = Warehouse(default_warehouse_path(folder)).imports()
    last = max(r.import_id for r in log if r.status == "applied")
    _cli("imports", "undo", str(last), "-p", str(folder))
    assert _check_fresh(folder) == before


def test_days_of_the_dashboard(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "scores").mkdir()
    project = Project.load(build(tmp_path / "targets", TARGETS))
    days = dashboard_days(project, dt.date(2026, 6, 30))
    # The previous and current month up to the day (the end of May is the
    # Accounts page's default comparison).
    assert days[0] == dt.date(2026, 5, 1) and days[-1] == dt.date(2026, 6, 30)
    assert len(days) == 61
    # A tree that reads no score: the day and the Accounts page's comparison day.
    project = Project.load(build(tmp_path / "scores"))
    assert dashboard_days(project, dt.date(2026, 6, 30)) == [dt.date(2026, 5, 31), AS_OF]
    june = dt.date(2026, 6, 1)
    assert dashboard_days(project, june) == [dt.date(2026, 5, 31), june]


def test_an_import_into_a_tree_reading_no_score_computes_two_days(tmp_path: Path) -> None:
    folder = build(tmp_path)
    (folder / "meetings.yaml").write_text(MAPPING, encoding="utf-8")
    project = Project.load(folder)
    today = project.today()
    before = dashboard_days(project)
    assert today in before and len(before) == 2
    csv = folder / "meetings.csv"
    csv.write_text(f"id,at,kind,account\nN1,{today} 09:00,meeting,GAMMA\n", encoding="utf-8")
    _cli("import", str(csv), "-m", str(folder / "meetings.yaml"), "-p", str(folder))
    project = Project.load(folder)
    with project.engine() as engine:
        store = engine.abm_scores
        rows = store._load()  # the file as the command left it: only those days
        assert rows is not None
        assert sorted(set(rows.column("day").to_pylist())) == before
        fresh = daily_scores(engine, project.tree.abm, before, *store.list_rows())
    assert _cols(rows) == _cols(fresh)
    gamma = [r for r in _cols(rows) if r["account_id"] == "GAMMA" and r["day"] == today]
    assert gamma[0]["engagement"] == 10.0  # the new meeting counts today


def test_a_write_to_a_project_without_abm_loads_no_scoring(tmp_path: Path) -> None:
    # Asking whether there are scores to refresh must not cost the scoring models.
    import subprocess
    import sys

    (tmp_path / "kpitree.yaml").write_text("name: 売上計画\nnodes: {}\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kpitree.cli.commands_data import _refresh_scores\n"
        f"_refresh_scores(Path({str(tmp_path)!r}))\n"
        "print(sorted(m for m in ('kpitree.abm.scoring', 'kpitree.definition.spec_abm')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def _kept_days(folder: Path) -> set[dt.date]:
    project = Project.load(folder)
    with project.engine() as engine:
        rows = engine.abm_scores._load()  # the file as the last command left it
    assert rows is not None
    return set(rows.column("day").to_pylist())


def test_a_write_to_tables_the_scores_do_not_read_keeps_the_days(tmp_path: Path) -> None:
    # The scores read activities, leads and their stages: won deals change none of them.
    folder = build(tmp_path)
    project = Project.load(folder)
    extra = dt.date(2026, 4, 15)  # a day no write computes
    with project.engine() as engine:
        engine.abm_scores.rows([extra, *dashboard_days(project)])
    assert extra in _kept_days(folder)
    day = project.today().strftime("%m/%d/%Y")
    won = folder / "won.csv"
    won.write_text(
        "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner\n"
        f"W1,won,{day},{day},1000000,Closed Won,rep\n",
        encoding="utf-8",
    )
    _cli("import", str(won), "-m", "salesforce-opportunities", "-p", str(folder))
    assert extra in _kept_days(folder)  # taken over, not computed again
    assert len(list((folder / ".kpitree" / "cache" / "abm").glob("daily-*.parquet"))) == 1
    _check_fresh(folder)

    # New activities are read by the scores: the days are computed again.
    (folder / "meetings.yaml").write_text(MAPPING, encoding="utf-8")
    csv = folder / "meetings.csv"
    csv.write_text(f"id,at,kind,account\nN1,{project.today()} 09:00,meeting,GAMMA\n")
    _cli("import", str(csv), "-m", str(folder / "meetings.yaml"), "-p", str(folder))
    assert extra not in _kept_days(folder)
    _check_fresh(folder)


def test_a_file_written_by_another_tool_is_scored_again(tmp_path: Path) -> None:
    import duckdb

    folder = build(tmp_path)
    project = Project.load(folder)
    extra = dt.date(2026, 4, 15)
    with project.engine() as engine:
        engine.abm_scores.rows([extra, *dashboard_days(project)])
    # Another tool changes an account without kpitree's table versions moving.
    con = duckdb.connect(str(folder / ".kpitree" / "warehouse.duckdb"))
    con.execute("UPDATE accounts SET employees = 5000 WHERE account_id = 'GAMMA'")
    con.close()
    project = Project.load(folder)
    with project.engine() as engine:
        store = engine.abm_scores
        assert store._load() is None  # a new store: nothing of the old one
        rows = store.rows([project.today()])
        kept = store._load()
    gamma = [r for r in _cols(rows) if r["account_id"] == "GAMMA"]
    assert gamma[0]["score"] >= 30  # its new size counts
    assert kept is not None and set(kept.column("day").to_pylist()) == {project.today()}
