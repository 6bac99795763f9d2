"""The charts in a real Chromium: the period still running is marked (dashed
and lighter, with a word) on the trends, the funnel and the department trend
charts; a trend shows its scale (lowest, highest, last value) in words when
hovered or focused, not by colour alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from web.conftest import SCREENSHOTS, WAIT_MS, screenshot

pytestmark = pytest.mark.browser

_RUNNING_LABEL = """() => [...document.querySelectorAll(
  '[data-testid="department-trends"] .kt-chart svg text')]
  .some(t => t.textContent.includes('途中'))"""


def test_trends_show_their_scale_and_the_running_period(page: Any, live_server: str) -> None:
    scale = httpx.get(f"{live_server}/api/tree", params={"lang": "ja"}, timeout=120).json()
    expected = scale["nodes"]["leads"]["trend"]["scale"]
    page.goto(f"{live_server}/?lang=ja")
    spark = page.locator('[data-node-id="leads"] [data-testid="spark"]')
    spark.wait_for()
    # The running month: its segment dashed and lighter, as chartstyle says.
    running = spark.locator('[data-testid="spark-running"]')
    assert running.count() == 1
    assert running.get_attribute("stroke-dasharray") == "2 2"
    label = spark.locator('[data-testid="spark-scale"]')
    assert not label.is_visible()
    spark.hover()
    label.wait_for(state="visible", timeout=WAIT_MS)
    text = label.inner_text()
    for word, value in (
        ("最小", expected["min"]),
        ("最大", expected["max"]),
        ("最新", expected["last"]),
    ):
        assert f"{word} {value}" in text, text
    assert "途中" in text
    screenshot(page, SCREENSHOTS / "charts-spark-scale.png")
    # A keyboard user gets the same words: focus shows them, and they are the label.
    page.mouse.move(0, 0)
    label.wait_for(state="hidden", timeout=WAIT_MS)
    spark.focus()
    label.wait_for(state="visible", timeout=WAIT_MS)
    assert f"最大 {expected['max']}" in (spark.get_attribute("aria-label") or "")


def test_the_funnel_and_department_trends_mark_the_running_period(
    page: Any, live_server: str
) -> None:
    page.goto(f"{live_server}/funnel?lang=ja")
    partial = page.locator('[data-testid="funnel-period"] .kt-funnel-partial')
    partial.wait_for(timeout=WAIT_MS)
    assert "途中" in (partial.text_content() or "")
    bars = page.locator('[data-testid="funnel-period"] .kt-funnel-bar')
    assert bars.count() == 4
    widths = [float(b.get_attribute("width")) for b in bars.all()]
    values = [float(b.get_attribute("data-value")) for b in bars.all()]
    assert widths.index(max(widths)) == values.index(max(values))
    screenshot(page, SCREENSHOTS / "charts-funnel.png")
    page.goto(f"{live_server}/departments/field_sales?lang=ja")
    page.locator('[data-testid="department-trends"] .kt-chart svg').first.wait_for(timeout=WAIT_MS)
    # ECharts writes the running period's axis label with the word.
    page.wait_for_function(_RUNNING_LABEL, timeout=WAIT_MS)
    screenshot(page, SCREENSHOTS / "charts-department-trends.png")
