"""The Actions page in a real Chromium against a real ``kpitree serve``: a
review pack filled in the meeting (XLSX) is uploaded with the page's form and
its actions are listed; the page does not scroll sideways at 390 px."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
]


def _filled_pack(project_path: Path, rows: list[list[str]]) -> bytes:
    """The project's review pack (XLSX) with ``rows`` typed into the blank
    rows of its next-actions table."""
    from openpyxl import load_workbook

    from kpitree.project import Project
    from kpitree.reports import build_report, render

    book = load_workbook(io.BytesIO(render(build_report(Project.load(project_path)), "xlsx")))
    sheet = next(ws for ws in book.worksheets if ws.title in ("ネクストアクション", "Next actions"))
    row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "No.") + 1
    while sheet.cell(row, 2).value:
        row += 1
    for values in rows:
        for column, value in enumerate(values, start=1):
            sheet.cell(row, column).value = value
        row += 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_filled_pack_uploaded_on_the_actions_page_is_listed(
    page: Any, start_server: Any, demo_copy: Path, tmp_path: Path
) -> None:
    pack = tmp_path / "会議.xlsx"
    pack.write_bytes(
        _filled_pack(
            demo_copy,
            [
                ["", "opportunity_rate", "", "IS 田中", "架電スクリプトの改善", "+3pt", "2099-03"],
                ["", "leads", "", "web", "LP 改善", "+10%", "2099-04"],
            ],
        )
    )
    base = start_server(demo_copy)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{base}/actions?lang=ja")
    page.locator('[data-testid="actions-empty"]').wait_for()
    page.locator('[data-testid="import-file"]').set_input_files(str(pack))
    page.locator('[data-testid="import-submit"]').click()
    page.locator('[data-testid="import-result"]').wait_for(timeout=120_000)
    rows = page.locator('[data-testid="open-table"] tr[data-testid="action-row"]')
    assert rows.count() == 2
    listed = rows.all_inner_texts()
    assert any("架電スクリプトの改善" in r and "IS 田中" in r for r in listed), listed
    assert any("LP 改善" in r for r in listed), listed
    for lang in ("ja", "en"):
        page.goto(f"{base}/actions?lang={lang}")
        page.locator('[data-testid="open-table"]').wait_for()
        over = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert over <= 0, (lang, over)
