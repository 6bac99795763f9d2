"""The rejected-rows file of ``kpitree import --skip-invalid`` holds hostile text
as inert text: a spreadsheet opening it runs nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from hostile import FORMULA_REP, assert_inert_csv
from kpitree.cli import main

MAPPING = """\
mapping: 1
name: leads
tables:
  leads:
    lead_id: {column: ID}
    created_at: {column: Created}
    channel: {column: Source}
"""


def test_rejected_rows_file_neutralises_formulas_and_keeps_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITREE_LANG", "en")
    (tmp_path / "leads.yaml").write_text(MAPPING, encoding="utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(
        [
            ["ID", "Created", "Source"],
            ["L1", "2026/01/07", "web"],
            ["@L2", "=1+2 not a date", FORMULA_REP],
            ["-5", "-yesterday", "+web"],
        ]
    )
    (tmp_path / "leads.csv").write_text(out.getvalue(), encoding="utf-8")
    try:
        main(["import", "leads.csv", "--mapping", "leads.yaml", "--skip-invalid"])
    except SystemExit as exc:
        assert not exc.code
    (rejects,) = (tmp_path / ".kpitree" / "rejects").rglob("leads.rejected.csv")
    rows = assert_inert_csv(rejects.read_bytes())
    assert rows == [
        ["ID", "Created", "Source"],
        ["'@L2", "'=1+2 not a date", "'" + FORMULA_REP],
        ["-5", "'-yesterday", "'+web"],
    ]
