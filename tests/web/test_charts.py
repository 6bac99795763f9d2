"""The charts of the dashboard, in process: the funnel is drawn as a funnel
(bar widths proportional to the counts, the conversion between each pair equal
to counts taken by SQL over the warehouse, in period and cohort views), the
trends carry their scale in words, department pages draw their KPIs' trends,
and every chart takes its look from :mod:`kpitree.chartstyle`."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kpitree import chartstyle
from kpitree.project import Project

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from kpitree.compute.periods import Period

SVG = "{http://www.w3.org/2000/svg}"
LOCAL = "AT TIME ZONE 'Asia/Tokyo')::DATE"


@pytest.fixture(scope="module")
def pages(demo_project: Path) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    with closing(TestClient(create_app(demo_project), base_url="http://localhost")) as client:
        yield client


@pytest.fixture(scope="module")
def project(demo_project: Path) -> Project:
    return Project.load(demo_project)


@pytest.fixture(scope="module")
def last_month(project: Project) -> Period:
    return project.period(None).previous()


def _sql(project: Project, query: str, *params: Any) -> Any:
    import duckdb

    with duckdb.connect(project.warehouse_target, read_only=True) as con:
        return con.execute(query, list(params)).fetchone()[0]


def _funnel(html: str, view: str) -> ET.Element:
    match = re.search(rf'<svg class="kt-funnel" data-view="{view}".*?</svg>', html, re.DOTALL)
    assert match, f"no {view} funnel on the page"
    return ET.fromstring(match.group(0))


def _bars(svg: ET.Element) -> list[tuple[str, float, float]]:
    """(stage, count, drawn width) of every bar, from the top down."""
    return [
        (r.get("data-stage", ""), float(r.get("data-value", "nan")), float(r.get("width", "nan")))
        for r in svg.iter(f"{SVG}rect")
        if r.get("class") == "kt-funnel-bar"
    ]


def _rates(svg: ET.Element) -> list[tuple[str, str]]:
    """(rate node, printed text) of every conversion between two bars."""
    return [
        (t.get("data-rate", ""), "".join(t.itertext()))
        for t in svg.iter(f"{SVG}text")
        if t.get("class") == "kt-funnel-rate"
    ]


def _stage_counts(project: Project, period: Period) -> dict[str, int]:
    """The funnel's stage counts of ``period`` by SQL over the warehouse."""
    start, end = period.start, period.end
    return {
        "leads": _sql(
            project,
            f"SELECT count(*) FROM leads WHERE (created_at {LOCAL} BETWEEN ? AND ?",
            start,
            end,
        ),
        "mqls": _sql(
            project,
            f"SELECT count(DISTINCT lead_id) FROM lead_stage_history WHERE stage = 'mql' "
            f"AND (entered_at {LOCAL} BETWEEN ? AND ?",
            start,
            end,
        ),
        "opportunities": _sql(
            project,
            f"SELECT count(*) FROM deals WHERE (created_at {LOCAL} BETWEEN ? AND ?",
            start,
            end,
        ),
        "won_deals": _sql(
            project,
            "SELECT count(*) FROM deals WHERE status = 'won' AND close_date BETWEEN ? AND ?",
            start,
            end,
        ),
    }


