"""The report laid out as sections of titled tables and charts, in the
report's language: the one arrangement every format renders (HTML and PDF as
HTML tables, Excel as sheets, Markdown as pipe tables), so the formats cannot
disagree on a number."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kpitree.i18n import t
from kpitree.reports.accounts import accounts_layout
from kpitree.reports.actions import actions_layout, validity_layout
from kpitree.reports.model import DepartmentSection, NodeLine, Report, SegmentLine, SlaRuleLine
from kpitree.reports.quality import quality_layout

__all__ = ["Cell", "Chart", "Section", "Table", "layout"]

MAX_TREND_CHARTS = 2


@dataclass(frozen=True)
class Cell:
    """One table cell: the raw value (a number stays a number in Excel), its
    unit (``pct`` for achievement and pace) and the text the other formats
    print."""

    value: float | str | None
    text: str
    unit: str | None = None
    status: str | None = None
    indent: int = 0

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, int | float) and not isinstance(self.value, bool)


@dataclass
class Table:
    id: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    empty: str | None = None  # said instead of an empty table


@dataclass(frozen=True)
class Chart:
    """A chart over columns of one of the section's tables."""

    id: str
    title: str
    kind: Literal["bar", "line", "funnel"]
    table: str
    category_column: int
    series_columns: tuple[int, ...]
    unit: str | None
    lang: str = "ja"  # amounts on the axis: 万/億 in Japanese, K/M/B in English
    in_progress: str | None = None
    """Legend text when a period on the chart is still running (drawn lighter
    and hatched, or dashed), else ``None``."""
    running_row: int | None = None
    """The row of that period (``None``: the last row; a burn-up goes on with
    the forecast after it)."""
    roles: tuple[str, ...] = ()
    """What each series is (``actual``, ``target``, …: its colour and dash in
    :mod:`kpitree.chartstyle`); the usual order when empty."""
    link_column: int | None = None
    """A funnel: the column of the conversion written between two stages."""


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    def table(self, table_id: str) -> Table:
        return next(tb for tb in self.tables if tb.id == table_id)


class _Cells:
    def __init__(self, report: Report) -> None:
        self.report = report

    def text(self, value: str | None, indent: int = 0) -> Cell:
        return Cell(value or "", value or "", indent=indent)

    def num(self, value: float | None, unit: str | None) -> Cell:
        return Cell(value, self.report.fmt(value, unit), unit)

    def pct(self, value: float | None) -> Cell:
        return Cell(value, self.report.pct(value), "pct")

    def status(self, status: str | None, text: str) -> Cell:
        return Cell(text, text, status=status)


def _c(key: str, lang: str, **params: object) -> str:
    return t(f"reports.{key}", lang=lang, **params)


def layout(report: Report) -> list[Section]:
    """Every section of ``report``, in reading order."""
    lang = report.lang
    c = _Cells(report)
    return [
        _summary(report, c, lang),
        _tree(report, c, lang),
        _gaps(report, c, lang),
        _funnel(report, c, lang),
        *_burnup(report, c, lang),
        *(_department(report, d, c, lang) for d in report.departments),
        _sla(report, c, lang),
        _alerts(report, c, lang),
        *([_notes(report, c, lang)] if report.notes else []),
        *([accounts_layout(report.accounts, c, lang)] if report.accounts.included else []),
        *([quality_layout(report.quality, c, lang)] if report.quality.included else []),
        *([validity_layout(report, lang)] if report.validity is not None else []),
        actions_layout(report, lang),
    ]


def _node_columns(lang: str) -> list[str]:
    return [
        _c(f"col.{k}", lang)
        for k in (
            "node",
            "actual",
            "target",
            "achievement",
            "expected",
            "pace",
            "forecast",
            "status",
            "previous",
        )
    ]


