"""The Data page's preview in a real Chromium: a file of 175 rows is shown 25
rows a page, paged from the keyboard, with the "skip invalid rows" checkbox on
the same line as its text, and no sideways scrolling at 390 or 1,440 px."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from web.conftest import NAVIGATION_MS, SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser
IMPORT_MS = 3 * NAVIGATION_MS  # a preview runs in a child process (see the Detect tests)
GOOD, BAD = 120, 55

# The checkbox's box and the box of the first line of its label's text.
_BOXES = """() => {
  const box = document.querySelector('[data-testid="skip-invalid"]');
  const text = [...box.closest('label').childNodes]
    .find(n => n.nodeType === 3 && n.textContent.trim());
  const range = document.createRange();
  range.selectNodeContents(text);
  const line = range.getClientRects()[0];
  const own = box.getBoundingClientRect();
  return {box: [own.left, own.top, own.right, own.bottom],
          text: [line.left, line.top, line.right, line.bottom]};
}"""


def _upload(page: Any, tmp_path: Path) -> None:
    head = "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    rows = [
        f"G-{i:03d},Deal {i},11/05/2026,11/05/2026,{1000 * (i + 1)},Closed Won,rep-1"
        for i in range(GOOD)
    ]
    rows += [f"B-{i:03d},Bad {i},11/05/2026,11/05/2026,abc,Closed Won,rep-1" for i in range(BAD)]
    f = tmp_path / "deals.csv"
    f.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    page.set_input_files('[data-testid="upload-file"]', str(f))
    page.select_option('[data-testid="upload-mapping"]', "salesforce-opportunities")
    page.click('[data-testid="upload-preview"]')
    page.locator('[data-testid="preview-deals"]').wait_for(timeout=IMPORT_MS)


def _settled(page: Any) -> None:
    """Wait until htmx has swapped and settled the last answer: a link it swapped in
    follows its ``hx-get`` only once processed (before, Enter would follow the
    link's address as a plain navigation)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _overflow(page: Any) -> int:
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def test_the_preview_is_paged_from_the_keyboard(
    page: Any, demo_copy: Path, start_server: Callable[..., str], tmp_path: Path
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/data?lang=en")
    _upload(page, tmp_path)
    rows = page.locator('[data-testid="preview-deals"] tbody tr')
    assert rows.count() == 25
    assert page.locator('[data-testid="preview-errors"] tbody tr').count() == 25
    assert page.inner_text('[data-testid="preview-range-deals"]') == "Rows 1–25 of 120"
    assert rows.first.locator("td").first.inner_text() == "G-000"
    # "Next" from the keyboard: the next 25 rows, the focus stays on the link.
    after = page.locator('[data-testid="next-deals"]')
    after.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=preview-range-deals]')"
        ".textContent.includes('26–50')"
    )
    assert rows.first.locator("td").first.inner_text() == "G-025"
    page.wait_for_function("() => document.activeElement.id === 'kt-pg-deals-next'")
    # The page box takes a number: straight to the last page.
    page.fill('[data-testid="page-box-deals"]', "5")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=preview-range-deals]')"
        ".textContent.includes('101–120')"
    )
    assert rows.count() == GOOD - 100
    _settled(page)
    page.locator('[data-testid="prev-deals"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=preview-range-deals]')"
        ".textContent.includes('76–100')"
    )
    _settled(page)
    page.locator('[data-testid="next-deals"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=preview-range-deals]')"
        ".textContent.includes('101–120')"
    )
    # The last page has no "Next": the focus is on the pager, not lost.
    assert page.locator('[data-testid="next-deals"]').count() == 0
    # htmx settles the swapped part (and moves the focus) just after its text shows.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest('[data-pager]') !== null"
    )
    page.fill('[data-testid="page-box-errors"]', "3")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=preview-range-errors]')"
        ".textContent.includes('51–55')"
    )
    assert page.locator('[data-testid="preview-errors"] tbody tr').count() == BAD - 50
    # The rest of the preview has not moved.
    assert page.inner_text('[data-testid="preview-range-deals"]') == "Rows 101–120 of 120"


