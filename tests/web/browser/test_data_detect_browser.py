"""The Data page's Detect flow in a real Chromium against a real ``kpitree
serve``: a Japanese-UI HubSpot contacts export is recognised and imported; a
deal list no preset fits gets a draft mapping that is edited in the page,
previewed again and imported, and is then offered for the next export."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from web.conftest import NAVIGATION_MS, SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser
# An import runs kpitree in a child process; beside Spark tests on a two-core
# machine a preview has taken over a minute. A wait on a condition costs nothing
# when it is met sooner.
IMPORT_MS = 3 * NAVIGATION_MS


def _write(path: Path, rows: list[list[str]], encoding: str) -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(rows)
    return path


def _count(project: Path, sql: str) -> Any:
    with duckdb.connect(str(project / ".kpitree" / "warehouse.duckdb"), read_only=True) as con:
        ((value,),) = con.sql(sql).fetchall()
    return value


def test_a_japanese_hubspot_export_is_detected_previewed_and_imported(
    page: Any, demo_copy: Path, start_server: Callable[..., str], tmp_path: Path
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/data?lang=ja")
    header = [
        "レコードID",
        "名",
        "姓",
        "Eメール",
        "ライフサイクルステージ",
        "作成日",
        "元のソース",
        "コンタクト担当者",
        "マーケティングクオリファイドリードになった日",
    ]
    rows = [
        [
            str(770_000 + i),
            "花子",
            f"ブラウザ{i}",
            f"b{i}@example.jp",
            ["リード", "マーケティングクオリファイドリード"][i % 2],
            f"2026-03-{i + 1:02d} 09:00",
            "オーガニック検索",
            "佐々木 健",
            f"2026-03-{i + 2:02d} 09:00" if i % 2 else "",
        ]
        for i in range(6)
    ]
    f = _write(tmp_path / "hubspot-crm-exports-all-contacts.csv", [header, *rows], "utf-8-sig")
    page.set_input_files('[data-testid="upload-file"]', str(f))
    assert page.input_value('[data-testid="upload-mapping"]') == "auto"
    page.click('[data-testid="upload-preview"]')
    detected = page.locator('[data-testid="detected-preset"]')
    detected.wait_for(timeout=IMPORT_MS)
    assert "hubspot-contacts" in detected.inner_text()
    assert page.locator('[data-testid="preview-leads"] tbody tr').count() == 6
    page.click('[data-testid="import"]')
    page.locator('[data-testid="imported"]').wait_for(timeout=IMPORT_MS)
    screenshot(page, SCREENSHOTS / "data_detect_hubspot_ja.png")
    assert _count(demo_copy, "SELECT count(*) FROM leads WHERE lead_id LIKE '77%'") == 6
    assert (
        _count(demo_copy, "SELECT count(*) FROM lead_stage_history WHERE lead_id LIKE '77%'")
        == 3  # the MQL dates (the preset reads no lead date from this export)
    )
    # The links section is refreshed with the new source's leads.
    linked = page.locator('[data-testid="links"] tr[data-source="hubspot-contacts"]').first
    linked.wait_for(timeout=IMPORT_MS)
    assert linked.locator('[data-field="records"]').inner_text() == "6"


def test_a_draft_mapping_is_edited_in_the_page_and_kept_for_the_next_export(
    page: Any, demo_copy: Path, start_server: Callable[..., str], tmp_path: Path
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/data?lang=en")
    rows = [["案件番号", "顧客企業", "営業担当", "進捗", "見込金額", "登録日", "受注予定日"]] + [
        [
            f"BR-{i}",
            f"株式会社ブラウザ{i % 2}",
            "佐々木",
            ["提案中", "受注", "見送り"][i % 3],
            "500,000",
            f"2026/02/{i + 1:02d}",
            f"2026/05/{i + 1:02d}",
        ]
        for i in range(6)
    ]
    f = _write(tmp_path / "案件一覧.csv", rows, "cp932")
    page.set_input_files('[data-testid="upload-file"]', str(f))
    page.click('[data-testid="upload-preview"]')
    box = page.locator('[data-testid="draft-yaml"]')
    box.wait_for(timeout=IMPORT_MS)
    draft = box.input_value()
    assert '"受注": won' in draft and '"見送り": lost' in draft
    # The reviewer decides that 見送り (postponed) is not lost: the deal stays open.
    page.fill('[data-testid="draft-yaml"]', draft.replace('    "見送り": lost\n', ""))
    page.click('[data-testid="draft-preview"]')
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=draft-yaml]').value.includes('見送り')",
        timeout=IMPORT_MS,
    )
    page.click('[data-testid="import"]')
    page.locator('[data-testid="saved-mapping"]').wait_for(timeout=IMPORT_MS)
    assert "mappings/案件一覧.yaml" in page.locator('[data-testid="saved-mapping"]').inner_text()
    assert (
        _count(
            demo_copy, "SELECT count(*) FROM deals WHERE deal_id LIKE 'BR-%' AND status = 'lost'"
        )
        == 0
    )
    assert (
        _count(demo_copy, "SELECT count(*) FROM deals WHERE deal_id LIKE 'BR-%' AND status = 'won'")
        == 2
    )
    page.goto(url + "/data?lang=en")
    options = page.locator('[data-testid="upload-mapping"] option').all_inner_texts()
    assert any("mappings/案件一覧.yaml" in o for o in options)
