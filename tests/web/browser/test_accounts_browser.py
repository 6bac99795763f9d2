"""The Accounts and Account pages in a real Chromium against a real
``kpitree serve`` on the small ABM project of ``tests/abm/views.py``: the
table, the filters through the page's own form, the link to an account and
its breakdown, and imported names shown as text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from abm.views import build
from web.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser


def _rows(page: Any) -> list[str | None]:
    rows = page.locator('[data-testid="accounts"] tbody tr[data-account]')
    return [rows.nth(i).get_attribute("data-account") for i in range(rows.count())]


def test_accounts_and_account_pages(
    page: Any, tmp_path: Path, start_server: Callable[..., str]
) -> None:
    url = start_server(build(tmp_path))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url + "/accounts")
    assert page.locator('[data-nav="accounts"]').get_attribute("aria-current") == "page"
    assert _rows(page) == ["ACME", "BETA", "GAMMA"]
    # The imported name with markup is text, not markup.
    assert page.locator('tr[data-account="BETA"] a').inner_text() == "<b>ベータ</b>"
    assert page.locator("b", has_text="ベータ").count() == 0
    assert page.locator('[data-tier="B"] strong').first.inner_text() == "1"
    # Filter to target accounts through the page's own form.
    page.locator('form[action="/accounts"] select[name="target"]').select_option("yes")
    page.locator('form[action="/accounts"] button[type="submit"]').click()
    page.wait_for_url(re.compile(r"target=yes"))
    assert _rows(page) == ["BETA"]
    csv_link = page.locator('[data-testid="download-csv"]').get_attribute("href")
    assert csv_link is not None and "target=yes" in csv_link and "format=csv" in csv_link
    # Back to all, open ACME.
    page.goto(url + "/accounts")
    page.locator('tr[data-account="ACME"] a').click()
    page.wait_for_url(re.compile(r"/accounts/ACME$"))
    assert page.locator('[data-testid="account-summary"] [data-field="tier"]').inner_text() == "B"
    size = page.locator('[data-testid="breakdown"] tr[data-criterion="size"] [data-field="points"]')
    assert size.inner_text() == "30.0"
    assert page.locator('[data-testid="deals"] tr[data-deal]').count() == 2
    assert page.locator('[data-testid="timeline"] tbody tr[data-kind]').count() == 4
    assert dialogs == []
    assert screenshot(page, SCREENSHOTS / "account-page.png").stat().st_size > 5_000
