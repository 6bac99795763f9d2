"""Each preset on a small export written with the vendor's real header names."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map

UTC = dt.UTC


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_hubspot_contacts(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "hubspot-crm-exports-all-contacts.csv",
        [
            [
                "Record ID",
                "First Name",
                "Last Name",
                "Email",
                "Create Date",
                "Lifecycle Stage",
                "Became a Lead Date",
                "Became a Marketing Qualified Lead Date",
                "Became a Sales Qualified Lead Date",
                "Became an Opportunity Date",
                "Became a Customer Date",
                "Contact owner",
                "Original Source",
            ],
            [
                "101",
                "太郎",
                "山田",
                "t@example.jp",
                "2026-01-07 09:05",
                "Customer",
                "2026-01-07 09:05",
                "2026-01-10 10:00",
                "2026-01-12 11:00",
                "2026-01-20 12:00",
                "2026-02-01 13:00",
                "佐藤 花子",
                "Organic Search",
            ],
            [
                "102",
                "花子",
                "鈴木",
                "h@example.jp",
                "2026-01-08 10:00",
                "Lead",
                "2026-01-08 10:00",
                "",
                "",
                "",
                "",
                "",
                "Paid Social",
            ],
        ],
    )
    batch = read_and_map(path, load_mapping("hubspot-contacts"))
    assert batch.rejects == []
    leads = batch.tables["leads"].sort_by("lead_id").to_pydict()
    assert leads["lead_id"] == ["101", "102"]
    assert leads["current_stage"] == ["won", "lead"]
    assert leads["channel"] == ["organic_search", "paid_social"]
    assert leads["owner_id"] == ["佐藤 花子", None]
    history = batch.tables["lead_stage_history"].to_pylist()
    assert sorted((h["lead_id"], h["stage"]) for h in history) == [
        ("101", "lead"),
        ("101", "mql"),
        ("101", "opportunity"),
        ("101", "sql"),
        ("101", "won"),
        ("102", "lead"),
    ]
    assert batch.tables["reps"].column("rep_id").to_pylist() == ["佐藤 花子"]


def test_hubspot_deals(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "deals.csv",
        [
            [
                "Record ID",
                "Deal Name",
                "Deal Stage",
                "Amount",
                "Close Date",
                "Create Date",
                "Deal owner",
                "Pipeline",
            ],
            [
                "9001",
                "A社 導入",
                "Closed Won",
                "1200000",
                "2026-03-31 00:00",
                "2026-01-07 09:00",
                "佐藤 花子",
                "Sales Pipeline",
            ],
            [
                "9002",
                "B社 導入",
                "Closed Lost",
                "500000",
                "2026-03-15 00:00",
                "2026-01-08 09:00",
                "佐藤 花子",
                "Sales Pipeline",
            ],
            [
                "9003",
                "C社 導入",
                "Contract Sent",
                "",
                "2026-04-30 00:00",
                "2026-02-01 09:00",
                "鈴木 一郎",
                "Sales Pipeline",
            ],
        ],
    )
    batch = read_and_map(path, load_mapping("hubspot-deals"))
    assert batch.rejects == []
    deals = batch.tables["deals"].to_pydict()
    assert deals["status"] == ["won", "lost", "open"]
    assert deals["stage"] == ["Closed Won", "Closed Lost", "Contract Sent"]
    assert deals["amount"] == [1200000.0, 500000.0, None]
    assert deals["currency"] == ["JPY"] * 3
    assert deals["close_date"][0] == dt.date(2026, 3, 31)
    assert '"Deal Name":"A社 導入"' in deals["attributes"][0]
    history = [(h["deal_id"], h["stage"]) for h in batch.tables["deal_stage_history"].to_pylist()]
    assert history == [
        ("9001", "opportunity"),
        ("9001", "won"),
        ("9002", "lost"),
        ("9002", "opportunity"),
        ("9003", "opportunity"),
    ]


def test_salesforce_leads_us_dates(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "report.csv",
        [
            [
                "Lead Owner",
                "First Name",
                "Last Name",
                "Title",
                "Company / Account",
                "Lead Source",
                "Lead Status",
                "Create Date",
                "Lead ID",
            ],
            [
                "Hanako Sato",
                "Taro",
                "Yamada",
                "CTO",
                "Acme KK",
                "Web",
                "Open - Not Contacted",
                "1/7/2026",
                "00Q5g00000AbCdE",
            ],
            [
                "Hanako Sato",
                "Jiro",
                "Suzuki",
                "CEO",
                "Beta KK",
                "Seminar",
                "Closed - Converted",
                "2026/01/08",
                "00Q5g00000AbCdF",
            ],
        ],
    )
    batch = read_and_map(path, load_mapping("salesforce-leads"))
    assert batch.rejects == []
    leads = batch.tables["leads"].to_pydict()
    assert leads["current_stage"] == ["lead", "opportunity"]
    assert leads["created_at"] == [
        dt.datetime(2026, 1, 6, 15, 0, tzinfo=UTC),
        dt.datetime(2026, 1, 7, 15, 0, tzinfo=UTC),
    ]
    assert leads["account_id"] == ["Acme KK", "Beta KK"]


def test_salesforce_opportunities_english_and_japanese(tmp_path: Path) -> None:
    english = _csv(
        tmp_path / "opps.csv",
        [
            [
                "Opportunity Owner",
                "Account Name",
                "Opportunity Name",
                "Stage",
                "Fiscal Period",
                "Amount",
                "Probability (%)",
                "Close Date",
                "Created Date",
                "Opportunity ID",
            ],
            [
                "Hanako Sato",
                "Acme KK",
                "Acme - 100 seats",
                "Closed Won",
                "Q1-2026",
                "¥1,200,000",
                "100",
                "3/31/2026",
                "1/7/2026",
                "0065g00000XyZ01",
            ],
            [
                "Hanako Sato",
                "Beta KK",
                "Beta - pilot",
                "Negotiation/Review",
                "Q2-2026",
                "USD 5,000.00",
                "90",
                "4/30/2026",
                "2/1/2026",
                "0065g00000XyZ02",
            ],
        ],
    )
    batch = read_and_map(english, load_mapping("salesforce-opportunities"))
    assert batch.rejects == []
    deals = batch.tables["deals"].to_pydict()
    assert deals["status"] == ["won", "open"]
    assert deals["amount"] == [1200000.0, 5000.0]
    assert deals["currency"] == ["JPY", "USD"]
    assert deals["close_date"] == [dt.date(2026, 3, 31), dt.date(2026, 4, 30)]
    assert batch.tables["accounts"].column("name").to_pylist() == ["Acme KK", "Beta KK"]

    japanese = _csv(
        tmp_path / "商談.csv",
        [
            ["商談 所有者", "取引先名", "商談名", "フェーズ", "金額", "完了予定日", "作成日"],
            [
                "佐藤 花子",
                "株式会社サンプル",
                "サンプル 100席",
                "成立",
                "1,200,000",
                "2026/03/31",
                "2026/01/07",
            ],
            [
                "佐藤 花子",
                "テスト商事",
                "テスト PoC",
                "不成立",
                "300,000",
                "2026/03/15",
                "2026/01/09",
            ],
        ],
        encoding="cp932",
    )
    batch = read_and_map(japanese, load_mapping("salesforce-opportunities"))
    assert batch.rejects == []
    deals = batch.tables["deals"].to_pydict()
    # No ID column: the id is made from the account, the name and the created date.
    assert deals["deal_id"] == [
        "h:" + hashlib.sha256("\x1f".join(cells).encode()).hexdigest()[:16]
        for cells in (
            ("株式会社サンプル", "サンプル 100席", "2026/01/07"),
            ("テスト商事", "テスト PoC", "2026/01/09"),
        )
    ]
    assert deals["status"] == ["won", "lost"]
    assert deals["account_id"] == ["株式会社サンプル", "テスト商事"]


def test_a_bad_cell_that_feeds_two_fields_is_reported_once(tmp_path: Path) -> None:
    # Close Date is both the deal's close date and the time of its won/lost event.
    path = _csv(
        tmp_path / "opps.csv",
        [
            [
                "Opportunity ID",
                "Opportunity Name",
                "Created Date",
                "Close Date",
                "Amount",
                "Stage",
                "Opportunity Owner",
            ],
            ["O1", "a", "01/05/2025", "bad-date", "1000", "Closed Won", "rep"],
        ],
    )
    batch = read_and_map(path, load_mapping("salesforce-opportunities"))
    assert [(r.row, r.column, r.value) for r in batch.rejects] == [(2, "Close Date", "bad-date")]
