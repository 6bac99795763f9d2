"""Forms are sized to what they take: at 1,440 px no field of the Settings page
(users, shared links, language) or of the Data page's upload is wider than
40rem, and at 390 px the Settings page does not scroll sideways."""

from __future__ import annotations

from typing import Any

import pytest

from web.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser

_WIDEST = """() => [...document.querySelectorAll('main input, main select, main textarea')]
  .filter(e => e.type !== 'hidden' && e.getClientRects().length)
  .map(e => [e.name || e.type, Math.round(e.getBoundingClientRect().width)])"""


@pytest.mark.parametrize("path", ["/settings", "/data"])
def test_fields_are_sized_to_their_content(page: Any, live_server: str, path: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    rem = 16
    for lang in ("ja", "en"):
        page.goto(f"{live_server}{path}?lang={lang}")
        page.locator("main").first.wait_for()
        fields = page.evaluate(_WIDEST)
        assert len(fields) >= 2, fields
        wide = [(name, width) for name, width in fields if width > 40 * rem]
        assert not wide, (lang, wide)
        screenshot(page, SCREENSHOTS / f"forms-1440-{lang}{path.replace('/', '-')}.png")


def test_settings_fit_a_phone(page: Any, live_server: str) -> None:
    page.set_viewport_size({"width": 390, "height": 900})
    for lang in ("ja", "en"):
        page.goto(f"{live_server}/settings?lang={lang}")
        page.locator("main").first.wait_for()
        over = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        screenshot(page, SCREENSHOTS / f"forms-390-{lang}-settings.png")
        assert over <= 0, (lang, over)
