"""The data-quality section of a monthly review pack: what ``kpitree data
check`` finds as of the pack's day, each finding with the records it names and
the nodes whose numbers it touches, so a review meeting knows which numbers to
read with care."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.engines import Engine
    from kpitree.reports.layout import Section, _Cells
    from kpitree.reports.project_view import ProjectView as Project

__all__ = ["QualityLine", "QualitySection", "quality_layout", "quality_section"]


@dataclass(frozen=True)
class QualityLine:
    level: str
    code: str
    table: str
    count: int
    finding: str
    examples: str
    nodes: str


@dataclass(frozen=True)
class QualitySection:
    included: bool = False
    errors: int = 0
    warnings: int = 0
    lines: list[QualityLine] = field(default_factory=list)


# Rules about the present (facts dated after the day, tables not updated since):
# a pack made for a past day describes that day, whose later facts are expected.
_PRESENT = ("in_future", "stale_source")


def quality_section(project: Project, engine: Engine, as_of: dt.date, lang: str) -> QualitySection:
    """The findings of the data-quality check as of ``as_of`` (for a past day,
    without the rules about the present)."""
    from kpitree.compute.quality import check_quality, rule_key

    report = check_quality(engine, project.catalogue, project.tree, as_of)
    findings = [f for f in report.findings if as_of >= project.today() or f.rule not in _PRESENT]
    nodes = project.tree.nodes
    lines = [
        QualityLine(
            level=t(f"quality.level.{f.level}", lang=lang),
            code=f.code,
            table=f.table,
            count=f.count,
            finding=t(rule_key(f.rule, f.detail), lang=lang, **f.detail),
            examples=", ".join(f.examples),
            nodes=", ".join(nodes[n].display(lang) for n in f.nodes if n in nodes),
        )
        for f in findings
    ]
    errors = sum(f.level == "error" for f in findings)
    return QualitySection(True, errors, len(findings) - errors, lines)


def quality_layout(section: QualitySection, c: _Cells, lang: str) -> Section:
    """The section as every format lays it out."""
    from kpitree.reports.layout import Section, Table

    title = t("reports.section.quality", lang=lang)
    summary = t(
        "reports.quality.summary", lang=lang, errors=section.errors, warnings=section.warnings
    )
    columns = [
        t(f"reports.quality.col.{k}", lang=lang)
        for k in ("level", "code", "table", "count", "finding", "examples", "nodes")
    ]
    rows = [
        [
            c.text(q.level),
            c.text(q.code),
            c.text(q.table),
            c.num(float(q.count), "count"),
            c.text(q.finding),
            c.text(q.examples),
            c.text(q.nodes),
        ]
        for q in section.lines
    ]
    empty = t("reports.quality.none", lang=lang)
    return Section("quality", title, [summary], [Table("quality", title, columns, rows, empty)])
