"""The Plan page's re-plan from actuals in a real Chromium: the link switches
to it, the closed months are marked as actuals, an edited assumption keeps the
re-plan mode, and the capacity sentence is shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_replan_from_actuals_on_the_plan_page(
    start_server: Callable[..., str], demo_copy: Path, page: Any
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/plan?lang=ja", timeout=120_000)
    page.locator('[data-testid="capacity"]').wait_for(timeout=120_000)
    # The re-plan reads the status of every past month: on a busy machine the
    # navigation may take longer than a click waits for.
    page.locator('[data-testid="replan-link"]').click(no_wait_after=True)
    page.locator('[data-testid="replan"]').wait_for(timeout=120_000)
    assert "from=actuals" in page.url
    assert page.locator("th[data-closed=true]").count() >= 1
    assert page.locator('[data-testid="landing-summary"]').inner_text().startswith("売上は")
    win_rate = page.locator('[data-testid="input-win_rate"]')
    base = float(str(win_rate.get_attribute("data-base")))
    win_rate.fill(str(round(base * 1.5, 4)))
    win_rate.dispatch_event("change")
    page.locator('tr.kt-changed[data-plan-node="win_rate"]').wait_for(timeout=120_000)
    assert "from=actuals" in page.url
    page.locator('[data-testid="replan"]').wait_for()
