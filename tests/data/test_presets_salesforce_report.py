"""``salesforce-opportunities`` on an opportunity report exported as Salesforce
writes it from a Japanese org: Shift_JIS, every cell quoted, no ID column, the
report's footer at the end. Files are written here; commands run through the
real entry point."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree.cli import main
from kpitree.data.warehouse import default_warehouse_path

HEADERS = ["商談 所有者", "取引先名", "商談名", "フェーズ", "金額", "確度 (%)", "完了予定日",
           "作成日", "種別"]  # fmt: skip
STAGES = [("成立", 100), ("不成立", 0), ("提案", 50), ("見積提示", 75)]
OWNERS = ["佐々木 健", "山田 花子", "鈴木 一郎"]


def _rows(n: int = 53) -> list[list[str]]:
    """``n`` opportunities; the same opportunity names recur across accounts (so a
    name alone is not an id), as they do in real orgs."""
    rows = []
    for i in range(n):
        stage, probability = STAGES[i % len(STAGES)]
        rows.append(
            [
                OWNERS[i % len(OWNERS)],
                f"株式会社サンプル{i // 4:02d}",
                ["年間契約 更新", "新規導入", "追加ライセンス", "PoC"][i % 4],
                stage,
                f"{(i + 1) * 100_000:,}",
                str(probability),
                f"2026/{(i % 12) + 1:02d}/15",
                f"2025/{(i % 12) + 1:02d}/{(i % 27) + 1:02d}",
                ["新規ビジネス", "既存ビジネス"][i % 2],
            ]
        )
    return rows


def _footer(rows: list[list[str]]) -> list[list[str]]:
    total = sum(int(r[4].replace(",", "")) for r in rows)
    return [
        [],
        ["総計", "", "", "", f"{total:,}", "", "", "", ""],
        [],
        ["Confidential Information - Do Not Distribute"],
        ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
    ]


def _write(path: Path, header: list[str], rows: list[list[str]], footer: bool = True) -> str:
    body = [header, *rows, *(_footer(rows) if footer else [])]
    with path.open("w", newline="", encoding="cp932") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for row in body:
            if row:
                writer.writerow(row)
            else:
                fh.write("\n")
    return path.name


def _expected_id(row: list[str]) -> str:
    """The documented synthetic id: account, opportunity name, created date."""
    text = "\x1f".join([row[1], row[2], row[7]])
    return "h:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def kpitree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITREE_LANG", "en")

    def run(*args: str) -> Run:
        capsys.readouterr()
        code: Any = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return Run(code or 0, captured.out, captured.err)

    return run


def _table(result: Any, name: str) -> dict[str, Any]:
    (imported,) = result["imports"]
    return next(t for t in imported["tables"] if t["table"] == name)  # type: ignore[no-any-return]


def _deals(project: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(default_warehouse_path(project)), read_only=True) as con:
        return con.sql(
            "SELECT deal_id, account_id, status, amount, pipeline, attributes->>'商談名' "
            "FROM deals ORDER BY deal_id"
        ).fetchall()


def test_a_report_without_ids_and_with_its_footer_imports(kpitree: Any, tmp_path: Path) -> None:
    rows = _rows()
    f = _write(tmp_path / "report1765000000000.csv", HEADERS, rows)
    run = kpitree("import", f, "--mapping", "salesforce-opportunities", "--json")
    assert run.code == 0, run.err
    (result,) = run.json()["imports"]
    assert (result["rows_read"], result["rejected"]) == (53, 0)
    # The footer (blank, 総計, blank, two notices) is named, at its first row, not imported.
    assert (
        "report1765000000000.csv:56:1: warning: report1765000000000.csv: the report's footer "
        "at the end of the file (3 rows: 総計 / Confidential Information - Do Not Distribute / "
        "Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.) is not imported"
    ) in run.err
    # The ids are made, and the user is told what that means.
    assert "the ids of deals.deal_id are made from the columns 取引先名, 商談名, 作成日" in run.err
    assert "add the ID column to the report" in run.err

    deals = _deals(tmp_path)
    assert len(deals) == 53
    assert sorted(d[0] for d in deals) == sorted(_expected_id(r) for r in rows)
    by_id = {d[0]: d for d in deals}
    for row in rows:
        deal = by_id[_expected_id(row)]
        assert deal[1] == row[1]
        assert deal[2] == {"成立": "won", "不成立": "lost"}.get(row[3], "open")
        assert deal[3] == float(row[4].replace(",", ""))
        assert deal[4] == row[8]
        assert deal[5] == row[2]
    won = sum(1 for r in rows if r[3] == "成立")
    assert sum(1 for d in deals if d[2] == "won") == won == 14

    # A later export of the same report (rows in another order) changes nothing:
    # the ids are stable. (The very same file again is not even read.)
    later = _write(tmp_path / "report1765000100000.csv", HEADERS, rows[::-1])
    again = kpitree("import", later, "--mapping", "salesforce-opportunities", "--json")
    assert again.code == 0, again.err
    assert _table(again.json(), "deals") == {
        "table": "deals",
        "rows": 53,
        "inserted": 0,
        "updated": 0,
        "unchanged": 53,
    }


def test_a_renamed_opportunity_becomes_a_new_record(kpitree: Any, tmp_path: Path) -> None:
    """What the warning says: the id follows the identifying cells."""
    rows = _rows(8)
    f = _write(tmp_path / "report.csv", HEADERS, rows)
    assert kpitree("import", f, "--mapping", "salesforce-opportunities").code == 0
    rows[0][2] = "年間契約 更新（改）"
    f = _write(tmp_path / "report.csv", HEADERS, rows)
    run = kpitree("import", f, "--mapping", "salesforce-opportunities", "--json")
    assert run.code == 0, run.err
    assert _table(run.json(), "deals")["inserted"] == 1
    assert len(_deals(tmp_path)) == 9


def test_a_report_with_the_id_column_keeps_its_ids(kpitree: Any, tmp_path: Path) -> None:
    rows = [[*r, f"0065g00000XyZ{i:02d}"] for i, r in enumerate(_rows(6))]
    f = _write(tmp_path / "report.csv", [*HEADERS, "商談 ID"], rows)
    run = kpitree("import", f, "--mapping", "salesforce-opportunities", "--json")
    assert run.code == 0, run.err
    assert "are made from the columns" not in run.err
    assert "the report's footer at the end of the file (3 rows: 総計 / " in run.err
    assert [d[0] for d in _deals(tmp_path)] == [f"0065g00000XyZ{i:02d}" for i in range(6)]


def test_only_the_trailing_footer_is_left_out(kpitree: Any, tmp_path: Path) -> None:
    """A row in the middle that looks like a footer is data: it is read (and here
    refused, since it has no stage), never dropped silently."""
    rows = _rows(4)
    footer = _footer(rows)
    rows.insert(2, ["合計", "", "", "", "", "", "", "", ""])
    f = _write(tmp_path / "report.csv", HEADERS, [*rows, *footer], footer=False)
    run = kpitree("import", f, "--mapping", "salesforce-opportunities")
    assert run.code == 1
    assert "report.csv:4:" in run.err
    assert "the report's footer at the end of the file (3 rows: 総計 / " in run.err


def test_detect_finds_the_preset_for_a_report_without_ids(kpitree: Any, tmp_path: Path) -> None:
    f = _write(tmp_path / "report.csv", HEADERS, _rows(5))
    first = kpitree("mappings", "detect", f, "--json").json()["presets"][0]
    assert (first["name"], first["fits"]) == ("salesforce-opportunities", True)
    assert {"取引先名", "商談名", "作成日"} <= set(first["columns_read"])


def test_a_report_missing_an_identifying_column_names_it(kpitree: Any, tmp_path: Path) -> None:
    header = [h if h != "取引先名" else "取引先" for h in HEADERS]
    f = _write(tmp_path / "report.csv", header, _rows(3))
    run = kpitree("import", f, "--mapping", "salesforce-opportunities")
    assert run.code == 1
    assert "report.csv has no column '取引先名' (needed for deals.deal_id)" in run.err
    assert "(closest header in the file: '取引先')" in run.err


def test_id_from_with_a_value_is_a_mapping_error(kpitree: Any, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "mapping: 1\ntables:\n  deals:\n"
        "    deal_id: {id_from: [A, B], value: x}\n"
        "    created_at: C\n    status: {value: open}\n",
        encoding="utf-8",
    )
    f = _write(tmp_path / "d.csv", ["A", "B", "C"], [["a", "b", "2026/01/07"]], footer=False)
    run = kpitree("import", f, "--mapping", "m.yaml")
    assert run.code == 1
    assert run.err.startswith(
        "m.yaml:4:14: error: tables.deals.deal_id: 'id_from' lists the columns"
    )


def test_a_footer_pattern_that_is_not_a_regular_expression_is_a_mapping_error(
    kpitree: Any, tmp_path: Path
) -> None:
    (tmp_path / "m.yaml").write_text(
        'mapping: 1\nsource: {footer: ["(総計"]}\ntables:\n  deals:\n'
        "    deal_id: A\n    created_at: C\n    status: {value: open}\n",
        encoding="utf-8",
    )
    f = _write(tmp_path / "d.csv", ["A", "B", "C"], [["a", "b", "2026/01/07"]], footer=False)
    run = kpitree("import", f, "--mapping", "m.yaml")
    assert run.code == 1
    assert run.err.startswith("m.yaml:2:18: error: invalid value for 'footer': ['(総計']")
    assert "internal error" not in run.err


def test_rejected_rows_keep_the_reports_own_columns(kpitree: Any, tmp_path: Path) -> None:
    """The rejects file can be fixed and imported again with the same preset: it
    holds the report's columns, not the id column made for the import."""
    rows = _rows(4)
    footer = _footer(rows)
    rows[1][4] = "たくさん"
    f = _write(tmp_path / "report.csv", HEADERS, [*rows, *footer], footer=False)
    run = kpitree("import", f, "--mapping", "salesforce-opportunities", "--skip-invalid", "--json")
    assert run.code == 0, run.err
    (result,) = run.json()["imports"]
    assert result["rejected"] == 1
    with Path(result["rejects_csv"]).open(encoding="utf-8-sig", newline="") as fh:
        rejected = list(csv.reader(fh))
    assert rejected[0] == HEADERS
    rejected[1][4] = "200,000"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rejected)
    again = kpitree("import", "fixed.csv", "--mapping", "salesforce-opportunities", "--json")
    assert again.code == 0, again.err
    assert sorted(d[0] for d in _deals(tmp_path)) == sorted(_expected_id(r) for r in rows)
