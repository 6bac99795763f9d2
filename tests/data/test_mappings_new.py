"""``kpitree mappings new``: a draft mapping for files no preset fits, checked by
importing them (and files of the same shape the draft never saw) and counting
what was stored against what the files say."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from kpitree.cli import main
from kpitree.data.warehouse import default_warehouse_path

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kpitree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITREE_LANG", "en")

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code: Any = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return code or 0, out.out, out.err

    return run


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> str:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(rows)
    return path.name


def _sql(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(default_warehouse_path(tmp_path)), read_only=True) as con:
        return con.sql(sql).fetchall()


PHASES = ["ヒアリング", "提案中", "受注", "失注", "見積提出"]


def _sfa(start: int, n: int) -> list[list[str]]:
    """An in-house SFA's deal list (Japanese headers no preset knows), Shift_JIS."""
    rows = [
        ["案件番号", "顧客企業", "案件名", "営業担当", "進捗", "見込金額", "登録日", "受注予定日"]
    ]
    for i in range(start, start + n):
        rows.append([f"A-{i:04d}", f"株式会社{i % 5}", f"案件{i}", ["佐藤 一", "鈴木 二"][i % 2],
                     PHASES[i % 5], f"{(i + 1) * 10_000:,}円", f"2026/01/{i % 28 + 1:02d}",
                     f"2026/03/{i % 28 + 1:02d}"])  # fmt: skip
    return rows


def test_a_japanese_deal_list_is_drafted_and_imports_itself_and_the_next_export(
    kpitree: Run, tmp_path: Path
) -> None:
    first = _write(tmp_path / "案件一覧.csv", _sfa(0, 20), encoding="cp932")
    code, out, err = kpitree("mappings", "new", first, "-o", "deals.yaml")
    assert code == 0, err
    assert "draft mapping for deals written" in out
    assert "deal_id <- 案件番号" in out and "amount <- 見込金額" in out
    draft = (tmp_path / "deals.yaml").read_text(encoding="utf-8")
    assert '"受注": won' in draft and '"失注": lost' in draft
    assert "# id: unique in every sampled row" in draft

    code, out, err = kpitree("import", first, "--mapping", "deals.yaml", "--json")
    assert code == 0, err
    # The next month's export, which the draft never saw, imports with it too.
    second = _write(tmp_path / "案件一覧2.csv", _sfa(20, 15), encoding="cp932")
    code, out, err = kpitree("import", second, "--mapping", "deals.yaml", "--json")
    assert code == 0, err
    assert json.loads(out)["imports"][0]["rows_read"] == 15
    rows = _sfa(0, 35)[1:]
    won = sum(r[4] == "受注" for r in rows)
    lost = sum(r[4] == "失注" for r in rows)
    assert _sql(tmp_path, "SELECT status, count(*) FROM deals GROUP BY 1 ORDER BY 1") == [
        ("lost", lost), ("open", 35 - won - lost), ("won", won)]  # fmt: skip
    assert _sql(tmp_path, "SELECT sum(amount), count(DISTINCT account_id) FROM deals") == [
        (float(sum((i + 1) * 10_000 for i in range(35))), 5)
    ]
    # The creation is the opportunity entry; won and lost deals enter that stage too.
    assert _sql(tmp_path, "SELECT count(*) FROM deal_stage_history") == [(35 + won + lost,)]


def test_a_lead_list_with_japanese_dates_is_keyed_by_email(kpitree: Run, tmp_path: Path) -> None:
    """An event's lead list: no id column, e-mail addresses unique, dates written
    2026年1月7日, a status column with the company's own words."""
    statuses = ["新規", "MQL", "商談化", "対象外"]
    rows = [
        ["氏名", "会社名", "メールアドレス", "部署", "獲得日", "流入経路", "ステータス", "MQL日"]
    ]
    for i in range(24):
        rows.append([f"山田 {i}", f"株式会社リード{i % 6}", f"y{i}@example.co.jp", "情報システム部",
                     f"2026年2月{i + 1}日", ["展示会", "ウェビナー"][i % 2], statuses[i % 4],
                     f"2026年3月{i + 1}日" if i % 4 in (1, 2) else ""])  # fmt: skip
    f = _write(tmp_path / "展示会リード.csv", rows, encoding="utf-8-sig")
    code, out, err = kpitree("mappings", "new", f, "-o", "leads.yaml")
    assert code == 0, err
    assert "lead_id <- メールアドレス" in out
    assert "created_at <- 獲得日" in out
    code, out, err = kpitree("import", f, "--mapping", "leads.yaml", "--json")
    assert code == 0, err
    tables = {t["table"]: t["rows"] for t in json.loads(out)["imports"][0]["tables"]}
    assert tables["leads"] == 24
    assert tables["lead_stage_history"] == 24 + 12  # created (lead) + the MQL dates
    assert _sql(tmp_path, "SELECT current_stage, count(*) FROM leads GROUP BY 1 ORDER BY 1") == [
        ("disqualified", 6), ("lead", 6), ("mql", 6), ("opportunity", 6)]  # fmt: skip
    assert _sql(tmp_path, "SELECT count(*) FROM leads WHERE channel = '展示会'") == [(12,)]


