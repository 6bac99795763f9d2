"""The report laid out as sections of titled tables and charts, in the
report's language: the one arrangement every format renders (HTML and PDF as
HTML tables, Excel as sheets, Markdown as pipe tables), so the formats cannot
disagree on a number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlencode

from kpitree.filter_text import filter_params
from kpitree.i18n import t
from kpitree.reports.accounts import accounts_layout
from kpitree.reports.actions import actions_layout, validity_layout
from kpitree.reports.model import NodeLine, Report
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
    link: str | None = None  # the records behind the number, on the dashboard

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

    def num(
        self,
        value: float | None,
        unit: str | None,
        node: str | None = None,
        segment: Mapping[str, str] | None = None,
    ) -> Cell:
        """A number; ``node``: the node it is the actual of in the report's
        period (in ``segment``: a department's number is its own, not the
        company's), linked to its records when the report has links."""
        link = self.report.records.get(node) if node and value is not None else None
        if link and segment:
            params = filter_params(segment)
            link += ("&" if "?" in link else "?") + urlencode(params, quote_via=quote)
        return Cell(value, self.report.fmt(value, unit), unit, link=link)

    def pct(self, value: float | None) -> Cell:
        return Cell(value, self.report.pct(value), "pct")

    def status(self, status: str | None, text: str) -> Cell:
        return Cell(text, text, status=status)


def _c(key: str, lang: str, **params: object) -> str:
    return t(f"reports.{key}", lang=lang, **params)


def layout(report: Report) -> list[Section]:
    """Every section of ``report``, in reading order."""
    from kpitree.reports.operations import (
        alerts_layout,
        department_layout,
        notes_layout,
        sla_layout,
    )

    lang = report.lang
    c = _Cells(report)
    return [
        _summary(report, c, lang),
        _tree(report, c, lang),
        _gaps(report, c, lang),
        _funnel(report, c, lang),
        *_burnup(report, c, lang),
        *(department_layout(report, d, c, lang) for d in report.departments),
        sla_layout(report, c, lang),
        alerts_layout(report, c, lang),
        *([notes_layout(report, c, lang)] if report.notes else []),
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


def _node_row(
    c: _Cells,
    line: NodeLine,
    label: str | None = None,
    linked: bool = True,
    segment: Mapping[str, str] | None = None,
) -> list[Cell]:
    return [
        c.text(label or line.label, indent=line.depth),
        c.num(line.actual, line.unit, line.node if linked else None, segment),
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
            _node_row(
                c,
                report.kgi_context,
                _c("month_to_date", lang, period=report.context.label),
                linked=False,  # the month to date: another period
            )
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
                c.num(line.actual, line.unit, line.node),
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
                    # A team's or rep's own number opens its own records.
                    c.num(s.actual, s.unit, s.node if s.filters else None, dict(s.filters)),
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
                c.num(s.actual, s.unit, s.node),
                c.num(s.target, s.unit),
                c.pct(s.achievement),
                c.status(s.status, s.status_text),
                c.text(r.label if r else ""),
                c.num(r.actual if r else None, "ratio", r.node if r else None),
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


def _month(key: str, lang: str) -> str:
    """``2026-10`` as a chart's axis can hold twelve of: 10月, Oct."""
    import datetime as dt

    from babel.dates import format_date

    day = dt.date(int(key[:4]), int(key[5:7]), 1)
    return str(format_date(day, "MMM", locale="ja_JP" if lang == "ja" else "en_US"))
