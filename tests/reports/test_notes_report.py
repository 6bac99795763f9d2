"""Notes on the timeline in the review packs: the notes that overlap the
report's period are a section of every format, with the node's label; notes
outside the period are not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpitree.notes import NoteDraft, NoteStore
from kpitree.project import Project
from kpitree.reports import build_report, render

from .conftest import AS_OF, PERIOD, copy_project

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


def test_the_notes_of_the_period_are_in_the_report(company: Path, tmp_path: Path) -> None:
    folder = copy_project(company, tmp_path / "project")
    project = Project.load(folder)
    period = project.period(PERIOD)
    store = NoteStore(folder)
    store.add(NoteDraft(period.start + dt.timedelta(days=4), None, "展示会", node=project.tree.kgi),
              "sato")  # fmt: skip
    store.add(NoteDraft(period.start - dt.timedelta(days=40), None, "long before"), "sato")
    store.add(
        NoteDraft(period.start - dt.timedelta(days=3), period.start, "価格改定",
                  segment=("department", "inside_sales")),
        "sato",
    )  # fmt: skip
    report = build_report(project, PERIOD, "monthly", "en", AS_OF)
    assert [n.text for n in report.notes] == ["価格改定", "展示会"]
    assert report.notes[1].node == project.tree.nodes[project.tree.kgi].display("en")
    markdown = render(report, "md").decode("utf-8")
    assert "## Notes on the timeline" in markdown
    assert "展示会" in markdown and "department=inside\\_sales" in markdown
    assert "long before" not in markdown
    html = render(report, "html").decode("utf-8")
    assert 'id="notes"' in html and "価格改定" in html
    japanese = render(build_report(project, PERIOD, "monthly", "ja", AS_OF), "md").decode()
    assert "## タイムラインのメモ" in japanese


def test_a_report_without_notes_has_no_notes_section(company: Path) -> None:
    report = build_report(Project.load(company), PERIOD, "monthly", "en", AS_OF)
    assert report.notes == []
    assert "Notes on the timeline" not in render(report, "md").decode("utf-8")
