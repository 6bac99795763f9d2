"""Actions in a real Chromium against a real ``kpitree serve``: an action
added with the Node page's form is listed on that page with its progress, and
the KPI validity page opens from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_an_action_added_on_the_node_page_is_listed(
    page: Any, start_server: Any, demo_copy: Path
) -> None:
    base = start_server(demo_copy)
    page.goto(f"{base}/nodes/opportunity_rate?lang=ja")
    form = page.locator('[data-testid="action-form"]')
    form.locator('input[name="description"]').fill("架電スクリプトの改善")
    form.locator('input[name="owner"]').fill("IS 田中")
    form.locator('input[name="expected_effect"]').fill("+3pt")
    form.locator('input[name="due"]').fill("2099-03-31")
    form.locator('button[type="submit"]').click()
    row = page.locator('[data-testid="actions-table"] tr[data-action="1"]')
    row.wait_for(timeout=60_000)
    assert "架電スクリプトの改善" in row.inner_text()
    assert row.get_attribute("data-state") in ("in_progress", "not_started")
    page.locator('[data-testid="validity-link"]').click()
    page.locator('[data-testid="validity"]').wait_for(timeout=120_000)
    assert page.locator('[data-testid="validity"] tbody tr').count() >= 1