def _node_row(c: _Cells, line: NodeLine, label: str | None = None) -> list[Cell]:
    return [
        c.text(label or line.label, indent=line.depth),
        c.num(line.actual, line.unit),
        c.num(line.target, line.unit),
        c.pct(line.achievement),
        c.num(line.expected, line.unit),
        c.pct(line.pace),
        c.num(line.forecast, line.unit),
        c.status(line.status, line.status_text),
        c.num(line.previous, line.unit),
    ]


def _summary(report: Report, c: _Cells, lang: str) -> Section:
    rows = [_node_row(c, report.kgi, report.period.label)]
    if report.kgi_context is not None and report.context is not None:
        rows.append(
            _node_row(c, report.kgi_context, _c("month_to_date", lang, period=report.context.label))
        )
    columns = _node_columns(lang)
    columns[0] = _c("col.period", lang)
    table = Table("kgi", f"{_c('kgi', lang)}: {report.kgi.label}", columns, rows)
    chart = Chart(
        "kgi_chart",
        report.kgi.label,
        "bar",
        "kgi",
        0,
        (1, 4, 2, 6),
        report.kgi.unit,
        lang,
        in_progress=None
        if report.period.complete
        else _c("chart.in_progress", lang, as_of=report.as_of.isoformat()),
        roles=("actual", "expected", "target", "forecast"),
    )
    return Section("summary", _c("section.summary", lang), list(report.narrative), [table], [chart])


def _burnup(report: Report, c: _Cells, lang: str) -> list[Section]:
    """The KGI's fiscal year so far (monthly packs): a table and its chart."""
    if not report.burnup:
        return []
    unit = report.kgi.unit
    title = _c("burnup", lang, node=report.kgi.label)
    columns = [_c(f"col.{k}", lang) for k in ("month", "cumulative", "cumulative_target")]
    columns.append(_c("col.landing", lang))
    progress = _c("in_progress", lang)
    rows = [
        [
            c.text(_month(p.period, lang) + (f" ({progress})" if p.in_progress else "")),
            c.num(p.actual, unit),
            c.num(p.target, unit),
            c.num(p.forecast, unit),
        ]
        for p in report.burnup
    ]
    table = Table("burnup", title, columns, rows)
    running = next((i for i, p in enumerate(report.burnup) if p.in_progress), None)
    chart = Chart(
        "burnup_chart",
        title,
        "line",
        "burnup",
        0,
        (1, 2, 3),
        unit,
        lang,
        in_progress=_c("chart.in_progress", lang, as_of=report.as_of.isoformat())
        if running is not None
        else None,
        running_row=running,
        roles=("actual", "target", "forecast"),
    )
    return [Section("burnup", title, [], [table], [chart])]


def _tree(report: Report, c: _Cells, lang: str) -> Section:
    rows = [_node_row(c, line) for line in report.tree]
    table = Table("tree", _c("section.tree", lang), _node_columns(lang), rows)
    return Section("tree", _c("section.tree", lang), [], [table])