@pytest.mark.parametrize("width", [390, 1440])
def test_the_skip_checkbox_sits_beside_its_text_and_nothing_overflows(
    page: Any, demo_copy: Path, start_server: Callable[..., str], tmp_path: Path, width: int
) -> None:
    url = start_server(demo_copy)
    page.set_viewport_size({"width": width, "height": 900})
    for lang in ("ja", "en"):
        page.goto(url + f"/data?lang={lang}")
        _upload(page, tmp_path)
        boxes = page.evaluate(_BOXES)
        box, text = boxes["box"], boxes["text"]
        assert text[0] >= box[2], boxes  # the text starts right of the checkbox
        assert text[1] < box[3] and text[3] > box[1], boxes  # on the same line
        screenshot(page, SCREENSHOTS / f"data-preview-{width}-{lang}.png")
        assert _overflow(page) <= 0, (lang, _overflow(page))
        # Three parts of 25 rows (it was 8,238 px with every row of a file).
        tall = page.locator('[data-testid="preview"]').bounding_box()["height"]
        print(f"preview at {width} px ({lang}): {tall:.0f} px tall")
        assert tall < 6000


def test_the_pager_links_lead_to_pages_with_and_without_javascript(
    page: Any, browser: Any, demo_copy: Path, start_server: Callable[..., str], tmp_path: Path
) -> None:
    """A pager link is a link: opened in a new tab, or followed in a browser
    without JavaScript, it leads to a whole page of the preview's next rows (not
    to the bare part htmx swaps in), whose own links and page box page on."""
    url = start_server(demo_copy)
    page.goto(url + "/data?lang=en")
    _upload(page, tmp_path)
    href = page.locator('[data-testid="next-deals"]').get_attribute("href")
    assert href is not None and href.startswith("/data/preview/") and href.endswith("?page=2")
    errors_href = page.locator('[data-testid="next-errors"]').get_attribute("href")
    assert errors_href is not None

    tab = page.context.new_page()  # "open in a new tab"
    tab.goto(url + href)
    assert tab.inner_text('[data-testid="preview-range-deals"]') == "Rows 26–50 of 120"
    assert tab.locator(".kt-header nav").count() == 1  # the whole page, with its layout
    assert tab.locator('[data-testid="back-to-data"]').get_attribute("href") == "/data"
    tab.close()

    context = browser.new_context(java_script_enabled=False, locale="en-US")
    try:
        plain = context.new_page()
        plain.set_default_timeout(NAVIGATION_MS)
        plain.goto(url + href)
        range_ = '[data-testid="preview-range-deals"]'
        assert plain.inner_text(range_) == "Rows 26–50 of 120"
        plain.click('[data-testid="next-deals"]')
        plain.wait_for_url("**/tables/deals?page=3")
        assert plain.inner_text(range_) == "Rows 51–75 of 120"
        cells = plain.locator('[data-testid="preview-deals"] tbody tr td:first-child')
        assert cells.first.inner_text() == "G-050"
        plain.fill('[data-testid="page-box-deals"]', "5")
        plain.locator('[data-testid="pager-deals"] button[type="submit"]').click()
        plain.wait_for_url("**/tables/deals?page=5")
        assert plain.inner_text(range_) == "Rows 101–120 of 120"
        plain.click('[data-testid="prev-deals"]')
        plain.wait_for_url("**/tables/deals?page=4")
        assert plain.inner_text(range_) == "Rows 76–100 of 120"
        plain.goto(url + errors_href)
        assert plain.inner_text('[data-testid="preview-range-errors"]').startswith("Rows 26–50")
        assert plain.locator('[data-testid="preview-errors"] tbody tr').count() == 25
    finally:
        context.close()
