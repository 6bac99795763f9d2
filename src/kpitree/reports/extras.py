"""The SLA and alert sections, read from the alerts layer through the façade
(``Project.sla_report`` and ``Project.alert_events``). A project without SLA
rules or alert rules gets a section that says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.i18n import t
from kpitree.reports.model import AlertLine, AlertsSection, SlaRuleLine, SlaSection

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.sla import SlaSummary
    from kpitree.definition.tree import Tree
    from kpitree.reports.project_view import ProjectView as Project

__all__ = ["alerts_section", "sla_section"]

MAX_BREACHES = 20
MAX_EVENTS = 50


def _local(moment: dt.datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _line(rule: str, label: str, s: SlaSummary) -> SlaRuleLine:
    return SlaRuleLine(
        rule, label, s.compliance, s.p50_hours, s.p95_hours, s.met, s.breached, s.open
    )


def sla_section(
    project: Project,
    period: Period,
    as_of: dt.date,
    lang: str,
    names: Mapping[str, str] | None = None,
) -> SlaSection:
    """SLA compliance per rule and owner, and the period's breaches, for the
    cases started in the period as they stand at the end of ``as_of`` (the day
    the report is measured to, as every other number of the report and as
    ``kpitree sla --period``: a case still open at the period's end is decided
    by then)."""
    if not project.tree.sla:
        return SlaSection(configured=False)
    report = project.sla_report(period, by="owner", as_of=as_of)
    zone = project.tree.timezone
    rules: list[SlaRuleLine] = []
    owners: list[SlaRuleLine] = []
    breaches: list[dict[str, str]] = []
    for rule in report.rules:
        label = rule.label.get(lang) or rule.label.get("en") or rule.rule
        s = rule.summary
        rules.append(_line(rule.rule, label, s))
        for group in rule.groups:
            g = group.summary
            who = " / ".join(
                ((names or {}).get(v, v) if k == "owner" else v)
                if v
                else t("status.unassigned", lang=lang)
                for k, v in group.key.items()
            )
            owners.append(_line(rule.rule, f"{label}: {who}", g))
        for case in rule.breaches:
            breaches.append(
                {
                    t("reports.col.sla_rule", lang=lang): label,
                    t("reports.col.case", lang=lang): case.id,
                    t("reports.col.owner", lang=lang): (
                        (names or {}).get(case.owner, case.owner) if case.owner else "—"
                    ),
                    t("reports.col.started", lang=lang): _local(case.start, zone),
                    t("reports.col.due", lang=lang): _local(case.due, zone),
                    t("reports.col.elapsed", lang=lang): t(
                        "unit.hours_value", lang=lang, value=f"{case.elapsed_hours:,.1f}"
                    ),
                }
            )
    return SlaSection(
        configured=True,
        rules=rules,
        owners=owners,
        breaches=breaches[:MAX_BREACHES],
        measured_at=_local(report.now, zone),
    )


def alerts_section(
    project: Project,
    period: Period,
    as_of: dt.date,
    lang: str,
    names: Mapping[str, str] | None = None,
) -> AlertsSection:
    """Alert events (fired, re-notified, resolved) during the period."""
    if not project.tree.alerts:
        return AlertsSection(configured=False)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(project.tree.timezone)
    start = dt.datetime.combine(period.start, dt.time(0), zone)
    end = dt.datetime.combine(min(period.end, as_of) + dt.timedelta(days=1), dt.time(0), zone)
    lines = []
    for event in project.alert_events(start, end)[:MAX_EVENTS]:
        node = project.tree.nodes.get(event.node)
        lines.append(
            AlertLine(
                at=_local(event.at, project.tree.timezone),
                kind=t(f"reports.alert.{event.kind}", lang=lang),
                severity=t(f"alerts.severity.{event.severity}", lang=lang),
                rule=event.rule,
                node=node.display(lang) if node else _sla_or_node(event.facts, event.node, lang),
                segment=" / ".join(
                    _segment_value(project.tree, k, v, names, lang) for k, v in event.segment
                ),
                message=event.message(lang),
            )
        )
    return AlertsSection(configured=True, events=lines)


def _segment_value(
    tree: Tree, key: str, value: str | None, names: Mapping[str, str] | None, lang: str
) -> str:
    """A rep by name, a department by label, anything else as it is."""
    from kpitree.reports.sections import department_label

    if not value:
        return "—"
    if key == "rep":
        return (names or {}).get(value, value)
    if key == "department":
        return department_label(tree, value, lang)
    return value


def _sla_or_node(facts: Mapping[str, Any], node: str, lang: str) -> str:
    """An SLA's events are about ``sla:<id>``: shown by the SLA's label."""
    label = facts.get("sla_label") if node.startswith("sla:") else None
    if isinstance(label, Mapping):
        other = "en" if lang == "ja" else "ja"
        return str(label.get(lang) or label.get(other) or node.removeprefix("sla:"))
    return node.removeprefix("sla:")
