"""The KPI definitions book, generated from the definition: every node with
its formula in symbols and words, data definition, targets and links, in
every format; labels are text everywhere (escaped, never a formula)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest


def _hostile(planted: Path) -> None:
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace("{ja: メール数, en: E-mails}", "'=1+1 <img src=x>'", 1), "utf-8")


def test_the_book_in_json_and_markdown(planted: Path, cli: Any, tmp_path: Path) -> None:
    entries = {e["id"]: e for e in cli("book", planted, "--json").json()}
    assert next(iter(entries)) == "mqls"  # the KGI first
    assert entries["mqls"]["formula"] == "mqls = leads * mql_rate"
    assert entries["mqls"]["formula_words"] == "MQLs = Leads × Lead to MQL rate"
    assert "stage:mql" in entries["mqls"]["metric"]
    assert entries["leads"]["drivers"] == "Calls, E-mails"
    assert entries["calls"]["target"] == "600 a month"
    assert entries["mql_rate"]["source"] == "an assumption of the plan"
    out = tmp_path / "book.md"
    result = cli("book", planted, "-f", "md", "-o", out, lang="ja")
    assert result.code == 0, result.err
    text = out.read_text(encoding="utf-8")
    assert "## MQL数 (mqls)" in text and "計算式（言葉）: MQL数 = リード獲得数 × MQL化率" in text


@pytest.mark.parametrize("fmt", ["html", "xlsx"])
def test_labels_stay_text(planted: Path, cli: Any, tmp_path: Path, fmt: str) -> None:
    _hostile(planted)
    out = tmp_path / f"book.{fmt}"
    assert cli("book", planted, "-f", fmt, "-o", out).code == 0
    if fmt == "html":
        page = out.read_text(encoding="utf-8")
        assert "<img" not in page and "&lt;img src=x&gt;" in page
        return
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(out.read_bytes())).active
    names = [sheet.cell(row=r, column=2).value for r in range(4, sheet.max_row + 1)]
    assert "=1+1 <img src=x>" in names  # a text cell, shown as written
    cell = next(
        sheet.cell(row=r, column=2)
        for r in range(4, sheet.max_row + 1)
        if sheet.cell(row=r, column=2).value == "=1+1 <img src=x>"
    )
    assert cell.data_type == "s"


def test_an_unknown_format_is_refused(planted: Path, cli: Any) -> None:
    result = cli("book", planted, "-f", "docx")
    assert result.code == 1 and "Unknown format 'docx'" in result.err
