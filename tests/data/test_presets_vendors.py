"""Every vendor preset on files shaped as the vendor writes them (headers in the
vendor's UI language or API names, its date format, its encoding, a report's
footer), generated here: `mappings detect` names the preset first, and the import
stores the right number of rows in each table, with the values checked where the
export's own text decides them (status, synthetic ids)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree.cli import main
from kpitree.data.warehouse import default_warehouse_path

N = 9
OWNERS_JA = ["佐々木 健", "山田 花子", "鈴木 一郎"]
OWNER_IDS = ["0055g00000AAAA1", "0055g00000AAAA2"]
SF_FOOTER = [
    [],
    ["総計"],
    [],
    ["Confidential Information - Do Not Distribute"],
    ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
]


@dataclass(frozen=True)
class Export:
    """One vendor file: its header, a row maker, how it is written, and what an
    import must store."""

    preset: str
    header: list[str]
    row: Callable[[int], list[str]]
    encoding: str = "utf-8"
    footer: list[list[str]] = field(default_factory=list)
    quote_all: bool = False
    tables: dict[str, int] = field(default_factory=dict)
    check: str | None = None
    """SQL whose single value must equal ``expected``."""
    expected: Any = None


def _sid(*cells: str) -> str:
    return "h:" + hashlib.sha256("\x1f".join(cells).encode("utf-8")).hexdigest()[:16]


EXPORTS: dict[str, Export] = {
    "hubspot-companies-ja": Export(
        "hubspot-companies",
        [
            "レコードID",
            "名前",
            "会社のドメイン名",
            "作成日",
            "業種",
            "従業員数",
            "年間売上高",
            "国/地域",
            "会社所有者",
            "ライフサイクルステージ",
        ],
        lambda i: [
            str(9100 + i),
            f"株式会社テスト{i}",
            f"test{i}.co.jp",
            f"2026-01-{i + 1:02d} 10:{i:02d}",
            "製造業",
            str(50 * (i + 1)),
            f"{(i + 1) * 1_000_000}",
            "日本",
            OWNERS_JA[i % 3],
            "顧客",
        ],
        encoding="utf-8-sig",
        tables={"accounts": N, "reps": 3},
        check="SELECT sum(employees)::BIGINT FROM accounts",
        expected=50 * sum(range(1, N + 1)),
    ),
    "hubspot-companies-en": Export(
        "hubspot-companies",
        [
            "Record ID",
            "Company name",
            "Company Domain Name",
            "Create Date",
            "Industry",
            "Number of Employees",
            "Annual Revenue",
            "Country/Region",
            "Company owner",
        ],
        lambda i: [
            str(9100 + i),
            f"Acme {i}",
            f"acme{i}.com",
            f"2026-01-{i + 1:02d} 10:00",
            "Software",
            str(i + 1),
            "1,000,000",
            "Japan",
            "Ken Sasaki",
        ],
        tables={"accounts": N, "reps": 1},
        check="SELECT count(*) FROM accounts WHERE name LIKE 'Acme %'",
        expected=N,
    ),
    "salesforce-leads-report-ja": Export(
        "salesforce-leads",
        [
            "リード 所有者",
            "姓",
            "名",
            "会社名",
            "役職",
            "メール",
            "リード状況",
            "リードソース",
            "作成日",
        ],
        lambda i: [
            OWNERS_JA[i % 3],
            f"田中{i}",
            "太郎",
            f"株式会社見込{i % 4}",
            "部長",
            f"t{i}@example.jp",
            ["Open - Not Contacted", "Working - Contacted"][i % 2],
            "Web",
            f"2026/02/{i + 1:02d}",
        ],
        encoding="cp932",
        footer=SF_FOOTER,
        quote_all=True,
        tables={"leads": N, "lead_stage_history": N, "reps": 3},
        check="SELECT min(lead_id) FROM leads WHERE attributes->>'姓' = '田中0'",
        expected=_sid("株式会社見込0", "田中0", "太郎", "2026/02/01"),
    ),
    "salesforce-contacts-report-ja": Export(
        "salesforce-contacts",
        ["取引先責任者 所有者", "姓", "名", "取引先名", "役職", "メール", "電話", "作成日"],
        lambda i: [
            OWNERS_JA[i % 3],
            f"高橋{i}",
            "花子",
            f"株式会社顧客{i % 3}",
            "課長",
            f"h{i}@example.jp",
            "03-0000-0000",
            f"2025/11/{i + 1:02d}",
        ],
        encoding="cp932",
        footer=SF_FOOTER,
        quote_all=True,
        tables={"leads": N, "lead_stage_history": N, "accounts": 3, "reps": 3},
        check="SELECT count(DISTINCT account_id) FROM leads",
        expected=3,
    ),
    "salesforce-contacts-report-en": Export(
        "salesforce-contacts",
        [
            "Contact Owner",
            "First Name",
            "Last Name",
            "Account Name",
            "Email",
            "Created Date",
            "Contact ID",
        ],
        lambda i: [
            "Ken Sasaki",
            "Hanako",
            f"Takahashi{i}",
            "Acme",
            f"h{i}@example.com",
            f"11/{i + 1}/2025",
            f"0035g00000C{i:04d}",
        ],
        footer=SF_FOOTER,
        quote_all=True,
        tables={"leads": N, "lead_stage_history": N, "accounts": 1, "reps": 1},
        check="SELECT min(lead_id) FROM leads",
        expected="0035g00000C0000",
    ),
    "salesforce-accounts-report-ja": Export(
        "salesforce-accounts",
        ["取引先 所有者", "取引先名", "種別", "業種", "従業員数", "年間売上", "作成日"],
        lambda i: [
            OWNERS_JA[i % 3],
            f"株式会社取引先{i}",
            "顧客",
            "情報通信",
            "1,200",
            "￥500,000,000",
            f"2024/04/{i + 1:02d}",
        ],
        encoding="cp932",
        footer=SF_FOOTER,
        quote_all=True,
        tables={"accounts": N, "reps": 3},
        check="SELECT sum(annual_revenue) FROM accounts",
        expected=500_000_000.0 * N,
    ),
    "salesforce-api-leads-dataloader": Export(
        "salesforce-api-leads",
        [
            "ID",
            "LASTNAME",
            "FIRSTNAME",
            "NAME",
            "COMPANY",
            "STATUS",
            "LEADSOURCE",
            "OWNERID",
            "CREATEDDATE",
            "CONVERTEDDATE",
            "ISCONVERTED",
        ],
        lambda i: [
            f"00Q5g00000L{i:04d}",
            f"伊藤{i}",
            "次郎",
            f"伊藤{i} 次郎",
            "株式会社見込",
            ["Open - Not Contacted", "Closed - Converted"][i % 2],
            "Web",
            OWNER_IDS[i % 2],
            f"2026-03-{i + 1:02d}T01:30:00.000Z",
            f"2026-04-{i + 1:02d}" if i % 2 else "",
            "true" if i % 2 else "false",
        ],
        encoding="cp932",
        quote_all=True,
        tables={"leads": N, "lead_stage_history": N + N // 2, "reps": 2},
        check="SELECT count(*) FROM leads WHERE current_stage = 'opportunity'",
        expected=N // 2,
    ),
    "salesforce-api-contacts-export": Export(
        "salesforce-api-contacts",
        [
            "Id",
            "IsDeleted",
            "AccountId",
            "LastName",
            "FirstName",
            "Email",
            "OwnerId",
            "CreatedDate",
        ],
        lambda i: [
            f"0035g00000C{i:04d}",
            "false",
            f"0015g00000A{i % 2:04d}",
            f"Sato{i}",
            "Yui",
            f"s{i}@example.com",
            OWNER_IDS[0],
            f"2026-01-{i + 1:02d}T00:00:00.000Z",
        ],
        tables={"leads": N, "lead_stage_history": N, "reps": 1},
        check="SELECT count(DISTINCT account_id) FROM leads",
        expected=2,
    ),
    "salesforce-api-accounts-export": Export(
        "salesforce-api-accounts",
        [
            "Id",
            "Name",
            "Type",
            "Industry",
            "NumberOfEmployees",
            "AnnualRevenue",
            "OwnerId",
            "CreatedDate",
            "BillingState",
        ],
        lambda i: [
            f"0015g00000A{i:04d}",
            f"株式会社{i}",
            "Customer",
            "Technology",
            "300",
            "1200000000",
            OWNER_IDS[i % 2],
            f"2024-05-{i + 1:02d}T09:00:00.000Z",
            "東京都",
        ],
        tables={"accounts": N, "reps": 2},
        check="SELECT count(*) FROM accounts WHERE region = '東京都'",
        expected=N,
    ),
    "salesforce-api-opportunities-dataloader": Export(
        "salesforce-api-opportunities",
        [
            "ID",
            "ACCOUNTID",
            "NAME",
            "STAGENAME",
            "AMOUNT",
            "CLOSEDATE",
            "TYPE",
            "OWNERID",
            "CREATEDDATE",
            "ISWON",
            "ISCLOSED",
        ],
        lambda i: [
            f"0065g00000O{i:04d}",
            f"0015g00000A{i % 3:04d}",
            f"案件{i}",
            ["Closed Won", "Closed Lost", "Prospecting"][i % 3],
            "1500000.0",
            f"2026-06-{i + 1:02d}",
            "New Business",
            OWNER_IDS[i % 2],
            f"2026-01-{i + 1:02d}T02:00:00.000Z",
            str(i % 3 == 0).lower(),
            str(i % 3 != 2).lower(),
        ],
        encoding="cp932",
        quote_all=True,
        tables={"deals": N, "deal_stage_history": N + 6, "reps": 2},
        check="SELECT count(*) FROM deals WHERE status = 'won'",
        expected=3,
    ),
    "marketo-leads-ui": Export(
        "marketo-leads",
        [
            "Id",
            "First Name",
            "Last Name",
            "Email Address",
            "Company Name",
            "Lead Source",
            "Lead Status",
            "Created At",
            "Updated At",
        ],
        lambda i: [
            str(1000 + i),
            "Aoi",
            f"Mori{i}",
            f"m{i}@example.jp",
            "Acme KK",
            "Webinar",
            "New",
            f"Jan {i + 1}, 2026 9:0{i} AM",
            f"Feb {i + 1}, 2026 9:00 AM",
        ],
        tables={"leads": N, "lead_stage_history": N, "reps": 0},
        check="SELECT count(*) FROM leads WHERE channel = 'Webinar'",
        expected=N,
    ),
    "marketo-leads-bulk": Export(
        "marketo-leads",
        [
            "id",
            "firstName",
            "lastName",
            "email",
            "company",
            "leadSource",
            "leadStatus",
            "createdAt",
            "updatedAt",
        ],
        lambda i: [
            str(2000 + i),
            "Aoi",
            f"Mori{i}",
            f"m{i}@example.jp",
            "Acme KK",
            "Trade Show",
            "MQL",
            f"2026-01-{i + 1:02d}T09:00:00Z",
            "2026-02-01T09:00:00Z",
        ],
        tables={"leads": N, "lead_stage_history": N, "reps": 0},
        check="SELECT count(*) FROM leads WHERE current_stage = 'MQL'",
        expected=N,
    ),
    "marketo-activities-bulk": Export(
        "marketo-activities",
        [
            "marketoGUID",
            "leadId",
            "activityDate",
            "activityTypeId",
            "campaignId",
            "primaryAttributeValueId",
            "primaryAttributeValue",
            "attributes",
        ],
        lambda i: [
            str(700_000 + i),
            str(1000 + i % 4),
            f"2026-02-{i + 1:02d}T03:04:05Z",
            ["6", "10", "2", "1"][i % 4],
            "4321",
            "55",
            "Newsletter",
            json.dumps({"Mailing ID": 55, "Step ID": i}),
        ],
        tables={"activities": N},
        check="SELECT count(*) FROM activities WHERE type = 'email'",
        expected=5,
    ),
    "satori-customers-sjis": Export(
        "satori-customers",
        ["苗字", "名前", "メールアドレス", "会社名", "部署名", "役職", "電話番号", "登録日時"],
        lambda i: [
            f"木村{i}",
            "翔",
            f"k{i}@example.co.jp",
            "サトリ商事",
            "営業部",
            "主任",
            "03-1234-5678",
            f"2026/03/{i + 1:02d} 12:00",
        ],
        encoding="cp932",
        tables={"leads": N, "lead_stage_history": N, "reps": 0},
        check="SELECT min(lead_id) FROM leads",
        expected="k0@example.co.jp",
    ),
    "kintone-deals-sjis": Export(
        "kintone-deals",
        [
            "レコード番号",
            "会社名",
            "案件名",
            "担当者",
            "確度",
            "受注予定日",
            "金額",
            "ステータス",
            "作成者",
            "作成日時",
            "更新者",
            "更新日時",
        ],
        lambda i: [
            str(i + 1),
            f"株式会社キン{i % 2}",
            f"導入{i}",
            OWNERS_JA[i % 3],
            "A",
            f"2026-05-{i + 1:02d}",
            "1,000,000",
            ["商談中", "受注", "失注"][i % 3],
            "管理者",
            f"2026-01-{i + 1:02d} 10:00",
            "管理者",
            "2026-02-01 10:00",
        ],
        encoding="cp932",
        quote_all=True,
        tables={"deals": N, "deal_stage_history": N + 6, "accounts": 2, "reps": 3},
        check="SELECT count(*) FROM deals WHERE status = 'lost'",
        expected=3,
    ),
    "mazrica-deals": Export(
        "mazrica-deals",
        [
            "取引先名",
            "案件名",
            "案件タイプ",
            "契約予定日",
            "担当者",
            "フェーズ",
            "商品・サービス",
            "契約確度",
            "チャネル",
            "契約金額",
            "作成日",
        ],
        lambda i: [
            f"株式会社マツ{i % 3}",
            f"案件{i}",
            "新規",
            f"2026/07/{i + 1:02d}",
            OWNERS_JA[i % 3],
            ["提案", "受注", "失注"][i % 3],
            "SFA",
            "B",
            "紹介",
            "2,000,000",
            f"2026/01/{i + 1:02d}",
        ],
        tables={"deals": N, "deal_stage_history": N + 6, "accounts": 3, "reps": 3},
        check="SELECT count(*) FROM deals WHERE status = 'won'",
        expected=3,
    ),
}


def write_export(path: Path, export: Export) -> Path:
    rows = [export.row(i) for i in range(N)]
    with path.open("w", newline="", encoding=export.encoding) as fh:
        quoting = csv.QUOTE_ALL if export.quote_all else csv.QUOTE_MINIMAL
        writer = csv.writer(fh, quoting=quoting, lineterminator="\r\n")
        writer.writerow(export.header)
        writer.writerows(rows)
        for line in export.footer:
            if line:
                writer.writerow(line)
            else:
                fh.write("\r\n")
    return path


@pytest.fixture
def kpitree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
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


@pytest.mark.parametrize("case", sorted(EXPORTS))
def test_the_preset_is_detected_and_imports_the_export(
    case: str, kpitree: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    export = EXPORTS[case]
    f = write_export(tmp_path / f"{case}.csv", export)
    code, out, err = kpitree("mappings", "detect", str(f), "--json")
    assert code == 0, err
    first = json.loads(out)["presets"][0]
    assert (first["name"], first["fits"]) == (export.preset, True), first

    code, out, err = kpitree("import", str(f), "--mapping", export.preset, "--json")
    assert code == 0, err
    (result,) = json.loads(out)["imports"]
    assert (result["rows_read"], result["rejected"]) == (N, 0)
    stored = {t["table"]: t["rows"] for t in result["tables"]}
    assert stored == export.tables
    if export.footer:
        assert "the report's footer at the end of the file" in err
    if export.check:
        with duckdb.connect(str(default_warehouse_path(tmp_path)), read_only=True) as con:
            ((value,),) = con.sql(export.check).fetchall()
        assert value == export.expected


def test_the_existing_preset_names_still_load(kpitree: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = kpitree("mappings", "list", "--json")
    assert code == 0
    names = {p["name"] for p in json.loads(out)["presets"]}
    assert {
        "hubspot-contacts",
        "hubspot-deals",
        "salesforce-leads",
        "salesforce-opportunities",
    } <= names
    assert {e.preset for e in EXPORTS.values()} <= names


def test_a_preset_reading_the_files_own_ids_ranks_above_one_that_would_make_them(
    kpitree: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """A HubSpot export with few columns also has a Salesforce lead report's
    identifying columns (会社名, 姓, 名, 作成日): the preset that reads its
    レコードID ranks above it, though the other reads more of its columns."""
    f = tmp_path / "contacts.csv"
    f.write_text(
        "レコードID,名,姓,作成日,会社名\n501,花子,山田,2026-01-07 10:00,株式会社A\n", "utf-8"
    )
    code, out, err = kpitree("mappings", "detect", str(f), "--json")
    assert code == 0, err
    names = [p["name"] for p in json.loads(out)["presets"] if p["fits"]]
    assert names.index("hubspot-contacts") < names.index("salesforce-leads")
