"""The Data page's sources section in a real Chromium against a real ``kpitree
serve``: "Sync now" brings a kintone app's records, the section and the import
history update without a reload, and a second sync shows the deletions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.kintone import Domain, serve
from fakes.kintone_company import DealsApp
from web.test_syncs import KINTONE_ENV, _kintone_source, _project

pytestmark = pytest.mark.browser


@pytest.fixture
def kintone_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DealsApp, str]]:
    domain = Domain()
    deals = DealsApp(domain, deals=300)
    monkeypatch.setenv(KINTONE_ENV, deals.token)  # the server's environment
    with serve(domain) as url:
        yield deals, url


def test_sync_now_on_the_data_page(
    page: Any,
    kintone_url: tuple[DealsApp, str],
    tmp_path: Path,
    start_server: Callable[..., str],
) -> None:
    from playwright.sync_api import expect

    deals, url = kintone_url
    project = _project(tmp_path / "p", _kintone_source(url))
    server = start_server(project)
    page.goto(server + "/data")
    row = page.get_by_test_id("source-crm")
    expect(row.get_by_test_id("last-sync")).to_have_text("未実行")
    expect(page.locator("#kt-history [data-import-id]")).to_have_count(0)
    row.get_by_test_id("sync-crm").click()
    expect(row.get_by_test_id("records")).to_contain_text("deals: 300")
    expect(row.get_by_test_id("last-sync")).not_to_have_text("未実行")
    # The import history heard of the new data (no reload).
    expect(page.locator("#kt-history [data-import-id]")).to_have_count(1)
    expect(row.get_by_test_id("sync-crm")).to_be_enabled()
    deals.delete(4)
    row.get_by_test_id("sync-crm").click()
    expect(row.get_by_test_id("records")).to_contain_text("deals: 296")
    expect(page.locator("#kt-history [data-import-id]")).to_have_count(2)
    expect(row.get_by_test_id("error")).to_have_text("—")
