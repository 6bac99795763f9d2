"""Review packs (レビュー資料): weekly and monthly KPI reviews built from a
project's status, rendered as PDF, Excel, HTML or Markdown, and sent by e-mail
on a schedule.

>>> from kpitree import Project
>>> from kpitree.reports import build_report, render
>>> report = build_report(Project.load("my-plan"), "2026-10", lang="ja")  # doctest: +SKIP
>>> pdf = render(report, "pdf")                                            # doctest: +SKIP
"""

from __future__ import annotations

from kpitree.reports.build import KINDS, build_report
from kpitree.reports.model import Report
from kpitree.reports.render import FORMATS, default_file_name, render

__all__ = ["FORMATS", "KINDS", "Report", "build_report", "default_file_name", "render"]
