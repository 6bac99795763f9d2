"""``kpitree import``, ``kpitree imports`` and ``kpitree imports undo`` end to end:
real CSV and mapping files, a real warehouse file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main
from kpitree.data.warehouse import Warehouse, default_warehouse_path

from .warehouse_support import snapshot

MAPPING = """\
mapping: 1
name: test leads
tables:
  leads:
    lead_id: {column: ID}
    created_at: {column: Created}
    channel: {column: Source}
  lead_stage_history:
    lead_id: {column: ID}
    stages:
      mql: {column: MQL date}
"""

GOOD = "ID,Created,Source,MQL date\nL1,2026/01/07,web,2026/01/10\nL2,2026年1月8日,event,\n"
BAD = GOOD + "L3,not a date,web,\n"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding a mapping; commands run from inside it."""
    (tmp_path / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITREE_LANG", "en")
    return tmp_path


@pytest.fixture
def kpitree(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        assert code is None or isinstance(code, int)
        return Run(code or 0, captured.out, captured.err)

    return run


def _write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return name


def test_import_then_the_same_file_again(project: Path, kpitree: Any) -> None:
    f = _write(project, "leads.csv", GOOD)
    first = kpitree("import", f, "--mapping", "leads.yaml")
    assert first.code == 0, first.err
    assert first.out.splitlines() == [
        "import 1: leads.csv: 2 rows read, 0 rejected",
        "  leads: 2 inserted, 0 updated, 0 unchanged",
        "  lead_stage_history: 1 inserted, 0 updated, 0 unchanged",
    ]
    again = kpitree("import", f, "--mapping", "leads.yaml", "--json")
    assert again.code == 0, again.err
    # The newest import, same file, same mapping: nothing is read or written.
    assert again.json()["imports"] == []
    (same,) = again.json()["unchanged"]
    assert (same["import_id"], same["file"], len(same["sha256"])) == (1, "leads.csv", 64)
    # After another write, the file is read and every row compared.
    other = _write(project, "more.csv", GOOD.replace("L1", "L9"))
    assert kpitree("import", other, "--mapping", "leads.yaml").code == 0
    again = kpitree("import", f, "--mapping", "leads.yaml", "--json")
    assert again.code == 0, again.err
    (summary,) = again.json()["imports"]
    assert {k: summary[k] for k in ("import_id", "file", "mapping", "rows_read")} == {
        "import_id": 3,
        "file": "leads.csv",
        "mapping": "leads.yaml",
        "rows_read": 2,
    }
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert summary["rejected"] == 0
    assert len(summary["sha256"]) == 64


def test_a_bad_cell_is_located_and_nothing_is_written(project: Path, kpitree: Any) -> None:
    f = _write(project, "leads.csv", BAD)
    run = kpitree("import", f, "--mapping", "leads.yaml")
    assert run.code == 1
    lines = run.err.splitlines()
    assert lines[0].startswith("leads.csv:4:2: error: column 'Created', value 'not a date': ")
    assert "nothing was imported" in lines[-1]
    assert "Traceback" not in run.err
    wh = Warehouse(default_warehouse_path(project))
    assert wh.row_counts()["leads"] == 0
    assert [r.status for r in wh.imports()] == ["failed"]


def test_skip_invalid_imports_the_rest_and_writes_the_rejects(project: Path, kpitree: Any) -> None:
    f = _write(project, "leads.csv", BAD)
    run = kpitree("import", f, "--mapping", "leads.yaml", "--skip-invalid", "--json")
    assert run.code == 0, run.err
    (summary,) = run.json()["imports"]
    assert (summary["rows_read"], summary["rejected"], summary["inserted"]) == (3, 1, 3)
    rejects = project / summary["rejects_csv"]
    assert rejects == project / ".kpitree" / "rejects" / "import-1" / "leads.rejected.csv"
    assert rejects.read_text(encoding="utf-8-sig").splitlines() == [
        "ID,Created,Source,MQL date",
        "L3,not a date,web,",
    ]
    assert "not a date" in (project / summary["rejects_report"]).read_text(encoding="utf-8")


def test_imports_lists_and_undo_removes(project: Path, kpitree: Any) -> None:
    wh = Warehouse(default_warehouse_path(project))
    assert kpitree("imports").out.startswith("no imports yet")
    assert not wh.path.exists()  # listing does not create a warehouse

    kpitree("import", _write(project, "jan.csv", GOOD), "--mapping", "leads.yaml")
    after_jan = snapshot(wh)
    newer = GOOD.replace("L2,2026年1月8日,event,", "L2,2026年1月8日,ads,2026/01/20")
    kpitree("import", _write(project, "feb.csv", newer), "--mapping", "leads.yaml")

    listed = kpitree("imports", "--json").json()["imports"]
    assert [(i["import_id"], i["file"], i["status"]) for i in listed] == [
        (1, "jan.csv", "applied"),
        (2, "feb.csv", "applied"),
    ]
    assert (listed[1]["inserted"], listed[1]["updated"]) == (1, 1)
    text = kpitree("imports").out.splitlines()
    assert text[0].startswith("1  ") and "jan.csv" in text[0] and "applied" in text[0]

    refused = kpitree("imports", "undo", "1")
    assert refused.code == 1
    assert "undo import 2 first" in refused.err

    undone = kpitree("imports", "undo", "2", "--json")
    assert undone.code == 0, undone.err
    assert undone.json() == {"import_id": 2, "deleted": 1, "restored": 1}
    assert snapshot(wh) == after_jan
    assert kpitree("imports", "--json").json()["imports"][1]["status"] == "undone"


def test_project_option_points_at_another_folder(
    project: Path, kpitree: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other")
    f = _write(project, "leads.csv", GOOD)
    assert kpitree("import", f, "--mapping", "leads.yaml", "--project", str(other)).code == 0
    assert default_warehouse_path(other).exists()
    assert not default_warehouse_path(project).exists()
    assert kpitree("imports", "--project", str(other), "undo", "1").code == 0
    assert Warehouse(default_warehouse_path(other)).row_counts()["leads"] == 0


def test_messages_in_japanese(project: Path, kpitree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPITREE_LANG", "ja")
    f = _write(project, "leads.csv", GOOD)
    assert kpitree("import", f, "--mapping", "leads.yaml").out.startswith(
        "インポート 1: leads.csv: 読み込み 2 行"
    )
    assert "適用済み" in kpitree("imports").out
    assert "取り消しました" in kpitree("imports", "undo", "1").out


# ----------------------------------------------------------- data.warehouse in kpitree.yaml


def test_every_command_uses_the_warehouse_the_project_names(
    project: Path, kpitree: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "kpitree.yaml").write_text(
        "kpitree: 1\nname: x\ndata:\n  warehouse: store/crm.duckdb\nnodes: {}\n", encoding="utf-8"
    )
    configured = project / "store" / "crm.duckdb"
    assert kpitree("imports").out.startswith("no imports yet")
    assert not configured.exists()

    run = kpitree("import", _write(project, "leads.csv", GOOD), "--mapping", "leads.yaml")
    assert run.code == 0, run.err
    assert configured.is_file()
    assert not default_warehouse_path(project).exists()
    assert Warehouse(configured).row_counts()["leads"] == 2

    listed = kpitree("imports", "--json").json()["imports"]
    assert [(i["import_id"], i["file"]) for i in listed] == [(1, "leads.csv")]
    # From another folder, with --project.
    other = project / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    undone = kpitree("imports", "undo", "1", "--project", str(project), "--json")
    assert undone.code == 0, undone.err
    assert Warehouse(configured).row_counts()["leads"] == 0
    assert not default_warehouse_path(project).exists()


def test_a_database_url_without_transactions_is_refused_for_imports(
    project: Path, kpitree: Any
) -> None:
    (project / "kpitree.yaml").write_text(
        "kpitree: 1\nname: x\ndata:\n  warehouse: chdb:///srv/crm\nnodes: {}\n",
        encoding="utf-8",
    )
    run = kpitree("import", _write(project, "leads.csv", GOOD), "--mapping", "leads.yaml")
    assert run.code == 1
    assert "transaction across tables" in run.err and "Traceback" not in run.err


def test_warehouse_path_resolution(tmp_path: Path) -> None:
    from kpitree.data.warehouse import warehouse_path

    assert warehouse_path(tmp_path) == tmp_path / ".kpitree" / "warehouse.duckdb"
    assert warehouse_path(tmp_path, " ") == warehouse_path(tmp_path)
    assert warehouse_path(tmp_path, "data/w.duckdb") == tmp_path / "data" / "w.duckdb"
    assert warehouse_path(tmp_path, "/srv/w.duckdb") == Path("/srv/w.duckdb")
    assert warehouse_path(tmp_path, "~/w.duckdb") == Path.home() / "w.duckdb"
    assert warehouse_path(tmp_path, "duckdb:///srv/w.duckdb") == Path("/srv/w.duckdb")
    assert warehouse_path(tmp_path, "duckdb://w.duckdb") == tmp_path / "w.duckdb"
