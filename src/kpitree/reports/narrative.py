"""The review's short narrative, written by rules from the report's numbers
(no external AI service): one sentence per finding, from the message catalogs
in Japanese or English, phrased so no plural forms are needed ("Off track: 3").

Rules, in order (a rule without its numbers says nothing):

1. the KGI against its target, and its pace in points (on pace = 0pt);
2. the KGI forecast to the end of the period, while the period is running;
3. the input that explains most of the KGI gap, and by how much (Shapley);
4. the funnel bottleneck against its target or reference range;
5. the KPIs off track;
6. the team or rep furthest behind on a department's focus KPI;
7. SLA compliance and breaches; 8. the number of alerts in the period.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kpitree.i18n import t
from kpitree.i18n.numbers import format_compact, format_value

if TYPE_CHECKING:
    from kpitree.definition.tree import Tree
    from kpitree.reports.model import Report

__all__ = ["compact", "narrative", "signed_points"]

MAX_NAMES = 4


def compact(value: float, unit: str | None, currency: str, lang: str) -> str:
    """Signed short money for sentences: -¥4,167万, +¥3.2M (Babel's compact
    formats, :func:`~kpitree.i18n.numbers.format_compact`); other units as usual."""
    if unit != "currency" or abs(value) < 10_000:
        return format_value(value, unit, currency, lang)
    return ("+" if value > 0 else "") + format_compact(value, unit, currency, lang)


def _amount(report: Report, tree: Tree, value: float | None, unit: str | None) -> str:
    """An amount in a summary sentence: 万/億 unless ``display.amounts`` is full."""
    if tree.amounts == "full" or value is None:
        return report.fmt(value, unit)
    return format_compact(value, unit, report.currency, report.lang)


def signed_points(pace: float) -> str:
    """Pace as points from on-pace: 0.95 -> -5pt (``—`` when not finite)."""
    if not math.isfinite(pace):  # an expected-to-date of ~0 must not crash a report
        return "—"
    points = round((pace - 1.0) * 100)
    return f"{points:+d}pt" if points else "±0pt"


def narrative(report: Report, tree: Tree) -> list[str]:
    lang = report.lang
    out: list[str] = []
    kgi = report.kgi
    if kgi.achievement is not None:
        if kgi.pace is not None and not report.period.complete:
            out.append(
                t(
                    "reports.say.kgi_pace",
                    lang=lang,
                    node=kgi.label,
                    achievement=report.pct(kgi.achievement),
                    points=signed_points(kgi.pace),
                )
            )
        else:
            out.append(
                t(
                    "reports.say.kgi_final",
                    lang=lang,
                    node=kgi.label,
                    achievement=report.pct(kgi.achievement),
                )
            )
    if not report.period.complete and kgi.forecast is not None and kgi.target is not None:
        out.append(
            t(
                "reports.say.forecast",
                lang=lang,
                forecast=_amount(report, tree, kgi.forecast, kgi.unit),
                target=_amount(report, tree, kgi.target, kgi.unit),
            )
        )
    year_end = report.burnup[-1] if report.burnup else None
    if year_end is not None and year_end.forecast is not None and year_end.target is not None:
        out.append(
            t(
                "reports.say.year_landing",
                lang=lang,
                node=kgi.label,
                landing=_amount(report, tree, year_end.forecast, kgi.unit),
                target=_amount(report, tree, year_end.target, kgi.unit),
            )
        )
    kgi_gap = next((g for g in report.gaps if g.line.node == tree.kgi), None)
    inputs = [d for d in report.drivers if d.node in tree.inputs]
    if kgi_gap is not None and inputs:
        top = inputs[0]
        if top.amount < 0:
            out.append(
                t(
                    "reports.say.driver",
                    lang=lang,
                    node=top.label,
                    amount=compact(top.amount, kgi.unit, report.currency, lang),
                )
            )
    b = report.bottleneck
    if b is not None:
        out.append(t("reports.say.bottleneck", lang=lang, sentence=b.sentence))
    off = [line.label for line in report.tree if line.status == "off_track"]
    if off:
        names = "、".join(off[:MAX_NAMES]) if lang == "ja" else ", ".join(off[:MAX_NAMES])
        if len(off) > MAX_NAMES:
            names += t("reports.say.and_more", lang=lang, count=len(off) - MAX_NAMES)
        out.append(t("reports.say.off_track", lang=lang, count=len(off), names=names))
    worst = [(d, d.worst[0]) for d in report.departments if d.worst and d.worst[0].pace]
    if worst:
        _, seg = min(worst, key=lambda ds: ds[1].pace or 0.0)
        out.append(
            t(
                "reports.say.worst_segment",
                lang=lang,
                segment=seg.segment,
                node=seg.label,
                pace=report.pct(seg.pace),
            )
        )
    rules = [r for r in report.sla.rules if r.compliance is not None]
    if rules:
        worst_rule = min(rules, key=lambda r: r.compliance or 0.0)
        out.append(
            t(
                "reports.say.sla",
                lang=lang,
                rule=worst_rule.label,
                compliance=format_value(worst_rule.compliance, "ratio", lang=lang),
                breaches=sum(r.breaches or 0 for r in report.sla.rules),
            )
        )
    if report.alerts.configured:
        out.append(t("reports.say.alerts", lang=lang, count=len(report.alerts.events)))
    return out
