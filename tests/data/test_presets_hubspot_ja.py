"""The HubSpot presets on exports from the Japanese UI (headers in Japanese),
written here as HubSpot writes them: CSV in UTF-8 with a BOM, and XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpitree.cli import main
from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map

JST = dt.timezone(dt.timedelta(hours=9))

CONTACTS = [
    ["レコードID", "名", "姓", "Eメール", "ライフサイクルステージ", "作成日", "元のソース",
     "コンタクト担当者", "リードになった日", "マーケティングクオリファイドリードになった日",
     "セールスクオリファイドリードになった日", "商談になった日", "顧客になった日",
     "電話番号", "会社名"],
    ["51", "太郎", "山田", "taro@example.jp", "顧客", "2026-01-07 09:05", "オーガニック検索",
     "佐々木 健", "2026-01-07 09:05", "2026-01-10 10:00", "2026-01-12 11:00",
     "2026-01-20 12:00", "2026-02-01 13:00", "03-1234-5678", "株式会社サンプル"],
    ["52", "花子", "鈴木", "hanako@example.jp", "マーケティングクオリファイドリード",
     "2026-01-08 10:00", "オフラインソース", "", "2026-01-08 10:00", "2026-01-15 09:30",
     "", "", "", "", "テスト商事"],
    ["53", "次郎", "佐藤", "jiro@example.jp", "リード", "2026-01-09 11:00", "Eメールマーケティング",
     "佐々木 健", "2026-01-09 11:00", "", "", "", "", "", ""],
]  # fmt: skip

DEALS = [
    ["レコードID", "取引名", "取引ステージ", "金額", "クローズ日", "作成日", "取引担当者",
     "パイプライン", "関連付けられた会社"],
    ["9001", "サンプル 100席", "成約", "1200000", "2026-03-31 00:00", "2026-01-07 10:00",
     "佐々木 健", "営業パイプライン", "株式会社サンプル"],
    ["9002", "テスト PoC", "クローズした不成立取引", "300000", "2026-03-15 00:00",
     "2026-01-09 10:00", "佐々木 健", "営業パイプライン", "テスト商事"],
    ["9003", "見込み 案件", "プレゼン予定済み", "500000", "2026-04-30 00:00",
     "2026-02-01 10:00", "", "営業パイプライン", ""],
]  # fmt: skip


def _by_id(table: Any, key: str) -> dict[str, list[Any]]:
    """The table's columns as lists ordered by ``key``."""
    return table.sort_by(key).to_pydict()  # type: ignore[no-any-return]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("writer", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_hubspot_contacts_japanese_ui(tmp_path: Path, writer: Any) -> None:
    suffix = ".csv" if writer is _csv else ".xlsx"
    path = writer(tmp_path / f"hubspot-crm-exports-contacts{suffix}", CONTACTS)
    batch = read_and_map(path, load_mapping("hubspot-contacts"))
    assert batch.rejects == []
    leads = _by_id(batch.tables["leads"], "lead_id")
    assert leads["lead_id"] == ["51", "52", "53"]
    assert leads["current_stage"] == ["won", "mql", "lead"]
    assert leads["channel"] == ["organic_search", "offline", "email"]
    assert leads["owner_id"] == ["佐々木 健", None, "佐々木 健"]
    assert leads["created_at"][0] == dt.datetime(2026, 1, 7, 9, 5, tzinfo=JST)
    assert json.loads(leads["attributes"][0])["会社名"] == "株式会社サンプル"
    history = batch.tables["lead_stage_history"].to_pydict()
    entries = sorted(zip(history["lead_id"], history["stage"], strict=True))
    assert entries == sorted(
        [("51", s) for s in ("lead", "mql", "sql", "opportunity", "won")]
        + [("52", "lead"), ("52", "mql"), ("53", "lead")]
    )
    assert batch.tables["reps"].column("rep_id").to_pylist() == ["佐々木 健"]


@pytest.mark.parametrize("writer", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_hubspot_deals_japanese_ui(tmp_path: Path, writer: Any) -> None:
    suffix = ".csv" if writer is _csv else ".xlsx"
    path = writer(tmp_path / f"hubspot-crm-exports-deals{suffix}", DEALS)
    batch = read_and_map(path, load_mapping("hubspot-deals"))
    assert batch.rejects == []
    deals = _by_id(batch.tables["deals"], "deal_id")
    assert deals["deal_id"] == ["9001", "9002", "9003"]
    assert deals["status"] == ["won", "lost", "open"]
    assert deals["stage"] == ["成約", "クローズした不成立取引", "プレゼン予定済み"]
    assert deals["amount"] == [1200000.0, 300000.0, 500000.0]
    assert deals["close_date"] == [dt.date(2026, 3, 31), dt.date(2026, 3, 15), dt.date(2026, 4, 30)]
    assert deals["pipeline"] == ["営業パイプライン"] * 3
    history = batch.tables["deal_stage_history"].to_pydict()
    assert sorted(zip(history["deal_id"], history["stage"], strict=True)) == [
        ("9001", "opportunity"),
        ("9001", "won"),
        ("9002", "lost"),
        ("9002", "opportunity"),
        ("9003", "opportunity"),
    ]


def test_detect_and_import_japanese_hubspot_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITREE_LANG", "en")
    _csv(tmp_path / "contacts.csv", CONTACTS)
    _csv(tmp_path / "deals.csv", DEALS)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code: Any = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return code or 0, out.out, out.err

    for file, preset in (("contacts.csv", "hubspot-contacts"), ("deals.csv", "hubspot-deals")):
        code, out, err = run("mappings", "detect", file, "--json")
        assert code == 0, err
        first = json.loads(out)["presets"][0]
        assert (first["name"], first["fits"]) == (preset, True)
        code, out, err = run("import", file, "--mapping", preset, "--json")
        assert code == 0, err
        assert json.loads(out)["imports"][0]["rejected"] == 0
    code, out, _ = run("imports", "--json")
    assert [r["rows_read"] for r in json.loads(out)["imports"]] == [3, 3]
