"""One company from two sources: a HubSpot contacts export from the Japanese UI
(UTF-8 with a BOM) and a Salesforce opportunity report from a Japanese org
(Shift_JIS, every cell quoted, no ID column, the report's footer), imported
through the real entry point. The linked funnel (MQL -> opportunity -> won, as
cohort rates) must equal a count made here in plain Python from the
construction, and ``kpitree data links`` must say what was linked, how, and
what was not."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree import Project
from kpitree.cli import main
from kpitree.data.warehouse import default_warehouse_path

AS_OF = dt.date(2026, 12, 1)

HS_HEADERS = ["レコードID", "名", "姓", "Eメール", "ライフサイクルステージ", "作成日",
              "リードになった日", "マーケティングクオリファイドリードになった日", "会社名",
              "法人番号"]  # fmt: skip
SF_HEADERS = ["商談 所有者", "取引先名", "商談名", "フェーズ", "金額", "確度 (%)", "完了予定日",
              "作成日", "種別", "取引先責任者: メール", "法人番号"]  # fmt: skip


@dataclass(frozen=True)
class Contact:
    id: str
    email: str
    company: str  # as HubSpot has it
    created: str  # YYYY-MM-DD HH:MM (JST)
    mql: str  # "" when never an MQL
    corporate_number: str = ""


@dataclass(frozen=True)
class Opportunity:
    account: str  # as the Salesforce report has it (取引先名)
    name: str
    stage: str  # 成立 / 不成立 / 提案
    created: str  # YYYY/MM/DD
    close: str  # YYYY/MM/DD
    contact_email: str = ""
    corporate_number: str = ""
    lead: str | None = None  # the contact it came from, by construction (None: no one)


CONTACTS = [
    Contact("101", "t@alpha.jp", "株式会社アルファ", "2026-01-05 09:00", "2026-01-08 10:00"),
    Contact("102", "h@beta.jp", "ＢＥＴＡ株式会社", "2026-01-06 09:00", "2026-01-09 10:00"),
    Contact("103", "j@gamma.jp", "ガンマ商事 株式会社", "2026-01-07 09:00", "2026-01-12 10:00"),
    Contact("104", "s@delta.jp", "デルタ", "2026-01-08 09:00", "2026-01-14 10:00"),
    Contact("105", "g@eps.jp", "イプシロン(株)", "2026-01-09 09:00", "2026-01-15 10:00"),
    Contact("106", "roku@eps.jp", "イプシロン(株)", "2026-01-09 09:30", "2026-01-16 10:00"),
    Contact("107", "nana@zeta.jp", "ゼータ", "2026-01-10 09:00", "2026-01-17 10:00"),
    Contact("108", "hachi@zeta.jp", "ゼータ", "2026-01-10 09:30", "2026-01-18 10:00"),
    Contact("109", "kyu@eta.jp", "エータ", "2026-01-11 09:00", "2026-01-19 10:00"),
    Contact("110", "ju@theta.jp", "シータ", "2026-01-12 09:00", "2026-01-20 10:00"),
    # A company known by its 法人番号 (the National Tax Agency's own, a real check digit).
    Contact("111", "k@iota.jp", "イオタ", "2026-01-13 09:00", "2026-01-21 10:00",
            "7000012050002"),
    # MQL in February: not in January's cohort.
    Contact("112", "l@kappa.jp", "カッパ", "2026-02-02 09:00", "2026-02-03 10:00"),
    # Never an MQL, but an opportunity came of it.
    Contact("113", "m@lambda.jp", "ラムダ 株式会社", "2026-01-14 09:00", ""),
]  # fmt: skip

OPPORTUNITIES = [
    # Company-name variants of a single contact's company: 株式会社 before / (株)
    # after, full-width letters, spacing, ㈱.
    Opportunity("アルファ(株)", "A 年間契約", "成立", "2026/01/20", "2026/03/10", lead="101"),
    Opportunity("Beta 株式会社", "B 導入", "提案", "2026/01/28", "2026/05/31", lead="102"),
    Opportunity("ガンマ商事㈱", "C PoC", "不成立", "2026/02/10", "2026/03/31", lead="103"),
    Opportunity("（株）デルタ", "D 追加", "成立", "2026/02/20", "2026/04/15", lead="104"),
    # Two contacts at イプシロン: the contact's e-mail decides (e-mail beats name).
    Opportunity("イプシロン株式会社", "E 更新", "成立", "2026/02/01", "2026/03/01",
                contact_email="ROKU@eps.jp", lead="106"),
    # Two contacts at ゼータ and nothing else: ambiguous, refused.
    Opportunity("ゼータ", "Z 新規", "成立", "2026/02/01", "2026/03/01"),
    # エータ's opportunity comes 160 days after the MQL: outside the 90-day window.
    Opportunity("エータ", "H 新規", "提案", "2026/06/28", "2026/09/30", lead="109"),
    # By 法人番号, written with hyphens and in full-width digits, under another name.
    Opportunity("イオタ・ホールディングス", "I 新規", "成立", "2026/02/05", "2026/04/01",
                corporate_number="７０００-０１２０-５０００２", lead="111"),
    Opportunity("カッパ", "K 新規", "提案", "2026/02/20", "2026/06/30", lead="112"),
    Opportunity("ラムダ", "L 新規", "成立", "2026/02/01", "2026/03/15", lead="113"),
    # No such company in HubSpot.
    Opportunity("オメガ", "O 新規", "提案", "2026/01/25", "2026/04/30"),
]  # fmt: skip

MAPPING_DEFINITION = """\
kpitree: 1
name: Two sources
fiscal_year_start: 1
nodes:
  won_deals: {kind: kgi, unit: count, metric: won_deals, target: 12}
  mqls: {unit: count, metric: mqls, assume: 10}
  opportunity_rate: {unit: ratio, metric: mql_to_opportunity_rate, assume: 0.2}
  won_rate: {unit: ratio, metric: mql_to_won_rate, assume: 0.05}
  opportunities: {unit: count, metric: opportunities, assume: 2}
