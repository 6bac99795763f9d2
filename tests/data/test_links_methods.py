"""Each link method on a case known by construction, the refusals (ambiguous
matches, free mail, a 法人番号 with a wrong check digit), the link rules of the
data-quality check, and links rebuilt by undo. Three sources are loaded as
three imports: ``hs`` (leads and an account), ``sf`` (deals and accounts) and
``sf-leads`` (one lead that is also in ``hs``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree import Project
from kpitree.compute.quality import check_quality
from kpitree.data import linkkeys
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse

AT = dt.datetime(2026, 4, 1, 1, tzinfo=dt.UTC)


def _lead(lead_id: str, **attributes: str) -> dict[str, Any]:
    return {"lead_id": lead_id, "created_at": AT,
            "attributes": json.dumps(attributes, ensure_ascii=False)}  # fmt: skip


def _deal(deal_id: str, lead_id: str | None = None, account_id: str | None = None,
          **attributes: str) -> dict[str, Any]:  # fmt: skip
    return {"deal_id": deal_id, "lead_id": lead_id, "account_id": account_id, "status": "open",
            "created_at": AT + dt.timedelta(days=10),
            "attributes": json.dumps(attributes, ensure_ascii=False)}  # fmt: skip


HS = {
    "leads": [
        _lead("L1", Eメール="a@one.co.jp", 会社名="株式会社ワン"),
        _lead("L2", Email="b@two.co.jp", Company="Two Inc."),
        _lead("L3", 会社名="スリー", 法人番号="7000012050002"),
        _lead("L4", Eメール="d@four.co.jp"),
        _lead("L5", 会社名="ファイブ"),
        _lead("L6", 会社名="ファイブ(株)"),
        _lead("L7", Eメール="g@gmail.com", 会社名="セブン"),
        _lead("L8"),
        _lead("L9", Eメール="dup@nine.co.jp"),
        _lead("L11", 法人番号="7000012050003"),  # a wrong check digit
    ],
    "accounts": [{"account_id": "A1", "name": "株式会社テン"}],
    # L9 is an MQL in April (the only one of the cohort).
    "lead_stage_history": [{"lead_id": "L9", "stage": "mql", "entered_at": AT}],
}
SF = {
    "deals": [
        _deal("D1", **{"取引先責任者: メール": "A@ONE.CO.JP"}),
        _deal("D2", account_id="ACC2"),
        _deal("D3", 法人番号="７０００-０１２０-５０００２", 取引先名="全然違う名前"),
        _deal("D4", **{"Contact Email": "x@four.co.jp"}),
        _deal("D5", 取引先名="ﾌｧｲﾌﾞ 株式会社"),
        _deal("D6", lead_id="L8"),
        _deal("D7", **{"Contact Email": "z@gmail.com", "取引先名": "誰も知らない"}),
        _deal("D8", lead_id="L99", 取引先名="株式会社セブン"),
        _deal("D9", **{"Contact Email": "dup@nine.co.jp"}),
        _deal("D10", 法人番号="7000012050003"),
        _deal("D11", lead_id="L10"),
    ],
    "accounts": [
        {"account_id": "ACC2", "name": "TWO"},
        {"account_id": "A2", "name": "テン(株)"},
    ],
}
SF_LEADS = {"leads": [_lead("L10", Email="DUP@nine.co.jp")]}

# deal -> (lead, method, status, candidates) by construction
EXPECTED = {
    "D1": ("L1", "email", "linked", 1),
    "D2": ("L2", "name", "linked", 1),
    "D3": ("L3", "corporate_number", "linked", 1),
    "D4": ("L4", "domain", "linked", 1),
    "D5": (None, "name", "ambiguous", 2),  # ファイブ and ファイブ(株)
    "D6": ("L8", "id", "linked", 1),
    "D7": (None, None, "unmatched", None),  # free mail says nothing of a company
    "D8": ("L7", "name", "linked", 1),  # its lead id names no lead: the name links it
    "D9": (None, "email", "ambiguous", 2),  # the same person in hs and sf-leads
    "D10": (None, None, "unmatched", None),  # not a 法人番号
    "D11": ("L10", "id", "linked", 1),
}

DEFINITION = """\
kpitree: 1
name: Links
fiscal_year_start: 4
nodes:
  opportunities: {kind: kgi, unit: count, metric: opportunities, target: 10}
  mqls: {unit: count, metric: mqls, assume: 10}
  opportunity_rate: {unit: ratio, metric: mql_to_opportunity_rate, assume: 0.2}
  leads: {unit: count, metric: leads, assume: 10}
