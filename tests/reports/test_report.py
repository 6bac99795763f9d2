"""The report model and the text formats (Markdown, HTML) against the
project's own status: every number in a report is the status number,
formatted the way the status view formats it."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from kpitree.errors import UserError
from kpitree.i18n.numbers import format_value
from kpitree.project import Project
from kpitree.reports import build_report, render
from kpitree.reports.narrative import compact, signed_points

from .conftest import AS_OF, JA_NAME, PERIOD, WEEK

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("KPITREE_UPDATE_SNAPSHOTS") == "1"

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


@pytest.fixture(scope="module")
def project(company: Path) -> Project:
    return Project.load(company)


@pytest.fixture(scope="module")
def monthly(project: Project):  # type: ignore[no-untyped-def]
    return build_report(project, PERIOD, "monthly", "en", AS_OF)


def test_tree_numbers_are_the_status_numbers(project: Project, monthly) -> None:  # type: ignore[no-untyped-def]
    status = project.status(PERIOD, as_of=AS_OF)
    company = {r.node: r for r in status.rows if r.segment == ()}
    assert [line.node for line in monthly.tree] == list(company)
    for line in monthly.tree:
        r = company[line.node]
        for field in ("actual", "target", "achievement", "expected", "pace", "forecast"):
            assert getattr(line, field) == getattr(r, field), (line.node, field)
        assert line.status == (r.status if isinstance(r.status, str) else None)
    assert monthly.kgi.node == project.tree.kgi
    assert monthly.period.key == PERIOD and not monthly.period.complete


def test_gap_drivers_add_up_and_segments_are_behind(project: Project, monthly) -> None:  # type: ignore[no-untyped-def]
    assert monthly.gaps, "the October 2025 company is behind on several nodes"
    assert all(g.gap < 0 for g in monthly.gaps)
    paces = [g.line.pace for g in monthly.gaps if g.line.node != project.tree.kgi]
    assert paces == sorted(paces)
    for g in monthly.gaps:
        assert all(s.gap is not None and s.gap < 0 for s in g.segments)
        assert [s.gap for s in g.segments] == sorted(s.gap for s in g.segments)


def test_bottleneck_and_funnel_follow_the_tree(project: Project, monthly) -> None:  # type: ignore[no-untyped-def]
    status = project.status(PERIOD, as_of=AS_OF)
    # On the 15th the month's MQL cohort is still open (90 days): 商談化率 takes
    # its plan value and explains nothing; lead→MQL and the win rate are above
    # their targets. So no step costs the KGI anything: no bottleneck, in the
    # status as in the report.
    assert "opportunity_rate" in status.filled_from_plan
    assert status.row("opportunity_rate", PERIOD).incomplete
    for rate in ("mql_rate", "win_rate"):
        row = status.row(rate, PERIOD)
        assert row.actual is not None and row.target is not None and row.actual > row.target
    assert status.bottleneck is None and monthly.bottleneck is None
    # June's cohort is complete by then (30 June + 90 days): the report names
    # the step the status names.
    june = project.status("2025-06", as_of=AS_OF)
    assert not june.row("opportunity_rate", "2025-06").incomplete
    june_report = build_report(project, "2025-06", "monthly", "en", AS_OF)
    assert june.bottleneck is not None and june_report.bottleneck is not None
    assert june_report.bottleneck.node == june.bottleneck.node
    assert [s.stage.node for s in monthly.funnel] == ["leads", "mqls", "opportunities", "won_deals"]
    assert [s.rate.node if s.rate else None for s in monthly.funnel] == [
        "mql_rate",
        "opportunity_rate",
        "win_rate",
        None,
    ]


def test_departments_have_kpis_trend_and_ranked_segments(monthly) -> None:  # type: ignore[no-untyped-def]
    ids = [d.id for d in monthly.departments]
    assert ids[:4] == ["marketing", "inside_sales", "field_sales", "customer_success"]
    fs = next(d for d in monthly.departments if d.id == "field_sales")
    assert {line.node for line in fs.kpis} >= {"won_deals", "win_rate", "avg_deal_size"}
    assert len(fs.trend.keys) == 6 and fs.trend.keys[-1] == PERIOD
    actual, target = fs.trend.series["won_deals"]
    assert len(actual) == len(target) == 6
    assert fs.focus == "won_deals"
    paces = [s.pace for s in fs.best]
    assert paces == sorted(paces, reverse=True)
    assert not {s.segment for s in fs.best} & {s.segment for s in fs.worst}


def test_trend_values_are_status_values_of_each_month(project: Project, monthly) -> None:  # type: ignore[no-untyped-def]
    fs = next(d for d in monthly.departments if d.id == "field_sales")
    months = [project.period(k) for k in fs.trend.keys]
    status = project.status(months, as_of=AS_OF, explain=False, compare=False)
    actual, target = fs.trend.series["won_deals"]
    assert actual == [status.row("won_deals", k).actual for k in fs.trend.keys]
    assert target == [status.row("won_deals", k).target for k in fs.trend.keys]


def test_weekly_report_has_the_month_to_date(project: Project) -> None:
    weekly = build_report(project, WEEK, None, "en", AS_OF)
    assert weekly.kind == "weekly" and weekly.period.key == WEEK
    assert weekly.context is not None and weekly.context.key == PERIOD
    month = project.status(PERIOD, as_of=AS_OF, explain=False, compare=False)
    assert weekly.kgi_context is not None
    assert weekly.kgi_context.actual == month.row(project.tree.kgi, PERIOD).actual
    week = project.status(WEEK, as_of=AS_OF)
    assert weekly.kgi.actual == week.row(project.tree.kgi, WEEK).actual
    assert len(weekly.departments[0].trend.keys) == 8


def test_default_period_is_the_one_containing_as_of(project: Project) -> None:
    assert build_report(project, None, "weekly", "en", AS_OF).period.key == WEEK
    assert build_report(project, None, None, "en", AS_OF).period.key == PERIOD


@pytest.mark.parametrize(
    ("period", "kind", "code"),
    [("2025-Q3", None, "KT801"), ("2025-10", "weekly", "KT801"), ("2026-01", None, "KT802")],
)
def test_bad_periods_are_errors(project: Project, period: str, kind: str | None, code: str) -> None:
    with pytest.raises(UserError) as caught:
        build_report(project, period, kind, "en", AS_OF)
    assert caught.value.diagnostics[0].code == code


def test_unknown_format_is_an_error(monthly) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError) as caught:
        render(monthly, "docx")
    assert caught.value.diagnostics[0].code == "KT803"


def test_narrative_rules() -> None:
    assert signed_points(0.95) == "-5pt"
    assert signed_points(1.0) == "±0pt"
    assert signed_points(1.123) == "+12pt"
    assert compact(-3_210_000, "currency", "JPY", "ja") == "-¥321万"
    assert compact(850_000, "currency", "JPY", "en") == "+¥850K"
    assert compact(0.25, "ratio", "JPY", "en") == "25.0%"


def test_japanese_narrative_says_achievement_and_pace(project: Project) -> None:
    report = build_report(project, PERIOD, "monthly", "ja", AS_OF)
    kgi = report.kgi
    assert kgi.achievement is not None and kgi.pace is not None
    first = report.narrative[0]
    assert (
        first == f"売上は目標の{kgi.achievement * 100:.0f}%（ペース比{signed_points(kgi.pace)}）。"
    )
    # October's MQL cohort is still open on the 15th: no bottleneck to name.
    assert report.bottleneck is None
    assert not any(s.startswith("ファネルのボトルネックは") for s in report.narrative)
    june = build_report(project, "2025-06", "monthly", "ja", AS_OF)
    assert june.bottleneck is not None
    assert f"ファネルのボトルネックは{june.bottleneck.sentence}。" in june.narrative


def test_markdown_has_the_tables_and_the_status_numbers(project: Project, monthly) -> None:  # type: ignore[no-untyped-def]
    md = render(monthly, "md").decode("utf-8")
    for heading in ("## Summary", "## KPI tree", "## Biggest gaps", "## Funnel", "## Next actions"):
        assert heading in md
    assert "| Node | Actual | Target | Achieved |" in md
    assert (
        "| No. | Node | Segment | Owner | Action | Expected effect | Due | Progress / outcome |"
        in md
    )
    status = project.status(PERIOD, as_of=AS_OF, explain=False)
    tree = project.tree
    for r in status.rows:
        if r.segment == () and r.actual is not None:
            unit = tree.nodes[r.node].unit_name
            assert format_value(r.actual, unit, tree.currency, "en") in md, r.node
    assert "No SLA rules configured" in md
    assert "No alerts configured" in md


def test_markdown_snapshot(monthly) -> None:  # type: ignore[no-untyped-def]
    md = render(monthly, "md").decode("utf-8")
    snapshot = SNAPSHOTS / "the-model-2025-10-en.md"
    if UPDATE or not snapshot.exists():
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(md, encoding="utf-8")
    assert md == snapshot.read_text(encoding="utf-8"), (
        "the rendered Markdown changed; review it and regenerate with "
        "KPITREE_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/reports"
    )


_EXTERNAL = re.compile(
    r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.IGNORECASE,
)


def test_html_is_self_contained(monthly) -> None:  # type: ignore[no-untyped-def]
    page = render(monthly, "html").decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not _EXTERNAL.findall(page)
    assert "<link" not in page and "<script" not in page
    # The only absolute URLs are XML namespace names inside the inline SVGs.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert page.count("<svg") >= 5
    assert "<style>" in page and "Noto Sans CJK JP" in page
    assert re.search(r'class="[^"]*\bstatus on_track\b', page)


def test_japanese_project_renders_japanese_labels_and_teams(japanese: Path) -> None:
    project = Project.load(japanese)
    report = build_report(project, PERIOD, "monthly", "ja", AS_OF)
    md = render(report, "md").decode("utf-8")
    page = render(report, "html").decode("utf-8")
    for text in (JA_NAME, "月次KPIレビュー", "売上", "受注件数", "フィールドセールス", "営業部"):
        assert text in md and text in page, text
    assert '<html lang="ja">' in page
    assert dt.date(2025, 10, 15).isoformat() in md


def test_status_of_a_node_without_an_actual_is_none(project: Project) -> None:
    status = project.status(PERIOD, as_of=AS_OF, explain=False)
    assert all(r.status is None or isinstance(r.status, str) for r in status.rows)


def test_the_running_period_is_marked_on_trend_charts(monthly, project: Project) -> None:  # type: ignore[no-untyped-def]
    from kpitree.reports.charts import chart_svg
    from kpitree.reports.layout import layout

    charts = [(c, s) for s in layout(monthly) for c in s.charts if c.id.startswith("trend_")]
    assert charts
    for chart, section in charts:
        assert chart.in_progress == "Last period still running (to 2025-10-15)"
        assert "Last period still running" in chart_svg(chart, section)
    final = build_report(project, "2025-09", "monthly", "en", AS_OF)
    assert all(c.in_progress is None for s in layout(final) for c in s.charts)
