"""Downloads clicked in a real Chromium from a real ``kpitree serve``: with a
node labelled as a formula and reps named as formulas (imported by ``kpitree
import``), the files the browser saves hold them as inert text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostile import (
    FORMULA_LABEL,
    FORMULA_REP,
    assert_inert_csv,
    assert_inert_xlsx,
    hostile_demo,
    xlsx_values,
)

pytestmark = pytest.mark.browser


def _save(page: Any, selector: str, target: Path) -> bytes:
    with page.expect_download(timeout=120_000) as info:
        page.locator(selector).first.click()
    info.value.save_as(target)
    return target.read_bytes()


def test_downloaded_csv_and_xlsx_have_no_live_formula(
    page: Any, start_server: Callable[..., str], demo_project: Path, tmp_path: Path
) -> None:
    url = start_server(hostile_demo(demo_project, tmp_path / "demo"))
    page.goto(url + "/nodes/won_deals?by=rep&lang=en", timeout=120_000)
    page.locator('[data-testid="breakdown"]').wait_for(timeout=120_000)

    rows = assert_inert_csv(_save(page, '[data-download="breakdown-csv"]', tmp_path / "b.csv"))
    assert rows[[r[0] for r in rows].index("'" + FORMULA_REP)][:2] == ["'" + FORMULA_REP, "1"]
    book = assert_inert_xlsx(_save(page, '[data-download="series-xlsx"]', tmp_path / "s.xlsx"))
    assert book.active["B2"].data_type == "n"  # the actuals stay numbers
    book = assert_inert_xlsx(_save(page, '[data-download="breakdown-xlsx"]', tmp_path / "b.xlsx"))
    assert FORMULA_REP in xlsx_values(book)

    page.goto(url + "/?lang=en", timeout=120_000)
    page.locator("details.kt-card summary").first.click()  # the table under the tree
    tree = assert_inert_xlsx(_save(page, '[data-download="nodes-xlsx"]', tmp_path / "t.xlsx"))
    assert FORMULA_LABEL in xlsx_values(tree)

    page.goto(url + "/data?lang=en", timeout=120_000)
    history = assert_inert_csv(_save(page, '[data-testid="history-csv"]', tmp_path / "h.csv"))
    assert "'@opportunities.csv" in {cell for row in history for cell in row}
