"""A report's numbers link to the records behind them on the dashboard, when
``notifications.base_url`` says where it is: in HTML (and so PDF), Markdown and
Excel (a hyperlink cell). Each link opens a records list, measured up to the
report's day, whose row count is the number printed (a rate: its converted
over its entrants)."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from kpitree.filter_text import filter_params
from kpitree.project import Project
from kpitree.reports import build_report
from kpitree.reports.excel import render_xlsx
from kpitree.reports.html import render_html
from kpitree.reports.markdown import render_markdown

from .conftest import AS_OF, PERIOD, copy_project, edit_definition

BASE = "http://localhost"
LINK = re.compile(r'<a href="([^"]+)" class="records" data-node-records>([^<]+)</a>')


@pytest.fixture(scope="module")
def linked(company: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_project(company, tmp_path_factory.mktemp("linked") / "project")

    def with_base(doc: dict[str, Any]) -> None:
        doc.setdefault("notifications", {})["base_url"] = BASE + "/"

    edit_definition(folder, with_base)
    return folder


def test_every_linked_number_opens_as_many_records(linked: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    project = Project.load(linked)
    report = build_report(project, PERIOD, lang="en", as_of=AS_OF)
    page = render_html(report)
    links = {html.unescape(href): text for href, text in LINK.findall(page)}
    assert len(links) >= 8
    lines = {line.node: line for line in report.tree}
    checked = 0
    with TestClient(create_app(linked), base_url=BASE) as client:
        for node, url in report.records.items():
            line = lines[node]
            assert (url in links) == (line.actual is not None), node  # no link on "—"
            assert url.startswith(f"{BASE}/records/") and f"as_of={AS_OF}" in url
            got = client.get(url.replace("/records/", "/api/records/", 1)).json()
            counts = {item["role"]: item["count"] for item in got["lists"]}
            metric = project.tree.nodes[node].metric
            kind = project.catalogue[metric].type if metric else None
            if set(counts) == {"facts"} and kind == "count":
                assert counts["facts"] == line.actual, node
                checked += 1
            elif set(counts) == {"entrants", "converted"} and kind in (None, "conversion"):
                if counts["entrants"]:
                    assert counts["converted"] / counts["entrants"] == pytest.approx(line.actual)
                    checked += 1
            elif set(counts) == {"facts"} and kind == "sum":
                assert (got["value_total"] or 0.0) == pytest.approx(line.actual or 0.0), node
                checked += 1
            assert client.get(url).status_code == 200
    assert checked >= 6


def test_markdown_and_excel_link_the_same_numbers(linked: Path) -> None:
    from openpyxl import load_workbook

    report = build_report(Project.load(linked), PERIOD, lang="ja", as_of=AS_OF)
    shown = {line.node for line in report.tree if line.actual is not None}
    urls = {url for node, url in report.records.items() if node in shown}
    text = render_markdown(report)
    for url in urls:
        assert f"]({url})" in text
    book = load_workbook(io.BytesIO(render_xlsx(report)))
    cells = [c for ws in book for row in ws.iter_rows() for c in row]
    targets = {c.hyperlink.target for c in cells if c.hyperlink}
    assert targets == urls | set(_department_links(report))


def _department_links(report: Any) -> dict[str, tuple[dict[str, str], str, float]]:
    """A team's or rep's link in a department section or in the gaps
    section's "teams and reps furthest behind" -> (its filters, node, the
    number printed)."""
    found = {}
    lines = [line for d in report.departments for line in [*d.best, *d.worst]]
    lines += [s for g in report.gaps for s in g.segments]
    for line in lines:
        url = report.records.get(line.node)
        if url and line.actual is not None and line.filters:
            link = f"{url}&{urlencode(filter_params(dict(line.filters)), quote_via=quote)}"
            found[link] = (dict(line.filters), line.node, line.actual)
    return found


def test_the_gaps_sections_team_rows_open_their_records(linked: Path) -> None:
    report = build_report(Project.load(linked), PERIOD, lang="en", as_of=AS_OF)
    rows = [s for g in report.gaps for s in g.segments if s.actual is not None and s.filters]
    assert rows, "the demo company has teams or reps behind their pace"
    page = {html.unescape(href) for href, _ in LINK.findall(render_html(report))}
    for s in rows:
        url = report.records[s.node]
        assert f"{url}&{urlencode(filter_params(dict(s.filters)), quote_via=quote)}" in page


def test_a_team_or_rep_number_opens_its_own_records(linked: Path) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    project = Project.load(linked)
    report = build_report(project, PERIOD, lang="en", as_of=AS_OF)
    links = _department_links(report)
    assert len(links) >= 2
    page = {html.unescape(href) for href, _ in LINK.findall(render_html(report))}
    text = render_markdown(report)
    checked = 0
    with TestClient(create_app(linked), base_url=BASE) as client:
        for url, (filters, node, actual) in links.items():
            assert url in page and f"]({url})" in text, url
            got = client.get(url.replace("/records/", "/api/records/", 1)).json()
            assert got["query"]["filters"] == {k: [v] for k, v in filters.items()}
            counts = {item["role"]: item["count"] for item in got["lists"]}
            metric = project.tree.nodes[node].metric
            kind = project.catalogue[metric].type if metric else None
            if set(counts) == {"facts"} and kind == "count":
                assert counts["facts"] == actual, (filters, node)
                checked += 1
            elif set(counts) == {"facts"} and kind == "sum":
                assert (got["value_total"] or 0.0) == pytest.approx(actual), (filters, node)
                checked += 1
    assert checked >= 1


def test_without_a_base_url_a_report_has_no_links(company: Path) -> None:
    report = build_report(Project.load(company), PERIOD, lang="en", as_of=AS_OF)
    assert report.records == {}
    assert 'class="records"' not in render_html(report)
    assert "](http" not in render_markdown(report)
