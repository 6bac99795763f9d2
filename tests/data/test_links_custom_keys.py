"""A company's own key as a link key (``data.links`` of kpitree.yaml): a
customer code (顧客コード) that both a HubSpot contacts export (Japanese UI) and
a Salesforce opportunity report carry links what the company names alone
cannot (the two systems name one customer differently), ranks after the e-mail
and before 法人番号, domain and name, and is refused as ambiguous like any key.
Editing ``data.links`` after the imports rebuilds the links on the next
``kpitree data links`` / ``kpitree data check``."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kpitree import Project
from kpitree.cli import main
from kpitree.data.warehouse import default_warehouse_path

AS_OF = dt.date(2026, 6, 30)
HS_HEADERS = ["レコードID", "名", "姓", "Eメール", "ライフサイクルステージ", "作成日",
              "マーケティングクオリファイドリードになった日", "会社名", "顧客コード"]  # fmt: skip
SF_HEADERS = ["商談 所有者", "取引先名", "商談名", "フェーズ", "金額", "確度 (%)", "完了予定日",
              "作成日", "種別", "顧客コード"]  # fmt: skip

# id, company as HubSpot has it, customer code, MQL day (all in January)
CONTACTS = [
    ("201", "株式会社サン", "C-001", "2026-01-08 10:00"),
    ("202", "ムーン", "C-002", "2026-01-09 10:00"),
    ("203", "スター", "", "2026-01-10 10:00"),
    ("204", "プラネット", "C-004", "2026-01-11 10:00"),
    ("205", "コメット", "C-005", "2026-01-12 10:00"),
    ("206", "コメット", "C-005", "2026-01-13 10:00"),
    ("207", "ギャラクシー", "C-007", "2026-01-14 10:00"),
]
# company as Salesforce has it, opportunity name, customer code, created day
OPPORTUNITIES = [
    ("サン(株)", "S 新規", "C-001", "2026/02/02"),
    ("月光株式会社", "M 新規", "Ｃ－００２", "2026/02/03"),  # another name; full-width code
    ("スター", "ST 新規", "", "2026/02/04"),
    ("プラネット", "P 新規", "C-999", "2026/02/05"),  # a code nobody has: the name links
    ("コメット", "CO 新規", "C-005", "2026/02/06"),  # two contacts with the code
]
# deal (by company) -> (lead, method, status) with and without the setting
WITHOUT = {
    "サン(株)": ("201", "name", "linked"),
    "月光株式会社": (None, None, "unmatched"),
    "スター": ("203", "name", "linked"),
    "プラネット": ("204", "name", "linked"),
    "コメット": (None, "name", "ambiguous"),
}
WITH = {
    "サン(株)": ("201", "customer_code", "linked"),
    "月光株式会社": ("202", "customer_code", "linked"),
    "スター": ("203", "name", "linked"),
    "プラネット": ("204", "name", "linked"),
    "コメット": (None, "customer_code", "ambiguous"),
}
DEFINITION = """\
kpitree: 1
name: Own keys
fiscal_year_start: 1
nodes:
  opportunities: {kind: kgi, unit: count, metric: opportunities, target: 12}
  mqls: {unit: count, metric: mqls, assume: 10}
  opportunity_rate: {unit: ratio, metric: mql_to_opportunity_rate, assume: 0.2}
"""
LINKS = """\
data:
  links:
    customer_code:
      leads: [顧客コード]
      deals: [顧客コード]
