"""The monthly pack's burn-up of the KGI: the year as the month closed."""

from __future__ import annotations

import math
from pathlib import Path

from kpitree.project import Project
from kpitree.reports import build_report
from kpitree.reports.layout import layout

from .conftest import AS_OF, PERIOD, WEEK


def test_monthly_pack_has_the_kgi_burnup(company: Path) -> None:
    project = Project.load(company)
    report = build_report(project, PERIOD, "monthly", "en", AS_OF)
    points = report.burnup
    assert [p.period for p in points][:7] == [
        "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10",
    ]  # fmt: skip
    # October is measured to the as-of day (2025-10-15): in progress, last actual.
    assert points[6].in_progress and points[6].actual is not None and points[7].actual is None
    months = project.status(
        [p.period for p in points[:7]], as_of=AS_OF, explain=False, compare=False
    )
    running = 0.0
    for point in points[:7]:
        running += months.row("revenue", point.period).actual or 0.0
        assert math.isclose(point.actual or 0.0, running, rel_tol=1e-12)
    year = project.status("FY2025", as_of=AS_OF, explain=False, compare=False)
    assert math.isclose(points[-1].forecast or 0.0, year.row("revenue").forecast or 0.0)
    section = layout(report)[4]  # after the summary, tree, gaps and funnel
    assert section.id == "burnup"
    assert [t.id for t in section.tables] == ["burnup"]
    assert [c.id for c in section.charts] == ["burnup_chart"]
    assert section.tables[0].rows[6][0].text == "Oct (in progress)"


def test_weekly_pack_has_no_burnup(company: Path) -> None:
    report = build_report(Project.load(company), WEEK, None, "ja", AS_OF)
    assert report.burnup == []


def test_monthly_summary_says_where_the_year_lands(company: Path) -> None:
    project = Project.load(company)
    report = build_report(project, PERIOD, "monthly", "ja", AS_OF)
    sentence = next(s for s in report.narrative if "年度の" in s)
    year_end = report.burnup[-1]
    from kpitree.i18n.numbers import format_compact

    assert format_compact(year_end.forecast, "currency", "JPY", "ja") in sentence
    assert sentence.endswith("。") and ("億" in sentence or "万" in sentence)
