"""The report as one self-contained HTML page: CSS inline, charts inline SVG,
no request to anything outside the file. The PDF is printed from the same page
(print CSS: A4, page numbers)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from kpitree.i18n import t
from kpitree.reports.charts import chart_svg
from kpitree.reports.layout import Cell, Section, layout

if TYPE_CHECKING:
    from kpitree.reports.model import Report

__all__ = ["render_html", "title"]


def title(report: Report) -> str:
    return t(report.title_key, lang=report.lang, period=report.period.label)


def subtitle(report: Report) -> str:
    return t(
        "reports.subtitle", lang=report.lang, project=report.project, as_of=report.as_of.isoformat()
    )


def _cell_class(cell: Cell) -> str:
    classes = []
    if cell.is_number or cell.unit is not None:
        classes.append("num")
    if cell.status:
        classes += ["status", cell.status]
    if cell.indent:
        classes.append(f"indent-{min(cell.indent, 5)}")
    return " ".join(classes)


def charts_of(sections: list[Section]) -> dict[str, list[str]]:
    return {s.id: [chart_svg(c, s) for c in s.charts if s.table(c.table).rows] for s in sections}


def render_html(report: Report, *, for_print: bool = False) -> str:
    """The HTML page of ``report`` (``for_print``: without the table of contents)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("kpitree.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = (resources.files("kpitree.reports") / "templates" / "report.css").read_text("utf-8")
    sections = layout(report)
    return env.get_template("report.html").render(
        lang=report.lang,
        title=title(report),
        subtitle=subtitle(report),
        contents=t("reports.section.contents", lang=report.lang),
        css=css,
        sections=sections,
        charts=charts_of(sections),
        cell_class=_cell_class,
        with_toc=not for_print,
        # The next-actions table can be typed into in a browser; saved as a
        # complete web page it reads back with ``kpitree actions import``.
        editable=not for_print,
        footer=t("reports.footer", lang=report.lang, as_of=report.as_of.isoformat()),
    )