"""
HS_FILE = "hubspot-crm-exports-all-contacts-2026-06-30.csv"
SF_FILE = "report1782777600000.csv"


def _write(folder: Path) -> None:
    with (folder / HS_FILE).open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(HS_HEADERS)
        for cid, company, code, mql in CONTACTS:
            w.writerow([cid, "名" + cid, "姓", f"p{cid}@example.jp",
                        "マーケティングクオリファイドリード", "2026-01-05 09:00", mql, company,
                        code])  # fmt: skip
    with (folder / SF_FILE).open("w", newline="", encoding="cp932") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(SF_HEADERS)
        for account, name, code, created in OPPORTUNITIES:
            w.writerow(["佐々木 健", account, name, "提案", "1,000,000", "50", "2026/06/30",
                        created, "新規ビジネス", code])  # fmt: skip
        fh.write("\n")
        w.writerow(["総計", "", "", "", "5,000,000", "", "", "", "", ""])


def _main(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _company(folder: Path, definition: str) -> Path:
    (folder / "kpitree.yaml").write_text(definition, encoding="utf-8")
    _write(folder)
    for name, mapping in ((HS_FILE, "hubspot-contacts"), (SF_FILE, "salesforce-opportunities")):
        assert _main("import", str(folder / name), "--mapping", mapping, "-p", str(folder)) == 0
    return folder


def _report_id(account: str, name: str, created: str) -> str:
    text = "\x1f".join([account, name, created])
    return "h:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _deal_leads(folder: Path) -> dict[str, tuple[Any, ...]]:
    with duckdb.connect(str(default_warehouse_path(folder)), read_only=True) as con:
        rows = con.sql(
            "SELECT from_id, to_id, method, status FROM kpitree_links WHERE relation = 'deal_lead'"
        ).fetchall()
    found = {r[0]: tuple(r[1:]) for r in rows}
    return {o[0]: found[_report_id(o[0], o[1], o[3])] for o in OPPORTUNITIES}


def _converted(expected: dict[str, tuple[Any, ...]]) -> int:
    """January's MQL cohort converted: the contacts a deal is linked to (every
    deal is created in February, within the 90-day window)."""
    return len({lead for lead, _, status in expected.values() if status == "linked"})


def test_an_import_links_by_the_companys_own_key(tmp_path: Path) -> None:
    folder = _company(tmp_path, DEFINITION + LINKS)
    assert _deal_leads(folder) == WITH
    rate = (
        Project.load(folder).status("2026-01", as_of=AS_OF, compare=False).row("opportunity_rate")
    )
    assert (rate.volume, rate.converted) == (len(CONTACTS), _converted(WITH)) == (7, 4)


def test_editing_data_links_rebuilds_the_links_on_the_next_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_LANG", "en")
    folder = _company(tmp_path, DEFINITION)
    assert _deal_leads(folder) == WITHOUT
    project = Project.load(folder)
    rate = project.status("2026-01", as_of=AS_OF, compare=False).row("opportunity_rate")
    assert rate.converted == _converted(WITHOUT) == 3

    (folder / "kpitree.yaml").write_text(DEFINITION + LINKS, encoding="utf-8")
    capsys.readouterr()
    assert _main("data", "links", str(folder), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert _deal_leads(folder) == WITH
    rel = next(r for r in report["relations"] if r["relation"] == "deal_lead")
    (pair,) = rel["pairs"]
    by = {m["method"]: m["linked"] for m in pair["by_method"]}
    assert by == {"customer_code": 2, "name": 2}
    (amb,) = rel["ambiguous"]
    assert (amb["method"], amb["key"], amb["candidates"]) == ("customer_code", "c-005", 2)
    assert _main("data", "links", str(folder)) == 0
    text = capsys.readouterr().out
    assert "to hubspot-contacts by customer_code: 2" in text
    assert "ambiguous: " in text and 'customer_code "c-005" matches 2 records' in text
    rate = (
        Project.load(folder).status("2026-01", as_of=AS_OF, compare=False).row("opportunity_rate")
    )
    assert rate.converted == _converted(WITH) == 4

    # And back: without the setting the next look links by the names again.
    (folder / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    assert _main("data", "check", str(folder), "--as-of", "2026-06-30", "--json") in (0, 1)
    assert _deal_leads(folder) == WITHOUT


@pytest.mark.parametrize(
    ("links", "code", "level"),
    [
        ("    id: {deals: [顧客コード], leads: [顧客コード]}\n", "KT120", "error"),
        ("    domain: {accounts: [URL]}\n", "KT120", "error"),
        ("    customer_code: {deals: [顧客コード]}\n", "KT121", "warning"),
    ],
)
def test_a_key_that_cannot_link_is_located(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    links: str,
    code: str,
    level: str,
) -> None:
    monkeypatch.setenv("KPITREE_LANG", "en")
    (tmp_path / "kpitree.yaml").write_text(DEFINITION + "data:\n  links:\n" + links, "utf-8")
    status = _main("check", str(tmp_path))
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"kpitree.yaml:10:5: {level}: data.links: " in text, text
    assert status == (1 if level == "error" else 0)
    found = Project.check(tmp_path)
    (diagnostic,) = [d for d in found.diagnostics if d.code == code]
    assert diagnostic.span is not None and diagnostic.span.line == 10


def test_a_misspelt_table_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kpitree.yaml").write_text(
        DEFINITION + "data:\n  links:\n    customer_code: {deal: [顧客コード]}\n", "utf-8"
    )
    assert _main("check", str(tmp_path)) == 1
    out = capsys.readouterr()
    assert "deals" in out.out + out.err


def test_the_key_names_match_the_data_layer() -> None:
    from kpitree.data import links
    from kpitree.definition import spec_links

    assert spec_links.BUILT_IN_KEYS == links.BUILT_IN_KEYS
    assert spec_links.RESERVED_KEYS == links.RESERVED_KEYS
