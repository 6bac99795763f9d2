"""The KPI definitions book, generated from the definition: every node with
its formula in symbols and words, data definition, targets and links, in
every format; labels are text everywhere (escaped, never a formula)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest


def _hostile(planted: Path) -> None:
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace("{ja: メール数, en: E-mails}", "'=1+1 <img src=x>'", 1), "utf-8")


def test_the_book_in_json_and_markdown(planted: Path, cli: Any, tmp_path: Path) -> None:
    entries = {e["id"]: e for e in cli("book", planted, "--json").json()}
    assert next(iter(entries)) == "mqls"  # the KGI first
    assert entries["mqls"]["formula"] == "mqls = leads * mql_rate"
    assert entries["mqls"]["formula_words"] == "MQLs = Leads × Lead to MQL rate"
    assert "stage:mql" in entries["mqls"]["metric"]
    assert entries["leads"]["drivers"] == "Calls, E-mails"
    assert entries["calls"]["target"] == "600 a month"
    assert entries["mql_rate"]["source"] == "an assumption of the plan"
    out = tmp_path / "book.md"
    result = cli("book", planted, "-f", "md", "-o", out, lang="ja")
    assert result.code == 0, result.err
    text = out.read_text(encoding="utf-8")
    assert "## MQL数 (mqls)" in text and "計算式（言葉）: MQL数 = リード獲得数 × MQL化率" in text


@pytest.mark.parametrize("fmt", ["html", "xlsx"])
def test_labels_stay_text(planted: Path, cli: Any, tmp_path: Path, fmt: str) -> None:
    _hostile(planted)
    out = tmp_path / f"book.{fmt}"
    assert cli("book", planted, "-f", fmt, "-o", out).code == 0
    if fmt == "html":
        page = out.read_text(encoding="utf-8")
        assert "<img" not in page and "&lt;img src=x&gt;" in page
        return
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(out.read_bytes())).active
    names = [sheet.cell(row=r, column=2).value for r in range(4, sheet.max_row + 1)]
    assert "=1+1 <img src=x>" in names  # a text cell, shown as written
    cell = next(
        sheet.cell(row=r, column=2)
        for r in range(4, sheet.max_row + 1)
        if sheet.cell(row=r, column=2).value == "=1+1 <img src=x>"
    )
    assert cell.data_type == "s"


def test_an_unknown_format_is_refused(planted: Path, cli: Any) -> None:
    result = cli("book", planted, "-f", "docx")
    assert result.code == 1 and "Unknown format 'docx'" in result.err


SLA = """\
sla:
  mql_first_touch:
    label: {ja: MQL初回架電, en: First call to an MQL}
    from: mql
    to: first_activity
    within_hours: 24
alerts:
  late_calls: {condition: sla_breaches, sla: mql_first_touch}
  few_calls: {node: calls, condition: below_target}
