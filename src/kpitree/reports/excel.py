"""The report as an Excel workbook: one sheet per section, numbers stored as
numbers with number formats (¥#,##0, 0.0%), frozen header rows and native
Excel charts (openpyxl.chart) over the sheet's own cells, coloured as
:mod:`kpitree.chartstyle` says (as the HTML report and the dashboard). Every text (labels,
team and rep names) is a text cell, never a formula (:mod:`kpitree.escaping`)."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

from kpitree import chartstyle
from kpitree.escaping import write_xlsx_cell
from kpitree.reports.html import subtitle, title
from kpitree.reports.layout import Cell, Chart, Section, layout

if TYPE_CHECKING:
    from kpitree.reports.model import Report

__all__ = ["number_format", "render_xlsx", "sheet_name"]

_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}


def number_format(cell: Cell, currency: str) -> str | None:
    """The Excel number format showing the value as the other formats do."""
    if not cell.is_number:
        return None
    value = float(cell.value)  # type: ignore[arg-type]
    if cell.unit == "pct":
        return "0%"
    if cell.unit == "ratio":
        return "0.0%"
    if cell.unit == "currency":
        symbol = _SYMBOLS.get(currency, "")
        return (
            f'"{symbol}"#,##0'
            if currency in ("JPY", "KRW") or abs(value) >= 1000
            else (f'"{symbol}"#,##0.00')
        )
    if cell.unit == "count":  # the exact value stays in the cell, shown whole
        return "#,##0"
    whole = abs(value - round(value)) <= 1e-9 * max(1.0, abs(value))
    return "#,##0" if whole or abs(value) >= 1000 else "#,##0.0"


def sheet_name(title: str, used: set[str]) -> str:
    """A valid, unique sheet name (31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Sheet"
    name, i = base, 2
    while name.lower() in used:
        suffix = f" ({i})"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


def _write_section(ws: Any, section: Section, report: Report, start: int = 1) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="EDF2F7")
    colours = {"on_track": "276749", "at_risk": "975A16", "off_track": "C53030"}
    put = write_xlsx_cell
    put(ws.cell(row=start, column=1), section.title).font = Font(bold=True, size=13)
    row = start + 1
    for paragraph in section.paragraphs:
        put(ws.cell(row=row, column=1), paragraph)
        row += 1
    positions: dict[str, tuple[int, int]] = {}  # table id -> (header row, last row)
    first_header = None
    widths: dict[int, int] = {}
    for table in section.tables:
        row += 1
        put(ws.cell(row=row, column=1), table.title).font = bold
        row += 1
        if not table.rows and table.empty:
            put(ws.cell(row=row, column=1), table.empty)
            row += 1
            continue
        header = row
        first_header = first_header or header
        for j, name in enumerate(table.columns, start=1):
            c = put(ws.cell(row=header, column=j), name)
            c.font, c.fill = bold, header_fill
            widths[j] = max(widths.get(j, 8), min(40, len(name) * 2 + 2))
        for cells in table.rows:
            row += 1
            for j, cell in enumerate(cells, start=1):
                value = cell.value if cell.is_number else (cell.text or None)
                target = put(ws.cell(row=row, column=j), value)
                fmt = number_format(cell, report.currency)
                if fmt:
                    target.number_format = fmt
                if cell.indent:
                    target.alignment = Alignment(indent=cell.indent)
                if cell.status in colours:
                    target.font = Font(color=colours[cell.status])
                if cell.link:  # the records behind the number, on the dashboard
                    target.hyperlink = cell.link
                    target.font = Font(color="1A56DB", underline="single")
                if not cell.is_number and cell.text:
                    widths[j] = max(widths.get(j, 8), min(40, len(cell.text) * 2 + 2))
        positions[table.id] = (header, row)
        row += 1
    for j, width in widths.items():
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = width
    if first_header is not None:
        ws.freeze_panes = ws.cell(row=first_header + 1, column=2)
    anchor_row = row + 1
    for chart in section.charts:
        if chart.table not in positions:
            continue
        header, last = positions[chart.table]
        if last <= header:
            continue
        native = _native_chart(ws, chart, header, last)
        ws.add_chart(native, f"A{anchor_row}")
        anchor_row += 16


def _native_chart(ws: Any, chart: Chart, header: int, last: int) -> Any:
    """A native Excel chart over the table's cells: series coloured by role;
    the period still running hatched (bars) or dashed (the actual's line)
    as on the other charts."""
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.chart.marker import DataPoint
    from openpyxl.drawing.fill import ColorChoice, PatternFillProperties

    native: Any = LineChart() if chart.kind == "line" else BarChart()
    if chart.kind == "funnel":  # stages from the top down, as horizontal bars
        native.type = "bar"
        native.y_axis.scaling.orientation = "minMax"
        native.x_axis.scaling.orientation = "maxMin"
    native.title = chart.title
    native.width, native.height = chartstyle.XLSX_CHART
    for col in chart.series_columns:
        data = Reference(ws, min_col=col + 1, min_row=header, max_row=last)
        native.add_data(data, titles_from_data=True)
    categories = Reference(ws, min_col=chart.category_column + 1, min_row=header + 1, max_row=last)
    native.set_categories(categories)
    colours = chartstyle.series_colours(chart.roles or None, len(chart.series_columns))
    roles = list(chart.roles) or [""] * len(colours)
    running = None
    if chart.in_progress is not None:
        running = last - header - 1 if chart.running_row is None else chart.running_row
    for i, series in enumerate(native.series):
        colour = colours[i].lstrip("#").upper()
        props = series.graphicalProperties
        if chart.kind == "line":
            props.line.solidFill = colour
            if i and chartstyle.DASHES.get(roles[i]):
                props.line.prstDash = "dash"
        else:
            props.solidFill = colour
            props.line.solidFill = colour
        if running is None or (i and chart.kind == "line"):
            continue
        # A funnel's stages all count the running period: every bar is partial.
        for idx in range(running + 1) if chart.kind == "funnel" else [running]:
            point = DataPoint(idx=idx)
            if chart.kind == "line":
                point.graphicalProperties.line.solidFill = colour
                point.graphicalProperties.line.prstDash = "sysDash"
            else:
                point.graphicalProperties.pattFill = PatternFillProperties(
                    prst="wdUpDiag",
                    fgClr=ColorChoice(srgbClr=colour),
                    bgClr=ColorChoice(srgbClr="FFFFFF"),
                )
            series.dPt.append(point)
    if chart.unit == "ratio":
        native.y_axis.numFmt = "0%"
    elif chart.unit == "currency":
        native.y_axis.numFmt = '#,##0,,"M"'
    return native


def render_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    from openpyxl.styles import Font

    used: set[str] = set()
    for i, section in enumerate(layout(report)):
        ws = wb.create_sheet(sheet_name(section.title, used))
        if i == 0:  # the first sheet carries the report's title
            put = write_xlsx_cell
            put(ws["A1"], title(report)).font = Font(bold=True, size=15)
            put(ws["A2"], subtitle(report))
        _write_section(ws, section, report, start=4 if i == 0 else 1)
    wb.properties.title = title(report)
    wb.properties.creator = "kpitree"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
