"""Importing again a file that was the last thing imported, with the same
mapping, says "nothing changed", exits 0 and writes nothing (the warehouse file
is not even opened for writing); a changed file, another mapping, or a write in
between imports as usual."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main
from kpitree.data.warehouse import Warehouse

MAPPING = """\
mapping: 1
tables:
  leads:
    lead_id: ID
    created_at: Created
    channel: Channel
"""
LEADS = "ID,Created,Channel\nL1,2026/01/07,web\nL2,2026/01/08,event\n"
DEALS_MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: ID
    created_at: Created
    amount: Amount
    stage: Stage
    status: {column: Stage, map: {won: won}, else: open}
"""
DEALS = "ID,Created,Amount,Stage\nD1,2026/01/07,100,open\n"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out if code == 0 else out.out + out.err


def _import(capsys: pytest.CaptureFixture[str], folder: Path, *args: str) -> dict[str, Any]:
    code, out = _run(capsys, "import", *args, "--project", str(folder), "--json")
    assert code == 0, out
    result: dict[str, Any] = json.loads(out)
    return result


def _stamp(folder: Path) -> list[tuple[str, int, int]]:
    """Every file of the project folder with its size and modification time."""
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    )


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KPITREE_LANG", "en")
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "leads.csv").write_text(LEADS, encoding="utf-8")
    return project


def test_the_same_file_again_writes_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, mapping = str(folder.parent / "leads.csv"), str(folder.parent / "m.yaml")
    first = _import(capsys, folder, csv, "--mapping", mapping)
    assert first["imports"][0]["inserted"] == 2
    before = _stamp(folder)
    again = _import(capsys, folder, csv, "--mapping", mapping)
    assert again["imports"] == []
    assert again["unchanged"] == [
        {"file": csv, "sha256": first["imports"][0]["sha256"], "import_id": 1}
    ]
    assert _stamp(folder) == before
    code, out = _run(capsys, "import", csv, "--mapping", mapping, "--project", str(folder))
    assert code == 0 and "import 1:" in out and "nothing changed" in out
    assert _stamp(folder) == before
    assert [r.import_id for r in Warehouse(folder / ".kpitree" / "warehouse.duckdb").imports()] == [
        1
    ]


def test_a_changed_file_or_another_mapping_imports_as_usual(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, mapping = folder.parent / "leads.csv", folder.parent / "m.yaml"
    _import(capsys, folder, str(csv), "--mapping", str(mapping))
    csv.write_text(LEADS + "L3,2026/01/09,web\n", encoding="utf-8")
    changed = _import(capsys, folder, str(csv), "--mapping", str(mapping))
    assert [(i["inserted"], i["unchanged"]) for i in changed["imports"]] == [(1, 2)]
    # The same file with another mapping (a new rule) is read again.
    mapping.write_text(MAPPING + "    region: Channel\n", encoding="utf-8")
    remapped = _import(capsys, folder, str(csv), "--mapping", str(mapping))
    assert [i["updated"] for i in remapped["imports"]] == [3]
    assert _import(capsys, folder, str(csv), "--mapping", str(mapping))["imports"] == []


def test_a_write_in_between_or_an_undo_reads_the_file_again(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, mapping = str(folder.parent / "leads.csv"), str(folder.parent / "m.yaml")
    deals, deals_mapping = folder.parent / "deals.csv", folder.parent / "d.yaml"
    deals.write_text(DEALS, encoding="utf-8")
    deals_mapping.write_text(DEALS_MAPPING, encoding="utf-8")
    _import(capsys, folder, csv, "--mapping", mapping)
    _import(capsys, folder, str(deals), "--mapping", str(deals_mapping))
    # Not the newest write any more: read and compared (every row unchanged).
    again = _import(capsys, folder, csv, "--mapping", mapping)
    assert [(i["import_id"], i["unchanged"]) for i in again["imports"]] == [(3, 2)]
    # Undoing the first import deletes its rows: the file brings them back.
    code, _ = _run(capsys, "imports", "--project", str(folder), "undo", "3")
    assert code == 0
    code, _ = _run(capsys, "imports", "--project", str(folder), "undo", "1")
    assert code == 0
    back = _import(capsys, folder, csv, "--mapping", mapping)
    assert [i["inserted"] for i in back["imports"]] == [2]
