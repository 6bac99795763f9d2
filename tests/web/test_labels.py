"""Channels, departments, severities and SLA rules are named by their labels on
every page: the demo's keys (``paid_search``, ``inside_sales``, ``warning``,
``mql_first_call``) appear in no visible text of a Japanese page (text, field
values, placeholders, tooltips), only in attributes and addresses."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from kpitree.project import Project

PAGES = (
    "/",
    "/?channel=paid_search",
    "/?department=inside_sales",
    "/nodes/revenue",
    "/nodes/won_deals",
    "/nodes/win_rate?by=channel",
    "/nodes/leads?drill=inside_sales",
    "/nodes/leads?channel=paid_search",
    "/funnel",
    "/funnel?channel=paid_search",
    "/departments",
    "/departments/field_sales",
    "/departments/inside_sales",
    "/departments/marketing",
    "/plan",
    "/plan?from=actuals",
    "/data",
    "/alerts",
    "/sla",
    "/sla/cases?sla=mql_first_call",
    "/settings",
    "/records/leads",
    "/records/leads?channel=paid_search",
    "/records/new_revenue?period=FY2026-Q2",
    "/review/validity",
    "/review/scorecards",
    "/accounts",
)
# Not checked: the definitions book (/book) names each definition's id beside
# its label on purpose: it is the reference for editing kpitree.yaml by id.


class _Visible(HTMLParser):
    """The text a reader sees: text outside scripts and styles, the values of
    text fields, placeholders, titles and accessible names."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.seen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("script", "style", "template", "datalist"):
            self.hidden += 1
        if (
            tag == "input"
            and found.get("type", "text") in ("text", "search")
            and found.get("value")
        ):
            self.seen.append(str(found["value"]))
        self.seen += [str(found[k]) for k in ("placeholder", "title", "aria-label") if found.get(k)]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "datalist"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.seen.append(data.strip())


def _keys(project: Path) -> list[str]:
    """The demo's channel and department keys, alert severities and SLA ids."""
    tree = Project.load(project).tree
    warehouse = project / ".kpitree" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        channels = [r[0] for r in con.sql("SELECT DISTINCT channel FROM leads").fetchall() if r[0]]
    keys = {*channels, *tree.organisation.departments, *tree.sla}
    keys |= {str(rule.severity) for rule in tree.alerts.values()}
    assert {"paid_search", "inside_sales", "mql_first_call", "warning"} <= keys
    return sorted(keys)


def test_no_page_shows_a_raw_key_in_japanese(client: TestClient, demo_project: Path) -> None:
    keys = _keys(demo_project)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, keys)) + r")(?![\w])")
    leaks = {}
    for path in PAGES:
        answer = client.get(path + ("&" if "?" in path else "?") + "lang=ja")
        assert answer.status_code == 200, (path, answer.status_code)
        reader = _Visible()
        reader.feed(answer.text)
        found = [text[:100] for text in reader.seen if pattern.search(text)]
        if found:
            leaks[path] = found[:5]
    assert not leaks, leaks


def test_a_note_segment_is_written_and_shown_by_its_labels(
    demo_copy: Path,
) -> None:
    from contextlib import closing

    from kpitree.web.app import create_app

    app = create_app(demo_copy)
    with closing(TestClient(app, base_url="http://localhost")) as client:
        token = client.get("/api/session").json()["csrf_token"]
        page = client.get("/nodes/leads?lang=ja").text
        assert 'placeholder="部門=インサイドセールス"' in page
        client.post(
            "/nodes/leads/notes",
            data={
                "csrf_token": token,
                "start": "2026-10-01",
                "text": "IS 2名増員",
                "segment": "部門=インサイドセールス",
            },
            follow_redirects=False,
        )
        notes = client.get("/api/notes").json()["notes"]
        assert [n["segment"] for n in notes if n["text"] == "IS 2名増員"] == [
            "department=inside_sales"
        ]
        shown = client.get("/nodes/leads?lang=ja").text
        assert "部門 = インサイドセールス" in shown


def test_shared_links_name_their_department_by_its_label(demo_copy: Path) -> None:
    from contextlib import closing

    from kpitree.web.app import create_app

    with closing(TestClient(create_app(demo_copy), base_url="http://localhost")) as client:
        token = client.get("/api/session").json()["csrf_token"]
        form = client.get("/settings?lang=ja").text
        assert '<option value="inside_sales">インサイドセールス</option>' in form
        for view in ("department", "tree"):
            made = client.post(
                "/settings/shares?lang=ja",
                data={"csrf_token": token, "view": view, "department": "inside_sales"},
            )
            assert made.status_code == 200, made.text[:300]
        reader = _Visible()
        reader.feed(client.get("/settings?lang=ja").text)
        listed = " ".join(reader.seen)
        assert "部門別: インサイドセールス" in listed or ": インサイドセールス" in listed
        assert "部門 = インサイドセールス" in listed
        assert "inside_sales" not in listed