def _gaps(report: Report, c: _Cells, lang: str) -> Section:
    kgi_unit = report.kgi.unit
    gap_rows = []
    driver_rows = []
    segment_rows = []
    for g in report.gaps:
        line = g.line
        gap_rows.append(
            [
                c.text(line.label),
                c.num(line.actual, line.unit),
                c.num(line.expected, line.unit),
                c.num(g.gap, line.unit),
                c.pct(line.pace),
                c.status(line.status, line.status_text),
            ]
        )
        for s in g.segments:
            segment_rows.append(
                [
                    c.text(line.label),
                    c.text(s.segment),
                    c.num(s.actual, s.unit),
                    c.num(s.expected, s.unit),
                    c.num(s.gap, s.unit),
                    c.status(s.status, s.status_text),
                ]
            )
    for d in report.drivers:
        driver_rows.append(
            [
                c.text(d.label),
                c.num(d.actual, d.unit),
                c.num(d.reference, d.unit),
                c.num(d.amount, kgi_unit),
            ]
        )
    if driver_rows:
        total = sum(d.amount for d in report.drivers)
        blank = c.text(None)
        driver_rows.append([c.text(_c("total", lang)), blank, blank, c.num(total, kgi_unit)])
    tables = [
        Table(
            "gaps",
            _c("section.gaps", lang),
            [_c(f"col.{k}", lang) for k in ("node", "actual", "expected", "gap", "pace", "status")],
            gap_rows,
            _c("no_gaps", lang),
        ),
        Table(
            "drivers",
            _c("drivers", lang, kgi=report.kgi.label),
            [_c(f"col.{k}", lang) for k in ("driver", "actual", "expected", "effect_on_kgi")],
            driver_rows,
            _c("no_drivers", lang),
        ),
        Table(
            "gap_segments",
            _c("gap_segments", lang),
            [
                _c(f"col.{k}", lang)
                for k in ("node", "segment", "actual", "expected", "gap", "status")
            ],
            segment_rows,
            _c("no_segment_gaps", lang),
        ),
    ]
    paragraphs = []
    b = report.bottleneck
    if b is not None:
        node_unit = next((line.unit for line in report.tree if line.node == b.node), "ratio")
        rng = _range_text(report, b.benchmark_low, b.benchmark_high, node_unit)
        paragraphs.append(_c("bottleneck", lang, sentence=b.sentence, range=rng))
    return Section("gaps", _c("section.gaps", lang), paragraphs, tables)


def _range_text(report: Report, low: float | None, high: float | None, unit: str | None) -> str:
    if low is None and high is None:
        return "—"
    return f"{report.fmt(low, unit)}–{report.fmt(high, unit)}"


def _funnel(report: Report, c: _Cells, lang: str) -> Section:
    rows = []
    for step in report.funnel:
        s, r = step.stage, step.rate
        rows.append(
            [
                c.text(s.label),
                c.num(s.actual, s.unit),
                c.num(s.target, s.unit),
                c.pct(s.achievement),
                c.status(s.status, s.status_text),
                c.text(r.label if r else ""),
                c.num(r.actual if r else None, "ratio"),
                c.num(r.target if r else None, "ratio"),
                c.text(
                    _range_text(report, step.benchmark_low, step.benchmark_high, "ratio")
                    if r
                    else ""
                ),
                c.status(r.status if r else None, r.status_text if r else ""),
            ]
        )
    columns = [
        _c(f"col.{k}", lang)
        for k in (
            "stage",
            "actual",
            "target",
            "achievement",
            "status",
            "rate",
            "rate_actual",
            "rate_target",
            "reference_range",
            "rate_status",
        )
    ]
    table = Table("funnel", _c("section.funnel", lang), columns, rows, _c("no_funnel", lang))
    charts = []
    if rows:
        charts.append(
            Chart(
                "funnel_chart",
                _c("section.funnel", lang),
                "funnel",
                "funnel",
                0,
                (1,),
                "count",
                lang,
                in_progress=None
                if report.period.complete
                else _c("chart.in_progress", lang, as_of=report.as_of.isoformat()),
                roles=("actual",),
                link_column=6,
            )
        )
    return Section("funnel", _c("section.funnel", lang), [], [table], charts)


def _department(report: Report, d: DepartmentSection, c: _Cells, lang: str) -> Section:
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
                c.num(s.actual, s.unit),
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


def _sla(report: Report, c: _Cells, lang: str) -> Section:
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


def _alerts(report: Report, c: _Cells, lang: str) -> Section:
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


def _notes(report: Report, c: _Cells, lang: str) -> Section:
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


def _month(key: str, lang: str) -> str:
    """``2026-10`` as a chart's axis can hold twelve of: 10月, Oct."""
    import datetime as dt

    from babel.dates import format_date

    day = dt.date(int(key[:4]), int(key[5:7]), 1)
    return str(format_date(day, "MMM", locale="ja_JP" if lang == "ja" else "en_US"))
