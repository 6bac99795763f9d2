"""The sections of the report about how the teams run: one per department
(its KPIs, trends and segments), the hand-off SLAs, the alerts of the period
and the notes on its timeline (laid out for :func:`kpitree.reports.layout.layout`)."""

from __future__ import annotations

from kpitree.reports.layout import (
    MAX_TREND_CHARTS,
    Cell,
    Chart,
    Section,
    Table,
    _c,
    _Cells,
    _node_columns,
    _node_row,
)
from kpitree.reports.model import DepartmentSection, Report, SegmentLine, SlaRuleLine

__all__ = ["alerts_layout", "department_layout", "notes_layout", "sla_layout"]


def department_layout(report: Report, d: DepartmentSection, c: _Cells, lang: str) -> Section:
    kpi_rows = [_node_row(c, line) for line in d.kpis]
    trend_columns = [_c("col.period", lang)]
    units = {line.node: line.unit for line in d.kpis}
    labels = {line.node: line.label for line in d.kpis}
    nodes = list(d.trend.series)
    for node in nodes:
        trend_columns += [
            _c("col.node_actual", lang, node=labels[node]),
            _c("col.node_target", lang, node=labels[node]),
        ]
    running = (
        _c("chart.in_progress", lang, as_of=report.as_of.isoformat())
        if d.trend.keys and d.trend.keys[-1] == report.period.key and not report.period.complete
        else None
    )
    trend_rows = []
    last = len(d.trend.periods) - 1
    for i, period in enumerate(d.trend.periods):
        mark = f" ({_c('in_progress', lang)})" if running and i == last else ""
        row = [c.text(period + mark)]
        for node in nodes:
            actual, target = d.trend.series[node]
            row += [c.num(actual[i], units[node]), c.num(target[i], units[node])]
        trend_rows.append(row)
    charts = [
        Chart(
            f"trend_{d.id}_{node}",
            labels[node],
            "line",
            f"trend_{d.id}",
            0,
            (1 + 2 * i, 2 + 2 * i),
            units[node],
            lang,
            in_progress=running,
            roles=("actual", "target"),
        )
        for i, node in enumerate(nodes[:MAX_TREND_CHARTS])
    ]
    segment_columns = [
        _c(f"col.{k}", lang) for k in ("segment", "node", "actual", "expected", "pace", "status")
    ]

    def seg_rows(lines: list[SegmentLine]) -> list[list[Cell]]:
        return [
            [
                c.text(s.segment),
                c.text(s.label),
                # A team's or rep's own number opens its own records.
                c.num(s.actual, s.unit, s.node if s.filters else None, dict(s.filters)),
                c.num(s.expected, s.unit),
                c.pct(s.pace),
                c.status(s.status, s.status_text),
            ]
            for s in lines
        ]

    tables = [
        Table(f"kpis_{d.id}", _c("kpis", lang, department=d.label), _node_columns(lang), kpi_rows),
        Table(f"trend_{d.id}", _c("trend", lang), trend_columns, trend_rows),
        Table(
            f"best_{d.id}",
            _c("best", lang),
            segment_columns,
            seg_rows(d.best),
            _c("no_segments" if d.focus is None else "no_best", lang),
        ),
        Table(
            f"worst_{d.id}",
            _c("worst", lang),
            segment_columns,
            seg_rows(d.worst),
            _c("no_segments" if d.focus is None else "no_worst", lang),
        ),
    ]
    return Section(f"dept_{d.id}", d.label, [], tables, charts)


def sla_layout(report: Report, c: _Cells, lang: str) -> Section:
    title = _c("section.sla", lang)
    if not report.sla.configured:
        return Section("sla", title, [_c("no_sla", lang)])

    def sla_rows(lines: list[SlaRuleLine]) -> list[list[Cell]]:
        return [
            [
                c.text(r.label),
                c.num(r.compliance, "ratio"),
                c.num(r.p50_hours, "hours"),
                c.num(r.p95_hours, "hours"),
                c.num(r.met, "count"),
                c.num(r.breaches, "count"),
                c.num(r.open, "count"),
            ]
            for r in lines
        ]

    columns = [
        _c(f"col.{k}", lang)
        for k in ("sla_rule", "compliance", "p50", "p95", "met", "breaches", "open")
    ]
    tables = [Table("sla", title, columns, sla_rows(report.sla.rules), _c("no_sla_data", lang))]
    paragraphs = []
    if report.sla.measured_at is not None:
        paragraphs.append(
            _c(
                "sla_as_of",
                lang,
                period=report.period.label,
                moment=report.sla.measured_at,
                period_key=report.period.key,
                as_of=report.as_of.isoformat(),
            )
        )
    if report.sla.owners:
        tables.append(
            Table("sla_owners", _c("sla_owners", lang), columns, sla_rows(report.sla.owners))
        )
    if report.sla.breaches:
        keys = list(report.sla.breaches[0])
        tables.append(
            Table(
                "sla_breaches",
                _c("sla_breaches", lang),
                keys,
                [[c.text(b.get(k, "")) for k in keys] for b in report.sla.breaches],
            )
        )
    return Section("sla", title, paragraphs, tables)


def alerts_layout(report: Report, c: _Cells, lang: str) -> Section:
    title = _c("section.alerts", lang)
    if not report.alerts.configured:
        return Section("alerts", title, [_c("no_alerts_configured", lang)])
    columns = [
        _c(f"col.{k}", lang) for k in ("at", "event", "severity", "node", "segment", "message")
    ]
    rows = [
        [
            c.text(e.at),
            c.text(e.kind),
            c.text(e.severity),
            c.text(e.node),
            c.text(e.segment),
            c.text(e.message),
        ]
        for e in report.alerts.events
    ]
    return Section(
        "alerts", title, [], [Table("alerts", title, columns, rows, _c("no_alerts", lang))]
    )


def notes_layout(report: Report, c: _Cells, lang: str) -> Section:
    """What happened in the period (the notes on the timeline), beside the numbers."""
    title = _c("section.notes", lang)
    columns = [_c(f"col.{k}", lang) for k in ("from", "until", "node", "note_segment", "note")]
    every = _c("notes_every_node", lang)
    rows = [
        [
            c.text(n.start),
            c.text(n.end if n.end != n.start else ""),
            c.text(n.node or every),
            c.text(n.segment or ""),
            c.text(n.text),
        ]
        for n in report.notes
    ]
    return Section("notes", title, [], [Table("notes", title, columns, rows)])