"""


def test_each_node_names_the_alerts_and_slas_that_watch_it(planted: Path, cli: Any) -> None:
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8").replace(
        "metrics:\n",
        "metrics:\n  first_touch: {type: sla_compliance, sla: mql_first_touch}\n",
    )
    text = text.replace(
        "nodes:\n",
        "nodes:\n  touch_rate:\n    label: {ja: 初回架電SLA遵守率, en: First-touch compliance}\n"
        "    unit: ratio\n    owner: inside_sales\n    metric: first_touch\n",
    )
    file.write_text(text + SLA, encoding="utf-8")
    entries = {e["id"]: e for e in cli("book", planted, "--json").json()}
    # The SLA's clock starts when a lead becomes an MQL: it watches the MQLs,
    # and the node measuring its compliance; its breaches' alert watches both.
    watched = "First call to an MQL (mql_first_touch): within 24 business hours"
    assert entries["mqls"]["slas"] == watched
    assert entries["touch_rate"]["slas"] == watched
    assert entries["mqls"]["alerts"] == "late_calls"
    assert entries["calls"]["alerts"] == "few_calls" and entries["calls"]["slas"] == ""
    assert entries["leads"]["slas"] == "" and entries["leads"]["alerts"] == ""
    ja = {e["id"]: e for e in cli("book", planted, "--json", lang="ja").json()}
    assert ja["mqls"]["slas"] == "MQL初回架電 (mql_first_touch): 24営業時間以内"


def test_the_page_downloads_the_book_and_every_node_links_to_it(planted: Path) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient
    from openpyxl import load_workbook

    from kpitree.project import Project
    from kpitree.web.app import create_app

    with closing(TestClient(create_app(planted), base_url="http://localhost")) as client:
        ja = {"Accept-Language": "ja"}
        page = client.get("/book", headers=ja).text
        assert 'data-testid="book-downloads"' in page and 'href="/book?format=pdf"' in page
        pdf = client.get("/book", params={"format": "pdf"}, headers=ja)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        assert "kpitree-book-ja.pdf" in pdf.headers["content-disposition"]
        html = client.get("/book", params={"format": "html"}, headers=ja)
        assert "MQL数 = リード獲得数 × MQL化率" in html.text and "<script" not in html.text
        en = client.get("/book", params={"format": "xlsx"}, headers={"Accept-Language": "en"})
        sheet = load_workbook(io.BytesIO(en.content)).active
        names = {sheet.cell(row=r, column=2).value for r in range(1, sheet.max_row + 1)}
        assert {"MQLs", "Leads", "Calls"} <= names
        md = client.get("/book", params={"format": "md"}, headers=ja)
        assert "## MQL数 (mqls)" in md.text
        refused = client.get("/book", params={"format": "docx"}, headers={"Accept-Language": "en"})
        assert refused.status_code == 400 and "KT240" in refused.text
        # Phrased for the page's query string, not for the CLI's --format.
        assert "?format=" in refused.text and "--format" not in refused.text
        refused_ja = client.get("/book", params={"format": "docx"}, headers=ja)
        assert refused_ja.status_code == 400 and "?format=" in refused_ja.text
        assert "ブック形式" in refused_ja.text
        for node in Project.load(planted).tree.nodes:
            assert f'href="/book#{node}"' in client.get(f"/nodes/{node}").text, node


def test_every_field_of_an_entry_comes_from_the_definition(planted: Path, cli: Any) -> None:
    """Meaning, reference range, leading/lagging, which way is better, and a
    metric's filters, cohort window and credit rule, in both languages."""
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    text = text.replace(
        "    label: {ja: MQL化率, en: Lead to MQL rate}\n",
        "    label: {ja: MQL化率, en: Lead to MQL rate}\n"
        "    description: {ja: リードのうちMQLになった割合, en: Share of leads that became MQLs}\n"
        "    benchmark: {min: 0.15, max: 0.3, source: 業界調査2025}\n",
    )
    text = text.replace(
        "    where: {type: email}\n",
        "    where: {type: email}\n    credit: lead_owner\n"
        "  mql_to_won_90d: {type: conversion, entity: leads, from: mql, to: won,"
        " window_days: 90}\n",
    )
    text = text.replace(
        "    owner: marketing\n    assume: 0.25\n",
        "    owner: marketing\n    assume: 0.25\n"
        "  won_90d: {unit: ratio, owner: marketing, metric: mql_to_won_90d}\n",
    )
    file.write_text(text, encoding="utf-8")
    en = {e["id"]: e for e in cli("book", planted, "--json").json()}
    rate = en["mql_rate"]
    assert rate["description"] == "Share of leads that became MQLs"
    assert rate["benchmark"] == "15.0%–30.0% (業界調査2025)"
    assert (rate["direction"], en["calls"]["indicator"]) == ("higher", "leading")
    assert "where type=email" in en["emails"]["metric"]
    assert "credited to lead_owner" in en["emails"]["metric"]
    assert "window 90 days" in en["won_90d"]["metric"] and "mql → won" in en["won_90d"]["metric"]
    ja = {e["id"]: e for e in cli("book", planted, "--json", lang="ja").json()}
    assert ja["mql_rate"]["description"] == "リードのうちMQLになった割合"
    assert ja["calls"]["indicator"] != en["calls"]["indicator"]