"""


def _report_id(o: Opportunity) -> str:
    """The documented synthetic id of a report row without an ID column."""
    text = "\x1f".join([o.account, o.name, o.created])
    return "h:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _write_hubspot(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(HS_HEADERS)
        for c in CONTACTS:
            stage = "マーケティングクオリファイドリード" if c.mql else "リード"
            first, last = "名" + c.id, "姓"
            w.writerow([c.id, first, last, c.email, stage, c.created, c.created, c.mql,
                        c.company, c.corporate_number])  # fmt: skip


def _write_salesforce(path: Path) -> None:
    with path.open("w", newline="", encoding="cp932") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(SF_HEADERS)
        for o in OPPORTUNITIES:
            w.writerow(["佐々木 健", o.account, o.name, o.stage, "1,000,000",
                        "100" if o.stage == "成立" else "50", o.close, o.created, "新規ビジネス",
                        o.contact_email, o.corporate_number])  # fmt: skip
        fh.write("\n")
        w.writerow(["総計", "", "", "", "11,000,000", "", "", "", "", "", ""])
        fh.write("\n")
        w.writerow(["Confidential Information - Do Not Distribute"])
        w.writerow(["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."])


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10].replace("/", "-"))


def _expected_cohort(month: int, to: str, window: int) -> tuple[int, int]:
    """(entrants, converted) of January's (month's) MQL cohort, counted from the
    construction: an MQL converts when an opportunity that came from it by
    construction was created (to=opportunity) or won (to=won, on its close day)
    within ``window`` days of the MQL day and by the as-of day."""
    entrants = converted = 0
    for c in CONTACTS:
        if not c.mql or _day(c.mql).month != month:
            continue
        entrants += 1
        days = []
        for o in OPPORTUNITIES:
            if o.lead != c.id:
                continue
            if to == "opportunity":
                days.append(_day(o.created))
            elif o.stage == "成立":
                days.append(_day(o.close))
        first = min(days, default=None)
        if first is not None and _day(c.mql) <= first <= _day(c.mql) + dt.timedelta(window):
            converted += first <= AS_OF
    return entrants, converted


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two-sources")
    (folder / "kpitree.yaml").write_text(MAPPING_DEFINITION, encoding="utf-8")
    _write_hubspot(folder / "hubspot-crm-exports-all-contacts-2026-12-01.csv")
    _write_salesforce(folder / "report1764547200000.csv")
    for name, mapping in (
        ("hubspot-crm-exports-all-contacts-2026-12-01.csv", "hubspot-contacts"),
        ("report1764547200000.csv", "salesforce-opportunities"),
    ):
        code = _main("import", str(folder / name), "--mapping", mapping, "-p", str(folder))
        assert code == 0, name
    return folder


def _main(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_the_linked_funnel_equals_the_count_from_the_construction(company: Path) -> None:
    project = Project.load(company)
    result = project.status("2026-01", as_of=AS_OF, compare=False)
    entrants, converted = _expected_cohort(1, "opportunity", 90)
    assert (entrants, converted) == (11, 6)  # the construction, checked by hand once
    rate = result.row("opportunity_rate")
    assert (rate.volume, rate.converted) == (entrants, converted)
    assert rate.actual == pytest.approx(converted / entrants)
    won_entrants, won = _expected_cohort(1, "won", 365)
    assert (won_entrants, won) == (11, 4)
    won_rate = result.row("won_rate")
    assert (won_rate.volume, won_rate.converted) == (won_entrants, won)
    assert result.row("mqls").actual == entrants
    # Every opportunity created in January counts once, linked or not.
    jan = sum(1 for o in OPPORTUNITIES if _day(o.created).month == 1)
    assert result.row("opportunities").actual == jan


def test_february_cohort_and_rates_stay_shares_of_their_cohort(company: Path) -> None:
    project = Project.load(company)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    result = project.status(months, as_of=AS_OF, compare=False)
    for m in range(1, 13):
        rate = result.row("opportunity_rate", f"2026-{m:02d}")
        if rate.volume:
            assert 0 <= rate.actual <= 1
            assert (rate.volume, rate.converted) == _expected_cohort(m, "opportunity", 90)


def _links(company: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    with duckdb.connect(str(default_warehouse_path(company)), read_only=True) as con:
        rows = con.sql(
            "SELECT relation, from_id, to_id, method, status, candidates FROM kpitree_links"
        ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_each_deal_is_linked_to_its_lead_by_the_expected_method(company: Path) -> None:
    links = _links(company)
    expected_method = {
        "101": "name", "102": "name", "103": "name", "104": "name", "106": "email",
        "109": "name", "111": "corporate_number", "112": "name", "113": "name",
    }  # fmt: skip
    for o in OPPORTUNITIES:
        to_id, method, status, candidates = links[("deal_lead", _report_id(o))]
        if o.lead is not None:
            assert (to_id, method, status) == (o.lead, expected_method[o.lead], "linked"), o
        elif o.account == "ゼータ":
            assert (to_id, method, status, candidates) == (None, "name", "ambiguous", 2)
        else:
            assert (to_id, status) == (None, "unmatched"), o


def test_kpitree_data_links_reports_rates_unmatched_and_ambiguous(
    company: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_LANG", "en")
    capsys.readouterr()
    assert _main("data", "links", str(company), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    rel = next(r for r in report["relations"] if r["relation"] == "deal_lead")
    (pair,) = rel["pairs"]
    assert pair["from_source"] == "salesforce-opportunities"
    assert (pair["records"], pair["linked"], pair["ambiguous"], pair["unmatched"]) == (11, 9, 1, 1)
    assert pair["rate"] == pytest.approx(9 / 11)
    by = {(m["to_source"], m["method"]): m["linked"] for m in pair["by_method"]}
    assert by == {
        ("hubspot-contacts", "name"): 7,
        ("hubspot-contacts", "email"): 1,
        ("hubspot-contacts", "corporate_number"): 1,
    }
    omega = next(o for o in OPPORTUNITIES if o.account == "オメガ")
    zeta = next(o for o in OPPORTUNITIES if o.account == "ゼータ")
    # Listed with what names it in the export (the company, as its match key).
    assert rel["unmatched"] == [
        {"id": _report_id(omega), "source": "salesforce-opportunities", "label": "オメガ"}
    ]
    # HubSpot alone holds leads: no "same person in another source" to look for.
    assert "lead_lead" not in {r["relation"] for r in report["relations"]}
    (amb,) = rel["ambiguous"]
    assert (amb["id"], amb["method"], amb["key"], amb["candidates"]) == (
        _report_id(zeta), "name", "ゼータ", 2,
    )  # fmt: skip
    assert amb["examples"] == ["107", "108"]

    assert _main("data", "links", str(company), "--limit", "0") == 0
    text = capsys.readouterr().out
    assert "from salesforce-opportunities: 9 of 11 linked (81.8%), 1 ambiguous, 1 unmatched" in text
    assert "to hubspot-contacts by e-mail: 1" in text
    assert _main("data", "links", str(company)) == 0
    assert f"unmatched (first 20): {_report_id(omega)} (オメガ)" in capsys.readouterr().out
    assert "hint: add the lead's id or the contact's e-mail" in text


@pytest.mark.postgres
def test_the_linked_funnel_is_the_same_on_postgres(company: Path, postgres_url: str) -> None:
    from kpitree.engines import copy_warehouse, open_engine

    copy_warehouse(default_warehouse_path(company), postgres_url)
    project = Project.load(company)
    months = [f"2026-{m:02d}" for m in range(1, 7)]
    expected = project.status(months, as_of=AS_OF, compare=False).frame
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        pg.roster = project.roster()
        got = project.status(months, as_of=AS_OF, compare=False, engine=pg).frame
    import pandas as pd

    pd.testing.assert_frame_equal(got, expected)
    jan = got[(got["node"] == "opportunity_rate") & (got["period"] == "2026-01")]
    assert jan["actual"].tolist() == [6 / 11]
