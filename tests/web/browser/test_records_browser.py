"""The records behind a number in a real Chromium against a real ``kpitree
serve``: a tap on a number opens its list, whose row count is that number, for
a sample of nodes, periods and segments; a rate opens its entrants and its
converted; the list pages, sorts, searches and downloads."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

SAMPLES = (
    ("leads", "FY2026-Q2", ""),
    ("opportunities", "2026-10", "&department=inside_sales"),
    ("calls", "2026-09", "&department=inside_sales"),
    ("mqls", "FY2025", "&channel=event"),
)


def _api(base: str, path: str) -> Any:
    answer = httpx.get(base + path, timeout=120)
    answer.raise_for_status()
    return answer.json()


def test_a_tap_on_a_number_opens_as_many_records(page: Any, live_server: str) -> None:
    for node, period, segment in SAMPLES:
        page.goto(f"{live_server}/nodes/{node}?period={period}{segment}")
        actual = _api(live_server, f"/api/nodes/{node}?period={period}{segment}")["node"]["actual"]
        page.locator('.kt-figures [data-field="actual"] a').click()
        page.wait_for_url(re.compile(rf"/records/{node}\?"))
        total = page.locator('[data-testid="records-total"]')
        assert int(total.get_attribute("data-count")) == actual, (node, period, segment)
        rows = page.locator('[data-testid="record-row"]').count()
        assert rows == min(actual, 50)


TREE_SAMPLES = (
    ("leads", "2026-10", ""),
    ("won_deals", "FY2025", ""),
    ("opportunities", "FY2026-Q2", "&department=inside_sales"),
)


def test_a_tree_card_number_opens_its_records_and_its_name_the_node(
    page: Any, live_server: str
) -> None:
    for node, period, segment in TREE_SAMPLES:
        page.goto(f"{live_server}/?period={period}{segment}")
        actual = _api(live_server, f"/api/tree?period={period}{segment}")["nodes"][node]["actual"]
        card = page.locator(f'[data-testid="node-box"][data-node-id="{node}"]')
        card.locator(".kt-records-link").click()
        page.wait_for_url(re.compile(rf"/records/{node}\?"))
        total = page.locator('[data-testid="records-total"]')
        assert int(total.get_attribute("data-count")) == actual, (node, period, segment)
    page.goto(f"{live_server}/")
    page.locator('[data-node-id="won_deals"] [data-testid="node-open"]').click()
    page.wait_for_url(re.compile(r"/nodes/won_deals"))


def test_a_breakdown_row_opens_its_segment(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/nodes/calls?period=FY2026-Q2")
    view = _api(live_server, "/api/nodes/calls?period=FY2026-Q2")
    row = next(r for r in view["breakdown"]["rows"] if r["value"] == "inside_sales")
    page.locator('tr[data-segment="inside_sales"] [data-field="actual"] a').click()
    page.wait_for_url(re.compile(r"/records/calls\?.*department=inside_sales"))
    count = page.locator('[data-testid="records-total"]').get_attribute("data-count")
    assert int(count) == row["actual"]
    # The list pages, sorts and searches.
    page.locator('[data-testid="next-page"]').click()
    page.wait_for_url(re.compile(r"page=2"))
    page.locator('th a[data-sort="day"]').click()
    page.wait_for_url(re.compile(r"sort=day"))
    assert page.locator("th[aria-sort]").get_attribute("aria-sort") == "ascending"
    page.locator('[data-testid="records-search"]').fill("meeting")
    page.locator('[data-testid="records-search"]').press("Enter")
    page.wait_for_url(re.compile(r"q=meeting"))
    assert page.locator('[data-testid="record-row"]').count() == 0
    assert page.locator('[data-testid="records-total"]').get_attribute("data-total") == "0"


def test_a_rate_opens_its_entrants_and_converted(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/funnel?period=FY2026-Q2")
    page.locator('tr[data-step="mql_rate"] [data-field="period_rate"] a').click()
    page.wait_for_url(re.compile(r"/records/mql_rate\?"))
    entrants = page.locator('[data-testid="records-list"][data-role="entrants"]')
    converted = page.locator('[data-testid="records-list"][data-role="converted"]')
    rate = _api(live_server, "/api/nodes/mql_rate?period=FY2026-Q2")["node"]["actual"]
    ratio = int(converted.get_attribute("data-count")) / int(entrants.get_attribute("data-count"))
    assert ratio == pytest.approx(rate)
    converted.click()
    page.wait_for_url(re.compile(r"role=converted"))
    shown = page.locator('[data-testid="records-total"]').get_attribute("data-count")
    assert shown == converted.get_attribute("data-count")
    with page.expect_download() as download:
        page.locator('[data-download="records-csv"]').click()
    assert download.value.suggested_filename.startswith("kpitree-records-mql_rate-converted")


def test_a_number_in_a_generated_report_opens_as_many_records(
    page: Any, demo_copy: Any, start_server: Any, tmp_path: Any
) -> None:
    """An HTML review pack made with ``notifications.base_url`` (the server's
    address): a click on a count opens the list with that many rows, measured
    up to the report's day."""
    import yaml

    from kpitree.project import Project
    from kpitree.reports import build_report
    from kpitree.reports.html import render_html

    url = start_server(demo_copy)
    definition = demo_copy / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text("utf-8"))
    doc.setdefault("notifications", {})["base_url"] = url
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    report = build_report(Project.load(demo_copy), lang="ja")
    assert "leads" in report.records
    file = tmp_path / "report.html"
    file.write_text(render_html(report), "utf-8")
    page.goto(file.as_uri())
    link = page.locator('#tree a.records[href*="/records/leads?"]').first
    printed = int(link.inner_text().replace(",", ""))
    line = next(line for line in report.tree if line.node == "leads")
    assert printed == line.actual
    link.click()
    page.wait_for_url(re.compile(r"/records/leads\?.*as_of="))
    total = page.locator('[data-testid="records-total"]')
    assert int(total.get_attribute("data-count")) == printed
    assert page.locator('[data-testid="record-row"]').count() == min(printed, 50)


