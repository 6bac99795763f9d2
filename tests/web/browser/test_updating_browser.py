"""An open page in a real Chromium while new data's pages compute (real
``kpitree serve``): it fetches itself on ``data-changed`` and shows the previous
figures with the banner saying they are the data of HH:MM; once the new data is
computed it shows the new figures, without the banner and without a reload."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from web.conftest import SCREENSHOTS, WAIT_MS, screenshot
from web.updating_data import status_actual, won_deal_held

pytestmark = pytest.mark.browser

FIGURE = '[data-node-id="won_deals"] [data-field="actual"]'
BANNER = '[data-testid="data-updating"]'


@pytest.mark.slow
def test_an_open_page_shows_the_previous_figures_marked_then_the_new(
    start_server: Callable[..., str], demo_copy: Path, page: Any
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/")
    before = page.locator(FIGURE).inner_text().strip()
    assert page.locator(BANNER).count() == 0
    page.evaluate("window.__notReloaded = true")
    with won_deal_held(demo_copy):
        # The server sees new data but cannot read it yet: the page it sends is
        # the previous one, marked.
        page.locator(BANNER).wait_for(state="visible", timeout=WAIT_MS)
        banner = page.locator(BANNER).inner_text()
        assert banner.startswith("データ更新中: 表示は ") and "時点のデータです" in banner
        assert page.locator(FIGURE).inner_text().strip() == before
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        screenshot(page, SCREENSHOTS / "tree-updating-banner.png")
    expected = int(before.replace(",", "")) + 1
    page.locator(BANNER).wait_for(state="detached", timeout=WAIT_MS)
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
        arg=[FIGURE, f"{expected:,}"],
        timeout=WAIT_MS,
    )
    assert status_actual(demo_copy, "won_deals") == expected
    assert page.evaluate("window.__notReloaded") is True  # updated in place