data:
  warehouse: warehouse.duckdb
"""


def _table(name: str, rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = arrow_schema(name)
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema=schema)


def _load(wh: Warehouse, tables: dict[str, list[dict[str, Any]]], source: str) -> int:
    arrow = {name: _table(name, rows) for name, rows in tables.items()}
    return wh.bulk_load(arrow, label=f"{source}.csv", source=source).import_id


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    _load(wh, HS, "hs")
    _load(wh, SF, "sf")
    _load(wh, SF_LEADS, "sf-leads")
    return Project.load(tmp_path)


def _links(project: Project, relation: str) -> dict[str, tuple[Any, ...]]:
    with duckdb.connect(project.warehouse_target, read_only=True) as con:
        rows = con.execute(
            "SELECT from_id, to_id, method, status, candidates, from_source, to_source "
            "FROM kpitree_links WHERE relation = ?",
            [relation],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_each_method_links_what_it_should_and_refuses_the_rest(project: Project) -> None:
    links = _links(project, "deal_lead")
    got = {d: row[:4] for d, row in links.items()}
    assert got == EXPECTED
    assert links["D1"][4:] == ("sf", "hs")
    assert links["D7"][4:] == ("sf", None)


def test_a_deal_and_a_lead_find_their_account(project: Project) -> None:
    assert _links(project, "deal_account")["D2"][:3] == ("ACC2", "id", "linked")
    # Two Inc. (a lead of hs) and TWO (an account of sf): the same company.
    assert _links(project, "lead_account")["L2"][:3] == ("ACC2", "name", "linked")


def test_the_link_rules_of_the_data_check(project: Project) -> None:
    with project.engine() as engine:
        report = check_quality(engine, project.catalogue, project.tree, dt.date(2026, 6, 30))
    found = {(f.rule, f.table): f for f in report.findings}
    dup = found[("duplicate_across_sources", "leads")]
    assert (dup.code, dup.level, dup.count, dup.examples) == ("KT340", "warning", 2, ("L10", "L9"))
    assert set(dup.nodes) >= {"leads", "mqls", "opportunity_rate"}
    companies = found[("duplicate_across_sources", "accounts")]
    assert (companies.count, companies.examples) == (2, ("A1", "A2"))
    amb = found[("ambiguous_link", "deals")]
    assert (amb.code, amb.count, amb.examples) == ("KT341", 2, ("D5", "D9"))
    # An ambiguous deal may be some MQL's opportunity: the cohort rate is touched.
    assert "opportunity_rate" in amb.nodes and "opportunities" in amb.nodes
    unlinked = found[("unlinked_deal", "deals")]
    # No lead: D5, D7, D9, D10; no account: every deal but D2.
    assert unlinked.code == "KT342"
    assert unlinked.count == 10 and "D2" not in unlinked.examples


def test_the_link_rules_can_be_turned_off(project: Project, tmp_path: Path) -> None:
    text = DEFINITION + "  quality: {levels: {unlinked_deal: off, ambiguous_link: error}}\n"
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    project = Project.load(tmp_path)
    with project.engine() as engine:
        report = check_quality(engine, project.catalogue, project.tree, dt.date(2026, 6, 30))
    rules = {f.rule: f.level for f in report.findings}
    assert "unlinked_deal" not in rules and rules["ambiguous_link"] == "error"


def test_the_same_person_in_two_sources_shares_its_conversions(project: Project) -> None:
    # L9 (hs) and L10 (sf-leads) have one e-mail: the same person, each way.
    same = _links(project, "lead_lead")
    assert same["L9"][:3] == ("L10", "email", "linked")
    assert same["L10"][:3] == ("L9", "email", "linked")
    assert same["L1"][2] == "unmatched"
    # D11 came from L10 (by id): L9, an MQL of April, became an opportunity.
    rate = project.status("2026-04", as_of=dt.date(2026, 6, 30), compare=False)
    row = rate.row("opportunity_rate")
    assert (row.volume, row.converted, row.actual) == (1, 1, 1.0)


def test_within_one_source_its_own_references_are_the_links(tmp_path: Path) -> None:
    """A deal a system stores without a lead id has no originating lead there:
    its company's name, shared by that company's leads in the same source, is
    no reason to call it ambiguous (or to link it to one of them)."""
    (tmp_path / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    one = {
        "leads": [_lead("L1", 会社名="株式会社ワン"), _lead("L2", 会社名="ワン(株)")],
        "deals": [
            _deal("D1", lead_id="L1", 取引先名="株式会社ワン"),
            _deal("D2", 取引先名="株式会社ワン"),  # a renewal: no originating lead
        ],
    }
    _load(Warehouse(tmp_path / "warehouse.duckdb"), one, "crm")
    project = Project.load(tmp_path)
    links = _links(project, "deal_lead")
    assert links["D1"][:3] == ("L1", "id", "linked")
    assert links["D2"][:3] == (None, None, "unmatched")
    with project.engine() as engine:
        report = check_quality(engine, project.catalogue, project.tree, dt.date(2026, 6, 30))
    assert not {"ambiguous_link", "unlinked_deal"} & {f.rule for f in report.findings}


def test_undo_takes_its_links_with_it(project: Project) -> None:
    wh = Warehouse(project.warehouse_target)
    sf_leads = next(r.import_id for r in wh.imports() if r.mapping_name == "sf-leads")
    wh.undo(sf_leads)
    # L10 is gone: D9's e-mail now names one lead.
    assert _links(project, "deal_lead")["D9"][:4] == ("L9", "email", "linked", 1)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("株式会社アルファ", "アルファ株式会社"),
        ("株式会社アルファ", "(株)アルファ"),
        ("アルファ㈱", "アルファ（株）"),
        ("ｱﾙﾌｧ 株式会社", "アルファ"),
        ("ＡＢＣ　ホールディングス", "abc ホールディングス"),
        ("ABC Co., Ltd.", "ABC株式会社"),
        ("Acme Inc.", "ACME"),
        ("有限会社 ベータ商店", "ベータ商店"),
        ("一般社団法人ガンマ協会", "ガンマ協会"),
    ],
)
def test_company_name_variants_are_one_company(a: str, b: str) -> None:
    assert linkkeys.company_name(a) == linkkeys.company_name(b) is not None


def test_keys_that_are_not_keys() -> None:
    assert linkkeys.company_name("株式会社") is None
    assert linkkeys.company_name("アルファ") != linkkeys.company_name("アルファー")
    assert linkkeys.corporate_number("7000012050002") == "7000012050002"
    assert linkkeys.corporate_number("７０００-０１２０-５０００２") == "7000012050002"
    assert linkkeys.corporate_number("7000012050003") is None  # check digit
    assert linkkeys.corporate_number("700001205000") is None  # 12 digits
    assert linkkeys.email(" Taro@Example.CO.JP ") == "taro@example.co.jp"
    assert linkkeys.email("taro@") is None
    assert linkkeys.email_domain("taro@docomo.ne.jp") is None
    assert linkkeys.email_domain("taro@ｅｘａｍｐｌｅ.co.jp") == "example.co.jp"
    assert linkkeys.web_domain("https://www.example.co.jp/company/") == "example.co.jp"
