"""An open page whose refresh fails, in a real Chromium against a real
``kpitree serve``: new data arrives while ``kpitree.yaml`` is broken (the
server answers the page's request with an error), then the server stops (it
cannot be reached), then it starts again with the definition mended. The page
keeps its last figures, dimmed, says since when they are not updated, what
failed and what to do (in Japanese, the browser's language), retries by itself,
and once a refresh succeeds shows the new figures without the notice and
without a reload."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from web.conftest import WAIT_MS, PageErrors, _start
from web.updating_data import status_actual, won_deal_held

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIGURE = '[data-node-id="won_deals"] [data-field="actual"]'
STALE = '[data-testid="stale"]'


def _code(page: Any, code: str) -> None:
    page.wait_for_function(
        "code => document.getElementById('kt-stale').dataset.code === code",
        arg=code,
        timeout=WAIT_MS,
    )


def test_a_failed_refresh_keeps_the_figures_marked_retries_and_recovers(
    demo_copy: Path, page: Any, page_errors: PageErrors, start_server: Callable[..., str]
) -> None:
    # The browser logs each failed request (the page's and its event stream's);
    # htmx logs the error events and the status of each error answer.
    page_errors.allow(
        r"Failed to load resource|ERR_CONNECTION_REFUSED|Response Status Error Code"
        r"|htmx:(responseError|sendError|afterRequest)"
    )
    first = _start(demo_copy)
    try:
        page.goto(first.url + "/")
        before = page.locator(FIGURE).inner_text().strip()
        assert page.locator(STALE).is_hidden()
        page.evaluate("window.__notReloaded = true")

        # A definition broken while the page is open, then new data: the page's
        # refresh is answered with the definition's error.
        definition = demo_copy / "kpitree.yaml"
        good = definition.read_text(encoding="utf-8")
        definition.write_text(good + "\nnodes: [unclosed\n", encoding="utf-8")
        with won_deal_held(demo_copy):
            pass
        stale = page.locator(STALE)
        stale.wait_for(state="visible", timeout=WAIT_MS)
        _code(page, "KT135")
        shown = stale.inner_text()
        assert "このページの数値は" in shown and "から更新されていません" in shown
        assert "kpitree check" in shown and "KT135 · KT0" in shown
        assert "Traceback" not in shown and str(demo_copy) not in shown
        retry = page.locator('[data-testid="stale-retry"]').inner_text()
        assert "秒後に自動で再試行します" in retry or retry == "再試行しています…"
        # The last figures stay, dimmed; no "updated" banner, no bare "HTTP 400" toast.
        assert page.locator(FIGURE).inner_text().strip() == before
        dimmed = "getComputedStyle(document.getElementById('kt-page')).opacity"
        assert float(page.evaluate(dimmed)) < 1
        assert page.locator("#kt-live").is_hidden() and page.locator("#kt-toast").is_hidden()

        # The server stops: the next retry cannot reach it, and the page says so.
        first.stop()
        _code(page, "KT131")
        assert "サーバーに接続できません" in stale.inner_text()
        assert page.locator(FIGURE).inner_text().strip() == before
    finally:
        first.stop()

    # Back on the same address with the definition mended: the page recovers by itself.
    definition.write_text(good, encoding="utf-8")
    start_server(demo_copy, "--port", str(urlsplit(first.url).port))
    expected = int(before.replace(",", "")) + 1
    stale.wait_for(state="hidden", timeout=WAIT_MS)
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
        arg=[FIGURE, f"{expected:,}"],
        timeout=WAIT_MS,
    )
    assert float(page.evaluate(dimmed)) == 1
    assert status_actual(demo_copy, "won_deals") == expected
    assert page.evaluate("window.__notReloaded") is True