def test_the_period_funnel_is_drawn_to_scale_with_its_conversions(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    html = pages.get("/funnel", params={"period": last_month.key, "lang": "en"}).text
    svg = _funnel(html, "period")
    counts = _stage_counts(project, last_month)
    bars = _bars(svg)
    assert [b[0] for b in bars] == list(counts)
    assert {b[0]: b[1] for b in bars} == counts
    top = max(counts.values())
    widest = max(b[2] for b in bars)
    assert top > 0
    for stage, count, width in bars:
        # Proportional to the count (a stage of nothing keeps a sliver).
        expected = max(widest * count / top, chartstyle.FUNNEL.min_bar)
        assert width == pytest.approx(expected, abs=0.02), stage
    order = list(counts)
    rates = _rates(svg)
    assert [r[0] for r in rates] == ["mql_rate", "opportunity_rate", "win_rate"]
    for (rate, text), before, after in zip(rates, order[:-1], order[1:], strict=True):
        numerator, denominator = counts[after], counts[before]
        assert f"({numerator:,} / {denominator:,})" in text, (rate, text)
        assert text.split(" ")[1] == f"{numerator / denominator * 100:.1f}%", (rate, text)
    # A finished month is not drawn as running.
    assert "kt-funnel-partial" not in html


def test_the_cohort_funnel_shows_each_steps_entrants_and_converted(
    pages: TestClient, project: Project, last_month: Period
) -> None:
    html = pages.get("/funnel", params={"period": last_month.key, "lang": "en"}).text
    svg = _funnel(html, "cohort")
    start, end = last_month.start, last_month.end
    local = f"(l.created_at {LOCAL}"
    entrants = _sql(
        project, f"SELECT count(*) FROM leads l WHERE {local} BETWEEN ? AND ?", start, end
    )
    converted = _sql(
        project,
        "SELECT count(DISTINCT l.lead_id) FROM leads l JOIN lead_stage_history h "
        "ON h.lead_id = l.lead_id AND h.stage = 'mql' "
        f"WHERE {local} BETWEEN ? AND ? "
        "AND h.entered_at >= l.created_at AND h.entered_at <= l.created_at + INTERVAL 90 DAY "
        f"AND (h.entered_at {LOCAL} <= ?",
        start,
        end,
        project.today(),
    )
    bars = _bars(svg)
    # The first step: the month's new leads, then those of them that became MQLs.
    assert bars[0][:2] == ("leads", entrants)
    assert bars[1][:2] == ("mqls", converted)
    assert bars[1][2] / bars[0][2] == pytest.approx(converted / entrants, abs=0.001)
    rate, text = _rates(svg)[0]
    assert rate == "mql_rate"
    assert f"({converted:,} / {entrants:,})" in text
    assert f"{converted / entrants * 100:.1f}%" in text
    # Every step is a pair of bars (the steps' cohorts differ: they do not chain).
    view = pages.get("/api/funnel", params={"period": last_month.key}).json()
    steps = [s for s in view["steps"] if s["cohort_entrants"] is not None]
    assert len(bars) == 2 * len(steps)
    for (_, entered, _), (_, reached, _), step in zip(bars[::2], bars[1::2], steps, strict=True):
        assert (entered, reached) == (step["cohort_entrants"], step["cohort_converted"])


def test_the_running_period_is_drawn_partial_on_the_funnel(pages: TestClient) -> None:
    html = pages.get("/funnel", params={"lang": "ja"}).text
    svg = _funnel(html, "period")
    partial = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "kt-funnel-partial"]
    assert len(partial) == 1 and "途中" in "".join(partial[0].itertext())
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "kt-funnel-bar"]
    assert all(r.get("fill-opacity") == str(chartstyle.PARTIAL.opacity) for r in bars)
    assert html.count('fill="url(#kt-hatch-period)"') == len(bars)


def test_the_funnel_counts_open_their_records(pages: TestClient, last_month: Period) -> None:
    html = pages.get("/funnel", params={"period": last_month.key, "lang": "en"}).text
    svg = _funnel(html, "period")
    links = [a.get("href", "") for a in svg.iter(f"{SVG}a")]
    assert len(links) == 4
    for href, stage in zip(links, ["leads", "mqls", "opportunities", "won_deals"], strict=True):
        assert href.startswith(f"/records/{stage}?")
        assert f"period={last_month.key}" in href
        records = pages.get(href.replace("/records/", "/api/records/")).json()
        bar = next(b for b in _bars(svg) if b[0] == stage)
        assert records["total"] == bar[1], stage


