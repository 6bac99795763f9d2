"""A review pack never contradicts itself: each input explains the KGI's gap
once, only teams genuinely ahead are "doing well", counts read as whole
numbers, a chart's legend hides nothing and no word breaks in two."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.reports import build_report, render
from kpitree.reports.layout import layout

from .conftest import AS_OF, PERIOD

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


@pytest.fixture(scope="module")
def project(company: Path) -> Project:
    return Project.load(company)


@pytest.fixture(scope="module")
def report(project: Project) -> Any:
    return build_report(project, PERIOD, "monthly", "ja", AS_OF)


@pytest.fixture(scope="module")
def september(project: Project) -> Any:
    """A whole month: every input has an actual, so the gap is attributed."""
    return build_report(project, "2025-09", "monthly", "ja", AS_OF)


def test_each_input_explains_the_kgi_gap_once_and_the_parts_add_up(
    project: Project, september: Any
) -> None:
    report = september
    drivers = report.drivers
    assert len(drivers) >= 3, "September 2025's gap has drivers"
    nodes = [d.node for d in drivers]
    assert len(nodes) == len(set(nodes)), nodes
    # Inputs, and measured formula nodes whose count differs from what their
    # formula computes (商談数 beside MQLs × the cohort 商談化率): their
    # reconciliation is a line of its own.
    tree = project.tree
    measured_formulas = {n for n, node in tree.nodes.items() if node.formula and node.metric}
    assert set(nodes) <= set(tree.inputs) | measured_formulas
    assert "opportunities" in nodes
    kgi = report.kgi
    # Exactly the KGI's own gap up to the rounding of its target.
    assert sum(d.amount for d in drivers) == pytest.approx(kgi.actual - kgi.expected, rel=1e-6)
    table = next(s for s in layout(report) if s.id == "gaps").table("drivers")
    labels = [row[0].text for row in table.rows[:-1]]
    assert len(labels) == len(set(labels)) == len(drivers)
    assert table.rows[-1][-1].value == sum(d.amount for d in drivers)


def test_only_teams_and_reps_on_track_are_doing_well(report: Any) -> None:
    ranked = 0
    for d in report.departments:
        assert all(s.status == "on_track" and (s.pace or 0) > 0 for s in d.best), d.id
        assert all(s.status in ("off_track", "at_risk") for s in d.worst), d.id
        ranked += len(d.best) + len(d.worst)
    assert ranked, "some department has teams or reps ranked"
    inside = next(d for d in report.departments if d.id == "inside_sales")
    # Inside sales' reps own no opportunity in the data: none of them is ahead.
    assert not any(s.actual == 0 for s in inside.best)


def test_counts_are_whole_numbers_in_every_format_but_exact_in_the_data(
    project: Project, report: Any
) -> None:
    from openpyxl import load_workbook

    won = next(line for line in report.tree if line.node == "won_deals")
    assert won.target != round(won.target), "the test needs a fractional target"
    md = render(report, "md").decode("utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| 　　受注件数 |"))
    assert f"| {round(won.target):,} |" in row and f"{won.target:,.1f}" not in row
    assert f"| {round(won.expected):,} |" in row
    workbook = load_workbook(io.BytesIO(render(report, "xlsx")))
    sheet = workbook["KPIツリー"]
    cell = next(
        sheet.cell(row=r, column=3) for r in range(1, sheet.max_row + 1)
        if str(sheet.cell(row=r, column=1).value).strip() == "受注件数"
    )  # fmt: skip
    assert cell.value == pytest.approx(won.target, rel=1e-14)
    assert cell.number_format == "#,##0"


@pytest.mark.parametrize("values", [(282.7, 228.9, 228.9, 282.7), (90.0, 100.0, 100.0, 95.0)])
def test_the_kgi_chart_legend_hides_no_bar(report: Any, values: tuple[float, ...]) -> None:
    """The KGI chart of November on the demo: four bars of about the same
    height left the legend no free corner inside the plot."""
    import dataclasses

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from kpitree.reports.charts import chart_figure, chart_style
    from kpitree.reports.layout import Cell

    summary = next(s for s in layout(report) if s.id == "summary")
    chart = summary.charts[0]
    table = summary.table(chart.table)
    row = list(table.rows[0])
    for col, value in zip(chart.series_columns, values, strict=True):
        row[col] = Cell(value * 1e6, "", "currency")
    summary = dataclasses.replace(summary, tables=[dataclasses.replace(table, rows=[row])])
    with matplotlib.rc_context(chart_style(chart)):  # type: ignore[arg-type]
        figure = chart_figure(chart, summary)
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        ax = figure.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        bars = [p for p in ax.patches if p.get_height() > 0]
        assert len(bars) == len(chart.series_columns)
        for bar in bars:
            assert not legend.overlaps(bar.get_window_extent(renderer)), bar.get_label()


@pytest.mark.slow
def test_no_status_word_or_heading_breaks_in_two_in_the_pdf(report: Any) -> None:
    from pypdf import PdfReader

    pdf = render(report, "pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    words = {line.status_text for line in report.tree if line.status}
    words |= {"達成率", "ペース比", "着地見込み", "ステータス"}
    words |= {line.label for line in report.tree}  # リード獲得数, 平均受注単価, ...
    assert "未達見込み" in words
    for word in words:
        assert word in text, word
        for i in range(1, len(word)):
            assert f"{word[:i]}\n{word[i:]}" not in text, word


def test_reps_are_named_as_the_organisation_names_them(project: Project, report: Any) -> None:
    import re

    names = project.rep_names()
    assert names, "the demo company's reps have names"
    segments = [s.segment for g in report.gaps for s in g.segments]
    segments += [s.segment for d in report.departments for s in (*d.best, *d.worst)]
    reps = [s for s in segments if s.count(" / ") == 2]
    assert reps, "some rep is ranked"
    for text in segments:
        assert not re.search(r"\bR\d{4}\b", text), text
    assert any(name in text for text in reps for name in names.values())
    md = render(report, "md").decode("utf-8")
    assert not re.search(r"\bR\d{4}\b", md)