def test_a_report_without_ids_and_with_us_dates_gets_a_synthetic_id(
    kpitree: Run, tmp_path: Path
) -> None:
    def rows(start: int, n: int) -> list[list[str]]:
        out = [["Account", "Deal Name", "Stage", "Value", "Created", "Expected Close", "Owner"]]
        for i in range(start, start + n):
            out.append([f"Acme {i % 4}", ["Renewal", "New seats", "Upsell"][i % 3],
                        ["Closed Won", "Closed Lost", "Proposal"][i % 3], f"${(i + 1) * 100:,}.00",
                        f"{i % 12 + 1}/{i % 27 + 1}/2025", f"{i % 12 + 1}/28/2026",
                        "Kim Lee"])  # fmt: skip
        return out

    f = _write(tmp_path / "pipeline.csv", rows(0, 24))
    code, out, err = kpitree("mappings", "new", f, "-o", "pipeline.yaml", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["table"] == "deals"
    assert result["synthetic_id"] == ["Account", "Deal Name", "Created"]
    assert result["review"] == [
        "no column is unique: ids are made from Account, Deal Name, Created"
    ]
    assert '"%m/%d/%Y"' in result["yaml"]
    code, _, err = kpitree("import", f, "--mapping", "pipeline.yaml")
    assert code == 0, err
    f2 = _write(tmp_path / "pipeline-next.csv", rows(24, 12))
    code, _, err = kpitree("import", f2, "--mapping", "pipeline.yaml")
    assert code == 0, err
    assert _sql(tmp_path, "SELECT count(*), count(*) FILTER (WHERE status = 'won'), "
                "sum(amount), min(currency) FROM deals") == [
        (36, 12, float(sum((i + 1) * 100 for i in range(36))), "USD")]  # fmt: skip


def test_an_account_workbook_is_drafted(kpitree: Run, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["会社名", "業種", "従業員数", "都道府県", "登録日"])
    for i in range(10):
        sheet.append(
            [f"株式会社アカウント{i}", "製造業", 100 * (i + 1), "東京都", f"2025/0{i % 9 + 1}/01"]
        )
    book.save(tmp_path / "accounts.xlsx")
    code, out, err = kpitree("mappings", "new", "accounts.xlsx", "-o", "accounts.yaml")
    assert code == 0, err
    assert "draft mapping for accounts written" in out
    code, _, err = kpitree("import", "accounts.xlsx", "--mapping", "accounts.yaml")
    assert code == 0, err
    assert _sql(tmp_path, "SELECT count(*), sum(employees) FROM accounts") == [(10, 5500)]


def test_the_draft_is_printed_without_an_output_file(kpitree: Run, tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", _sfa(0, 5))
    code, out, err = kpitree("mappings", "new", f)
    assert code == 0, err
    assert out.startswith("# Draft mapping for d.csv")
    assert "mapping: 1" in out


def test_a_file_without_dates_says_what_to_add(kpitree: Run, tmp_path: Path) -> None:
    f = _write(tmp_path / "names.csv", [["氏名", "メールアドレス"], ["山田", "y@example.jp"]])
    code, _, err = kpitree("mappings", "new", f)
    assert code == 1
    assert err.startswith("names.csv:1:1: error: names.csv: no column reads as a date")
    assert "Traceback" not in err


def test_an_existing_output_is_not_replaced_without_force(kpitree: Run, tmp_path: Path) -> None:
    f = _write(tmp_path / "d.csv", _sfa(0, 5))
    (tmp_path / "d.yaml").write_text("keep me", encoding="utf-8")
    code, _, err = kpitree("mappings", "new", f, "-o", "d.yaml")
    assert code == 1
    assert "d.yaml exists already" in err
    assert (tmp_path / "d.yaml").read_text(encoding="utf-8") == "keep me"
    code, _, err = kpitree("mappings", "new", f, "-o", "d.yaml", "--force")
    assert code == 0, err
    assert (tmp_path / "d.yaml").read_text(encoding="utf-8").startswith("# Draft mapping")


def test_a_report_footer_is_found_and_left_out_next_month_too(kpitree: Run, tmp_path: Path) -> None:
    """A report export (Shift_JIS, no ID column) ends with a total row and notices:
    the draft leaves them out, also when next month's total counts other records."""

    def report(path: Path, start: int, n: int) -> str:
        rows = [["商談 所有者", "取引先名", "商談名", "フェーズ", "金額", "作成日", "完了予定日"]]
        for i in range(start, start + n):
            rows.append(
                ["佐々木 健", f"株式会社R{i % 4}", f"商談{i}", ["成立", "提案"][i % 2],
                 "1,000", f"2026/05/{i % 28 + 1:02d}", "2026/06/30"]
            )  # fmt: skip
        rows += [[f"Grand Totals ({n} records)", "", "", "", f"{n * 1000:,}"], [],
                 ["Confidential Information - Do Not Distribute"],
                 ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."]]  # fmt: skip
        return _write(path, rows, encoding="cp932")

    first = report(tmp_path / "report1.csv", 0, 12)
    code, out, err = kpitree("mappings", "new", first, "-o", "report.yaml", "--json")
    assert code == 0, err
    draft = json.loads(out)
    assert draft["synthetic_id"] == ["取引先名", "商談名", "作成日"]
    assert r'"Grand Totals \\(\\d+ records\\)"' in draft["yaml"]
    for name, start, n in (("report1.csv", 0, 12), ("report2.csv", 12, 7)):
        f = name if name == first else report(tmp_path / name, start, n)
        code, out, err = kpitree("import", f, "--mapping", "report.yaml", "--json")
        assert code == 0, err
        assert json.loads(out)["imports"][0]["rows_read"] == n
        assert "the report's footer at the end of the file (3 rows" in err
    assert _sql(tmp_path, "SELECT count(*), count(*) FILTER (WHERE status = 'won') FROM deals") == [
        (19, 10)
    ]