def test_trends_carry_their_scale_in_words(pages: TestClient, project: Project) -> None:
    view = pages.get("/api/tree", params={"lang": "en"}).json()
    trend = view["nodes"]["leads"]["trend"]
    known = [v for v in trend["values"] if v is not None]
    assert trend["scale"] == {
        "min": f"{min(known):,.0f}",
        "max": f"{max(known):,.0f}",
        "last": f"{known[-1]:,.0f}",
    }
    assert trend["in_progress"] is True
    assert trend["scale_text"].endswith("last period still running")
    html = pages.get("/", params={"lang": "en"}).text
    assert f'aria-label="Trend: {trend["scale_text"]}"' in html


def test_department_pages_draw_their_kpis_trends(pages: TestClient) -> None:
    html = pages.get("/departments/field_sales", params={"lang": "en"}).text
    view = pages.get("/api/departments/field_sales", params={"lang": "en"}).json()
    assert 'data-testid="department-trends"' in html
    for kpi in view["kpis"]:
        match = re.search(
            rf'<script type="application/json" id="kt-trend-{kpi["id"]}">(.*?)</script>', html
        )
        assert match, kpi["id"]
        data = json.loads(match.group(1))
        assert [r["actual"] for r in data["series"]] == kpi["trend"]["values"]
        assert [r["target"] for r in data["series"]] == kpi["trend"]["targets"]
        # Only the last period may be running, and it says so.
        flags = [r["in_progress"] for r in data["series"]]
        assert flags == [False] * (len(flags) - 1) + [kpi["trend"]["in_progress"]]


def test_the_pages_take_their_chart_look_from_chartstyle(pages: TestClient) -> None:
    html = pages.get("/nodes/revenue", params={"lang": "en"}).text
    match = re.search(r'<script type="application/json" id="kt-chart-style">(.*?)</script>', html)
    assert match and json.loads(match.group(1)) == chartstyle.web_style()
    static = Path(__file__).resolve().parents[2] / "src" / "kpitree" / "web" / "static"
    for script in ("charts.js", "timeline.js"):
        text = (static / script).read_text(encoding="utf-8")
        # No colour, opacity or dash of its own: all of it comes from the style.
        assert not re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|opacity: 0\.", text), script
    tree = pages.get("/", params={"lang": "en"}).text
    assert f'stroke="{chartstyle.SERIES["actual"]}"' in tree
    assert f'stroke-dasharray="{chartstyle.PARTIAL.dash}"' in tree


@pytest.mark.parametrize(
    "path",
    [
        "/nodes/leads?by=channel",
        "/nodes/win_rate?by=channel",
        "/records/leads",
        "/funnel?channel=paid_search",
        "/records/leads?channel=paid_search",
        "/?channel=paid_search",
    ],
)
def test_channels_are_shown_by_their_labels_in_japanese(pages: TestClient, path: str) -> None:
    html = pages.get(path + ("&" if "?" in path else "?") + "lang=ja").text
    # What a reader sees: the text, not attributes, links or scripts.
    text = re.sub(r"<script.*?</script>|<datalist.*?</datalist>|<[^>]+>", " ", html, flags=re.S)
    keys = pages.get("/api/tree").json()["filter_choices"]["channel"]
    assert "paid_search" in keys
    leaked = sorted({k for k in keys if re.search(rf"(?<![\w/=]){k}(?![\w])", text)})
    assert not leaked, leaked
    assert "有料検索" in text


def test_a_department_filter_is_named_by_the_organisations_label(demo_copy: Path) -> None:
    """The chip names the department as the definition labels it, not by a
    built-in name of the standard department."""
    import yaml
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    definition = demo_copy / "kpitree.yaml"
    raw = yaml.safe_load(definition.read_text(encoding="utf-8"))
    raw["organisation"]["field_sales"]["label"] = {"ja": "法人営業部", "en": "Corporate sales"}
    definition.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with closing(TestClient(create_app(demo_copy), base_url="http://localhost")) as client:
        html = client.get("/?department=field_sales&lang=ja").text
    chips = re.findall(r'data-testid="active-filter">([^<]*)<', html)
    assert chips == ["部門 = 法人営業部"], chips
