"""The SLA and alert sections, read from the alerts layer through the façade
(``Project.sla_report`` and ``Project.alert_events``). A project without SLA
rules or alert rules gets a section that says so."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kpitree.reports.model import AlertLine, AlertsSection, SlaRuleLine, SlaSection

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.project import Project

__all__ = ["alerts_section", "sla_section"]

MAX_BREACHES = 20
MAX_EVENTS = 50


def _raw(project: Project) -> dict[str, Any]:
    """The definition's top-level mapping (to see which sections are configured)."""
    from kpitree.definition.draft import DEFINITION_FILE
    from kpitree.source import load_yaml

    data = load_yaml(project.path / DEFINITION_FILE).data
    return data if isinstance(data, dict) else {}


def sla_section(project: Project, period: Period, as_of: dt.date, lang: str) -> SlaSection:
    """SLA compliance per rule and the period's breaches."""
    sla_report = getattr(project, "sla_report", None)
    if sla_report is None or not _raw(project).get("sla"):
        return SlaSection(configured=False)
    report = sla_report(period, as_of=as_of).to_json()
    rules = []
    breaches: list[dict[str, str]] = []
    for rule in report.get("rules", []):
        rules.append(
            SlaRuleLine(
                rule=str(rule.get("rule") or rule.get("id") or ""),
                label=str(rule.get("label") or rule.get("rule") or ""),
                compliance=rule.get("compliance"),
                p50_hours=rule.get("p50_hours"),
                p95_hours=rule.get("p95_hours"),
                met=rule.get("met"),
                breaches=rule.get("breaches") if isinstance(rule.get("breaches"), int) else None,
                open=rule.get("open") if isinstance(rule.get("open"), int) else None,
            )
        )
        for item in rule.get("breach_list", []) or []:
            breaches.append({k: "" if v is None else str(v) for k, v in item.items()})
    return SlaSection(configured=True, rules=rules, breaches=breaches[:MAX_BREACHES])


def alerts_section(project: Project, period: Period, as_of: dt.date, lang: str) -> AlertsSection:
    """Alert events (fired, re-notified, resolved) during the period."""
    alert_events = getattr(project, "alert_events", None)
    if alert_events is None or not _raw(project).get("alerts"):
        return AlertsSection(configured=False)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(project.tree.timezone)
    start = dt.datetime.combine(period.start, dt.time(0), zone)
    end = dt.datetime.combine(min(period.end, as_of) + dt.timedelta(days=1), dt.time(0), zone)
    lines = []
    for event in alert_events(start, end)[:MAX_EVENTS]:
        e = event.to_json()
        segment = e.get("segment") or {}
        lines.append(
            AlertLine(
                at=str(e.get("at") or e.get("time") or ""),
                kind=str(e.get("kind") or e.get("event") or ""),
                severity=str(e.get("severity") or ""),
                rule=str(e.get("rule") or ""),
                node=str(e.get("node") or ""),
                segment=" / ".join(str(v) for v in segment.values())
                if isinstance(segment, dict)
                else str(segment),
                message=str(e.get("message") or ""),
            )
        )
    return AlertsSection(configured=True, events=lines)
