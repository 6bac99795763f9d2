"""The report's charts (HTML/PDF SVG, native Excel charts) and the
dashboard's take their look from one module, :mod:`kpitree.chartstyle`: a
colour changed there changes both; the period still running is drawn partial
(hatched or dashed, with a word) in every format."""

from __future__ import annotations

import io
import re
import zipfile
from contextlib import closing
from pathlib import Path

import pytest

from kpitree import chartstyle
from kpitree.project import Project
from kpitree.reports import build_report
from kpitree.reports.charts import chart_svg
from kpitree.reports.excel import render_xlsx
from kpitree.reports.html import render_html
from kpitree.reports.layout import layout

from .conftest import AS_OF, PERIOD

PATCHED = "#123456"


def _xlsx_charts(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        names = sorted(n for n in book.namelist() if re.match(r"xl/charts/chart\d+\.xml", n))
        return [book.read(n).decode("utf-8") for n in names]


@pytest.fixture(scope="module")
def report(company: Path):  # type: ignore[no-untyped-def]
    return build_report(Project.load(company), PERIOD, "monthly", "en", AS_OF)


def test_report_charts_are_coloured_by_chartstyle(report, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sections = {s.id: s for s in layout(report)}
    summary = sections["summary"]
    svg = chart_svg(summary.charts[0], summary)
    for role in ("actual", "expected", "target", "forecast"):
        assert chartstyle.SERIES[role] in svg, role
    monkeypatch.setitem(chartstyle.SERIES, "actual", PATCHED)
    assert PATCHED in chart_svg(summary.charts[0], summary)
    funnel = sections["funnel"]
    assert f'fill="{PATCHED}"' in chart_svg(funnel.charts[0], funnel)
    charts = _xlsx_charts(render_xlsx(report))
    assert charts and all(PATCHED[1:].upper() in c for c in charts[:2])


def test_the_web_takes_the_same_look(company: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    monkeypatch.setitem(chartstyle.SERIES, "actual", PATCHED)
    with closing(TestClient(create_app(company), base_url="http://localhost")) as client:
        tree = client.get("/", params={"lang": "en"}).text
        funnel = client.get("/funnel", params={"lang": "en"}).text
    assert f'"actual": "{PATCHED}"' in tree  # the style charts.js draws with
    assert f'stroke="{PATCHED}"' in tree  # the sparklines
    assert f'fill="{PATCHED}"' in funnel  # the funnel


def test_the_running_period_is_partial_in_every_format(report) -> None:  # type: ignore[no-untyped-def]
    assert not report.period.complete
    html = render_html(report)
    # The funnel: hatched bars and the word.
    assert 'class="kt-funnel-partial"' in html
    assert "still running" in html
    # The matplotlib charts: a hatched bar or a dashed, lighter segment and the legend word.
    sections = {s.id: s for s in layout(report)}
    burnup = sections["burnup"]
    assert burnup.charts[0].in_progress is not None
    svg = chart_svg(burnup.charts[0], burnup)
    assert f"stroke-opacity: {chartstyle.PARTIAL.opacity}" in svg
    assert "still running" in svg
    # Excel: the running point of each chart drawn hatched (bars) or dashed (lines).
    charts = _xlsx_charts(render_xlsx(report))
    marked = [c for c in charts if "<dPt>" in c]
    assert any('prst="wdUpDiag"' in c for c in marked)
    assert any('prstDash val="sysDash"' in c for c in marked)
