"""One entry point for every format."""

from __future__ import annotations

from typing import Literal

from kpitree.errors import UserError
from kpitree.reports.model import Report

__all__ = ["FORMATS", "Format", "default_file_name", "render"]

Format = Literal["pdf", "xlsx", "html", "md"]
FORMATS: tuple[Format, ...] = ("pdf", "xlsx", "html", "md")
MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "md": "text/markdown",
}


def default_file_name(report: Report, fmt: str) -> str:
    """``kpitree-report-2026-10.pdf`` (``kpitree-report-2026-W41.xlsx`` for a week)."""
    return f"kpitree-report-{report.period.key}.{fmt}"


def render(report: Report, fmt: str) -> bytes:
    """``report`` in ``fmt`` (pdf, xlsx, html or md) as bytes."""
    if fmt == "md":
        from kpitree.reports.markdown import render_markdown

        return render_markdown(report).encode("utf-8")
    if fmt == "html":
        from kpitree.reports.html import render_html

        return render_html(report).encode("utf-8")
    if fmt == "pdf":
        from kpitree.reports.pdf import render_pdf

        return render_pdf(report)
    if fmt == "xlsx":
        from kpitree.reports.excel import render_xlsx

        return render_xlsx(report)
    raise UserError.of("KT803", "reports.bad_format", None, value=fmt, formats=", ".join(FORMATS))
