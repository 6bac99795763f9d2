"""Building a :class:`~kpitree.reports.model.Report` from a project.

Every number comes from :meth:`Project.status` (three calls on one engine: the
period by team and rep, the month to date for a weekly report, and the trend
periods) and from the planning layer's Shapley attribution applied to those
status values; nothing is measured again here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kpitree.errors import UserError
from kpitree.i18n import t
from kpitree.reports import sections
from kpitree.reports.accounts import AccountsSection, accounts_section
from kpitree.reports.actions import action_lines, quarterly_validity
from kpitree.reports.burnup import kgi_burnup
from kpitree.reports.extras import alerts_section, sla_section
from kpitree.reports.links import records_links
from kpitree.reports.model import NodeLine, PeriodInfo, Report, ReportKind, TimelineNoteLine
from kpitree.reports.narrative import narrative
from kpitree.reports.quality import QualitySection, quality_section

if TYPE_CHECKING:
    from kpitree.compute.periods import Grain, Period
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine
    from kpitree.reports.project_view import ProjectView as Project

__all__ = ["KINDS", "build_report", "resolve_period", "trend_periods"]

KINDS: tuple[ReportKind, ...] = ("weekly", "monthly")
_GRAIN: dict[str, Grain] = {"weekly": "week", "monthly": "month"}
TREND_LENGTH = {"weekly": 8, "monthly": 6}


def resolve_period(
    project: Project, period: str | None, kind: str | None, as_of: dt.date | None
) -> tuple[Period, ReportKind, dt.date]:
    """The period a report covers, its kind and the day it is measured up to.

    No period: the ISO week (weekly) or month (monthly) containing ``as_of``
    (default today). A given period decides the kind when none is given; a
    period of another grain than the kind is error KT801."""
    from kpitree.compute.periods import period_of

    today = as_of or project.today()
    if kind is not None and kind not in KINDS:
        raise UserError.of("KT800", "reports.bad_kind", None, value=kind, kinds=", ".join(KINDS))
    if period is None:
        chosen: ReportKind = kind or "monthly"  # type: ignore[assignment,unused-ignore]
        grain = _GRAIN[chosen]
        found = period_of(today, grain, project.tree.fiscal_year_start)
    else:
        found = project.period(period, as_of=today)
        inferred = {"week": "weekly", "month": "monthly"}.get(found.grain)
        chosen = kind or inferred or "monthly"  # type: ignore[assignment]
        if found.grain != _GRAIN[chosen]:
            raise UserError.of(
                "KT801",
                "reports.wrong_grain",
                None,
                period=period,
                kind=t(f"reports.kind.{chosen}"),
                unit=t(f"reports.unit.{chosen}"),
                example="2026-W41" if chosen == "weekly" else "2026-10",
            )
    if found.start > today:
        raise UserError.of(
            "KT802", "reports.not_started", None, period=found.key, as_of=today.isoformat()
        )
    return found, chosen, today


def trend_periods(period: Period, kind: str) -> list[Period]:
    """The period and the ones before it, oldest first."""
    periods = [period]
    for _ in range(TREND_LENGTH[kind] - 1):
        periods.insert(0, periods[0].previous())
    return periods


def _info(period: Period, as_of: dt.date, lang: str) -> PeriodInfo:
    return PeriodInfo(
        period.key, period.label(lang), period.start, period.end, period.is_complete(as_of)
    )


def depths(tree: Tree) -> dict[str, int]:
    """Depth of every node below the KGI (through formulas and influence links)."""
    depth: dict[str, int] = {}
    stack = [(tree.kgi, 0)]
    while stack:
        node_id, d = stack.pop()
        if node_id in depth or node_id not in tree.nodes:
            continue
        depth[node_id] = d
        node = tree.nodes[node_id]
        stack.extend((c, d + 1) for c in reversed([*node.children, *node.drivers]))
    return depth


def clean_status(status: object) -> str | None:
    """The status word, or None (also for a missing value given as NaN)."""
    return status if isinstance(status, str) else None


def node_line(tree: Tree, r: NodeStatus, depth: int, lang: str) -> NodeLine:
    node = tree.nodes[r.node]
    status = clean_status(r.status)
    return NodeLine(
        node=r.node,
        label=node.display(lang),
        depth=depth,
        kind=node.kind,
        unit=node.unit_name,
        owner=node.owner,
        actual=r.actual,
        target=r.target,
        achievement=r.achievement,
        expected=r.expected,
        pace=r.pace,
        forecast=r.forecast,
        previous=r.previous,
        status=status,
        status_text=status_text(status, lang, clean_status(r.reason)),
    )


def status_text(status: str | None, lang: str, reason: str | None = None) -> str:
    """The status word (データなし, 件数不足, ...); without a status, why (目標なし)."""
    if status is None:
        if reason in ("no_target", "nothing_due"):
            return t(f"status.reason.{reason}", lang=lang)
        return "—"
    return t(f"status.{status}", lang=lang)


def timeline_notes(project: Project, period: Period, lang: str) -> list[TimelineNoteLine]:
    """The notes on the timeline that overlap ``period`` (from the app store)."""
    from kpitree.notes import NoteStore

    tree = project.tree
    found = NoteStore(project.path).list(start=period.start, end=period.end)
    return [
        TimelineNoteLine(
            start=n.start.isoformat(),
            end=n.end.isoformat(),
            node=tree.nodes[n.node].display(lang) if n.node and n.node in tree.nodes else n.node,
            segment=None if n.segment is None else "=".join(n.segment),
            text=n.text,
        )
        for n in found
    ]


def build_report(
    project: Project,
    period: str | None = None,
    kind: str | None = None,
    lang: str | None = None,
    as_of: dt.date | None = None,
    *,
    engine: Engine | None = None,
    targets: str = "then",
) -> Report:
    """The review pack of ``project`` for ``period`` (default: the week or month
    containing ``as_of``), in ``lang`` (default: the current language).
    ``targets``: ``then`` (each month's targets as the definition's revision in
    force then) or ``current`` (today's definition).

    >>> report = build_report(Project.load("my-plan"), "2026-10")  # doctest: +SKIP
    >>> report.kgi.achievement                                      # doctest: +SKIP
    """
    from kpitree.i18n import current_lang

    lang = lang or current_lang()
    chosen, kind_name, as_of = resolve_period(project, period, kind, as_of)
    tree = project.tree
    own = engine is None
    eng = engine or project.engine()
    try:
        main = project.status(chosen, by=["team", "rep"], as_of=as_of, engine=eng, targets=targets)
        context_period = None
        context: StatusResult | None = None
        if kind_name == "weekly":
            from kpitree.compute.periods import period_of

            context_period = period_of(min(as_of, chosen.end), "month", tree.fiscal_year_start)
            context = project.status(
                context_period,
                as_of=as_of,
                engine=eng,
                explain=False,
                compare=False,
                targets=targets,
            )
        trend = project.status(
            trend_periods(chosen, kind_name),
            as_of=as_of,
            engine=eng,
            explain=False,
            compare=False,
            targets=targets,
        )
        names = project.rep_names(engine=eng)  # reps by name, never by their id
        burnup = (
            kgi_burnup(project, chosen, as_of, lang, eng, targets) if kind_name == "monthly" else []
        )
        quality = (
            quality_section(project, eng, as_of, lang)
            if kind_name == "monthly"
            else QualitySection()
        )
        actions = action_lines(project, chosen, as_of, lang, eng)
        validity = quarterly_validity(project, chosen, kind_name, as_of, lang, eng)
        accounts = (
            accounts_section(project, eng, chosen.start, min(as_of, chosen.end), lang)
            if kind_name == "monthly"
            else AccountsSection()
        )
    finally:
        if own:
            eng.close()
    depth = depths(tree)
    key = chosen.key
    company = [r for r in main.rows if r.period == key and r.segment == ()]
    lines = [node_line(tree, r, depth.get(r.node, 0), lang) for r in company]
    by_node = {line.node: line for line in lines}
    kgi = by_node[tree.kgi]
    kgi_context = None
    if context is not None and context_period is not None:
        kgi_context = node_line(tree, context.row(tree.kgi, context_period.key), 0, lang)
    report = Report(
        project=tree.name,
        kind=kind_name,
        lang=lang,
        currency=tree.currency,
        as_of=as_of,
        period=_info(chosen, as_of, lang),
        context=_info(context_period, as_of, lang) if context_period is not None else None,
        kgi=kgi,
        kgi_context=kgi_context,
        tree=lines,
        gaps=sections.gaps(tree, main, by_node, lang, names),
        drivers=sections.drivers(tree, main, lang),
        bottleneck=sections.bottleneck(tree, main, lang),
        funnel=sections.funnel(tree, by_node),
        departments=sections.departments(tree, main, trend, by_node, lang, names),
        sla=sla_section(project, chosen, as_of, lang, names),
        alerts=alerts_section(project, chosen, as_of, lang, names),
        narrative=[],
        burnup=burnup,
        quality=quality,
        actions=actions,
        validity=validity,
        notes=timeline_notes(project, chosen, lang),
        accounts=accounts,
    )
    report.records = records_links(tree, project.catalogue, by_node, key, as_of, lang)
    report.narrative = narrative(report, tree)
    return report
