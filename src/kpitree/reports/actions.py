"""The review pack's next-actions table: the actions still open and those due
in the period, each with its progress or measured outcome, then blank rows to
fill in during the meeting. The XLSX pack's table reads back with
``kpitree actions import`` (:mod:`kpitree.review.sheet`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.review.outcome import outcome_text
from kpitree.review.service import open_store, outcomes
from kpitree.review.sheet import ACTION_COLUMNS

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.engines import Engine
    from kpitree.reports.layout import Section
    from kpitree.reports.model import Report
    from kpitree.reports.project_view import ProjectView
    from kpitree.review.service import ActionProject

__all__ = [
    "ActionLine",
    "action_lines",
    "actions_layout",
    "quarterly_validity",
    "validity_layout",
]


@dataclass(frozen=True)
class ActionLine:
    id: int
    node: str
    label: str  # the node's label
    segment: str
    owner: str
    description: str
    expected: str
    due: dt.date
    state: str  # not_started | in_progress | met | not_met | inconclusive
    outcome: str  # the state in words, with the realised effect


def action_lines(
    project: ProjectView, period: Period, as_of: dt.date, lang: str, engine: Engine
) -> list[ActionLine]:
    """Open actions and actions due in ``period``, by due day."""
    if not (project.path / ".kpitree" / "app.sqlite").exists():
        return []  # no action was ever recorded (and none is created here)
    with open_store(project) as store:
        chosen = [
            a for a in store.list() if a.status == "open" or period.start <= a.due <= period.end
        ]

    found = outcomes(_on_engine(project, engine, as_of), chosen, as_of)
    lines = []
    for a in chosen:
        node = project.tree.nodes.get(a.node)
        unit = node.unit_name if node else None
        lines.append(
            ActionLine(
                id=a.id,
                node=a.node,
                label=node.display(lang) if node else a.node,
                segment=a.segment_text,
                owner=a.owner,
                description=a.description,
                expected=a.effect_text,
                due=a.due,
                state=found[a.id].state,
                outcome=outcome_text(found[a.id], unit, project.tree.currency, lang),
            )
        )
    return lines


def _on_engine(project: ProjectView, engine: Engine, today: dt.date) -> ActionProject:
    """The project, measuring on the pack's engine, with ``today`` the pack's day."""

    class OnEngine:
        tree = project.tree
        path = project.path

        @staticmethod
        def today() -> dt.date:
            return today

        @staticmethod
        def status(*args: Any, **kwargs: Any) -> StatusResult:
            return project.status(*args, engine=engine, **kwargs)

    return OnEngine()


def quarterly_validity(
    project: ProjectView, period: Period, kind: str, as_of: dt.date, lang: str, engine: Engine
) -> dict[str, Any] | None:
    """The KPI validity review in monthly packs of a month that ends a fiscal
    quarter: the 24 months up to that month (the months before ``as_of``'s
    month while the month still runs)."""
    from kpitree.compute.periods import period_of
    from kpitree.review.validity_view import validity_view

    if kind != "monthly":
        return None
    quarter = period_of(period.start, "quarter", project.tree.fiscal_year_start)
    if quarter.end != period.end:
        return None
    day = period.end + dt.timedelta(days=1) if as_of > period.end else as_of
    return validity_view(_on_engine(project, engine, day), lang, day)


def actions_layout(report: Report, lang: str) -> Section:
    """The next-actions table: the actions listed, then blank rows to fill in."""
    from kpitree.i18n import t
    from kpitree.reports.layout import Cell, Section, Table

    columns = [t(f"review.col.{k}", lang=lang) for k in ACTION_COLUMNS]
    blank = Cell(None, "")
    rows = [
        [
            Cell(a.id, str(a.id)),
            Cell(a.label, a.label),
            Cell(a.segment, a.segment),
            Cell(a.owner, a.owner),
            Cell(a.description, a.description),
            Cell(a.expected, a.expected),
            Cell(a.due.isoformat(), a.due.isoformat()),
            Cell(a.outcome, a.outcome, status=_STATE_STATUS.get(a.state)),
        ]
        for a in report.actions
    ]
    rows += [[blank] * len(columns) for _ in range(report.next_action_rows)]
    title = t("reports.section.actions", lang=lang)
    paragraphs = [t("review.pack.how", lang=lang)]
    return Section("actions", title, paragraphs, [Table("actions", title, columns, rows)])


def validity_layout(report: Report, lang: str) -> Section:
    """The KPI validity review: each KPI and link with its verdict and evidence."""
    from kpitree.i18n import t
    from kpitree.reports.layout import Cell, Section, Table

    assert report.validity is not None
    columns = [t(f"validity.col.{k}", lang=lang) for k in ("kpi", "verdict", "why", "evidence")]
    colours = {
        "keep": "on_track",
        "re_target": "at_risk",
        "replace": "off_track",
        "drop": "off_track",
    }
    rows = [
        [
            Cell(r["label"], r["label"]),
            Cell(r["verdict_text"], r["verdict_text"], status=colours.get(r["verdict"])),
            Cell(r["why"], r["why"]),
            Cell(r["evidence"], r["evidence"]),
        ]
        for r in report.validity["rows"]
    ]
    title = t("validity.section", lang=lang)
    table = Table("validity", title, columns, rows, t("validity.cli.none", lang=lang))
    tables = [table]
    checks = report.validity.get("checks")
    if checks:
        check_columns = [t(f"validity.col.{k}", lang=lang) for k in ("check", "result", "findings")]
        check_rows = [
            [
                Cell(f"{c['check']} ({c['code']})", f"{c['check']} ({c['code']})"),
                Cell(c["state_text"], c["state_text"], status=_CHECK_STATUS.get(c["state"])),
                Cell(found := " / ".join(f["message"] for f in c["findings"]), found),
            ]
            for c in checks
        ]
        check_title = t("validity.checks_title", lang=lang)
        tables.append(Table("design_checks", check_title, check_columns, check_rows))
    return Section("validity", title, [report.validity["intro"]], tables)


_CHECK_STATUS = {"ok": "on_track", "findings": "at_risk"}


# Outcomes coloured like statuses (and always written as words too).
_STATE_STATUS = {"met": "on_track", "not_met": "off_track", "inconclusive": "at_risk"}