def test_an_sla_node_opens_its_cases(
    page: Any, demo_project: Any, tmp_path: Any, start_server: Any
) -> None:
    """A node measuring an SLA (breaches, compliance) opens the SLA cases
    behind its number, on the tree and on its Node page, under the filters."""
    from web.test_sla_nodes import with_sla_nodes

    base = start_server(with_sla_nodes(demo_project, tmp_path / "demo"))
    query = "period=last-quarter&department=inside_sales"
    view = _api(base, f"/api/tree?{query}")
    breaches = view["nodes"]["call_breaches"]["actual"]
    page.goto(f"{base}/?{query}")
    card = page.locator('[data-testid="node-box"][data-node-id="call_breaches"]')
    card.locator(".kt-records-link").click()
    page.wait_for_url(re.compile(r"/sla/cases\?.*status=breached.*department=inside_sales"))
    total = page.locator('[data-testid="records-total"]')
    assert int(total.get_attribute("data-count")) == breaches > 0
    rate = _api(base, f"/api/nodes/call_compliance?{query}")["node"]["actual"]
    page.goto(f"{base}/nodes/call_compliance?{query}")
    page.locator('.kt-figures [data-field="actual"] a').click()
    page.wait_for_url(re.compile(r"/sla/cases\?.*status=closed"))
    closed = page.locator('[data-testid="records-list"][data-role="closed"]')
    met = page.locator('[data-testid="records-list"][data-role="met"]')
    ratio = int(met.get_attribute("data-count")) / int(closed.get_attribute("data-count"))
    assert ratio == pytest.approx(rate)
    assert int(total.get_attribute("data-count")) == int(closed.get_attribute("data-count"))


def test_a_team_named_with_a_comma_stays_one_team(
    page: Any, demo_project: Any, tmp_path: Any, start_server: Any
) -> None:
    """The team ``In/bound ?#%, "東"``: its row on the department page opens
    its own records, and the page's filter form sends it back intact."""
    from web.reserved import TEAM, reserved_project

    base = start_server(reserved_project(demo_project, tmp_path / "demo"))
    page.goto(f"{base}/departments/inside_sales?period=last-quarter")
    team = TEAM[1].replace("\\", "\\\\").replace('"', '\\"')
    row = page.locator(f'tr[data-team="{team}"]').first
    shown = row.locator('[data-field="actual"] a')
    shown.click()
    page.wait_for_url(re.compile(r"/records/"))
    total = page.locator('[data-testid="records-total"]')
    count = int(total.get_attribute("data-count"))
    assert count > 0
    team_box = page.locator('[data-testid="filter-team"]')
    assert team_box.input_value() == '"In/bound ?#%, ""東"""'
    page.locator('[data-testid="apply"]').click()
    page.wait_for_load_state()
    assert int(page.locator('[data-testid="records-total"]').get_attribute("data-count")) == count
    chip = page.locator('[data-testid="active-filter"]').all_inner_texts()
    assert any(TEAM[1] in c for c in chip), chip
