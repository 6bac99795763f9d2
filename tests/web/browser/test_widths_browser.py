"""No page scrolls sideways, on a phone (390 px) or a wide screen (1,440 px),
in Japanese or in English; on a phone the KPI tree is an outline whose
branches fold. Screenshots of every page at both widths are saved."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from web.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser

PAGES = (
    "/",
    "/nodes/revenue",
    "/nodes/won_deals",
    "/nodes/win_rate?by=channel",
    "/nodes/leads?drill=inside_sales",
    "/funnel",
    "/departments",
    "/departments/field_sales",
    "/departments/customer_success",
    "/plan",
    "/plan?from=actuals",
    "/data",
    "/alerts",
    "/sla",
    "/sla/cases?period=last-month",
    "/settings",
    "/records/leads",
    "/records/new_revenue?period=FY2026-Q2",
    "/records/mql_rate?view=cohort&period=FY2026-Q2",
    "/review/validity",
    "/review/scorecards",
    "/actions",
    "/book",
    "/accounts",
    "/tv",
    "/tv/departments/field_sales",
    "/login",
)


_CULPRITS = """() => {
  const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('main *')]
    .filter(e => e.getBoundingClientRect().right > w)
    .slice(0, 4)
    .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
}"""


def _overflow(page: Any) -> int:
    """How many pixels the page is wider than the window."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


@pytest.mark.parametrize("width", [390, 1440])
def test_no_page_scrolls_sideways(page: Any, live_server: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    wide = []
    # One account's page too (its id holds characters an address quotes).
    accounts = httpx.get(f"{live_server}/api/accounts", timeout=120).json()
    first = accounts["accounts"][0]["account_id"]
    pages = (*PAGES, f"/accounts/{quote(first, safe='')}")
    for lang in ("ja", "en"):
        for path in pages:
            url = f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}"
            page.goto(url)
            page.locator("main").first.wait_for()
            name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "tree"
            screenshot(page, SCREENSHOTS / f"width-{width}-{lang}-{name[:60]}.png")
            if _overflow(page) > 0:
                wide.append((lang, path, _overflow(page), page.evaluate(_CULPRITS)))
    assert not wide, f"pages wider than {width} px: {wide}"


def test_the_tree_is_a_folding_outline_on_a_phone(page: Any, live_server: str) -> None:
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server}/?lang=ja")
    kgi = page.locator(".kt-tree > ul > li.kt-branch")
    toggle = kgi.locator(':scope > [data-testid="outline-toggle"]')
    toggle.wait_for()
    below = kgi.locator(":scope > ul")
    assert below.is_visible()
    # An outline: every box starts at or right of its parent, none beside it.
    boxes = page.locator('[data-testid="node-box"]')
    lefts = [boxes.nth(i).bounding_box()["x"] for i in range(boxes.count())]
    assert all(0 <= x < 390 for x in lefts)
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "false" and below.is_hidden()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true" and below.is_visible()
    # On a wide screen the tree is the diagram, without folds.
    page.set_viewport_size({"width": 1440, "height": 900})
    assert toggle.is_hidden()
