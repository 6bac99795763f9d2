"""The HTML review pack's next-actions table in a real Chromium: typed into,
saved as the browser shows it, and read back with ``kpitree actions import``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
]


def test_actions_typed_into_the_html_pack_are_imported(
    page: Any, demo_copy: Path, tmp_path: Path
) -> None:
    from kpitree.project import Project
    from kpitree.reports import build_report, render
    from kpitree.review.service import open_store
    from kpitree.review.sheet import import_sheet

    project = Project.load(demo_copy)
    report = build_report(project, lang="en")
    pack = tmp_path / "pack.html"
    pack.write_bytes(render(report, "html"))
    page.goto(pack.as_uri())
    rows = page.locator("table.actions tbody tr")
    blank = rows.nth(rows.count() - report.next_action_rows)
    cells = blank.locator("td")
    for index, text in [(1, "opportunity_rate"), (3, "IS 田中"), (4, "トーク改善 & <検証>"),
                        (5, "+3pt"), (6, "2099-03")]:  # fmt: skip
        cells.nth(index).click()
        page.keyboard.type(text)
    assert cells.nth(4).inner_text() == "トーク改善 & <検証>"
    saved = tmp_path / "saved.html"
    saved.write_text(page.content(), encoding="utf-8")  # the page as the browser shows it
    assert import_sheet(project, saved, "test") == {"created": [1], "updated": []}
    with open_store(project) as store:
        (action,) = store.list(status="open")
    assert (action.node, action.owner, action.description, action.due.isoformat()) == (
        "opportunity_rate", "IS 田中", "トーク改善 & <検証>", "2099-03-31",
    )  # fmt: skip
