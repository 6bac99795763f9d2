"""The report as an A4 PDF: the HTML page printed by WeasyPrint, with the
Japanese font embedded (subset) so every reader shows the same glyphs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kpitree.reports.charts import require_cjk_font
from kpitree.reports.html import render_html, title

if TYPE_CHECKING:
    from kpitree.reports.model import Report

__all__ = ["render_pdf"]


def _refuse_fetch(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
    """WeasyPrint's URL fetcher: the page is self-contained, so anything it
    would fetch is refused rather than requested over the network."""
    raise ValueError(f"the report does not load external resources ({url})")


def render_pdf(report: Report) -> bytes:
    require_cjk_font()
    # WeasyPrint logs every CSS property it does not support at WARNING level;
    # those are about the screen styles and would only be noise here.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    from weasyprint import HTML  # type: ignore[import-untyped]

    html = render_html(report, for_print=True)
    document = HTML(string=html, url_fetcher=_refuse_fetch).render()
    document.metadata.title = title(report)
    document.metadata.authors = ["kpitree"]
    pdf: bytes = document.write_pdf()
    return pdf
