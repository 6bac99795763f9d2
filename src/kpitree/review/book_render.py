"""The KPI definitions book as Markdown, a self-contained HTML page, XLSX
(one row per node; every text a text cell, never a formula) or PDF (the HTML
printed by WeasyPrint with the Japanese font embedded)."""

from __future__ import annotations

import html
import io
import logging
from typing import Any

from kpitree.escaping import write_xlsx_cell
from kpitree.i18n import t
from kpitree.review.book import BOOK_FIELDS

__all__ = ["FORMATS", "render_book"]

FORMATS = ("html", "md", "xlsx", "pdf")
_SKIP = ("id", "name")  # in each node's heading


def _md_text(value: str) -> str:
    """Literal Markdown: markup characters escaped, one line."""
    value = " ".join(value.split())
    value = html.escape(value, quote=False)
    for ch in "\\`*_[]|~#":
        value = value.replace(ch, "\\" + ch)
    return value


def _md(title: str, entries: list[dict[str, Any]], lang: str) -> str:
    lines = [f"# {_md_text(title)}", ""]
    for e in entries:
        lines += [f"## {_md_text(e['name'])} ({_md_text(e['id'])})", ""]
        for key in BOOK_FIELDS:
            if key not in _SKIP and e[key]:
                lines.append(f"- {t(f'book.col.{key}', lang=lang)}: {_md_text(str(e[key]))}")
        lines.append("")
    return "\n".join(lines)


def _html(title: str, entries: list[dict[str, Any]], lang: str) -> str:
    esc = html.escape
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>",
        "body{font-family:'Noto Sans CJK JP','Hiragino Sans','Yu Gothic',sans-serif;"
        "margin:2em;color:#1a202c}section{border-top:1px solid #cbd5e0;padding:.5em 0;"
        "break-inside:avoid}dt{font-weight:bold;float:left;clear:left;width:11em}"
        "dd{margin:0 0 .3em 12em}code{font-family:monospace}",
        "</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for e in entries:
        parts.append(f'<section id="{esc(e["id"])}"><h2>{esc(e["name"])} ')
        parts.append(f"<code>{esc(e['id'])}</code></h2><dl>")
        for key in BOOK_FIELDS:
            if key not in _SKIP and e[key]:
                label = esc(t(f"book.col.{key}", lang=lang))
                parts.append(f'<dt>{label}</dt><dd data-field="{key}">{esc(str(e[key]))}</dd>')
        parts.append("</dl></section>")
    parts.append("</body></html>")
    return "".join(parts)


def _xlsx(title: str, entries: list[dict[str, Any]], lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = t("book.sheet", lang=lang)
    write_xlsx_cell(sheet.cell(row=1, column=1), title).font = Font(bold=True, size=14)
    for j, key in enumerate(BOOK_FIELDS, start=1):
        write_xlsx_cell(sheet.cell(row=3, column=j), t(f"book.col.{key}", lang=lang)).font = Font(
            bold=True
        )
        sheet.column_dimensions[sheet.cell(row=3, column=j).column_letter].width = 24
    for i, e in enumerate(entries, start=4):
        for j, key in enumerate(BOOK_FIELDS, start=1):
            cell = write_xlsx_cell(sheet.cell(row=i, column=j), str(e[key]) or None)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "C4"
    book.properties.title = title
    book.properties.creator = "kpitree"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _refuse_fetch(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
    raise ValueError(f"the book does not load external resources ({url})")


def render_book(title: str, entries: list[dict[str, Any]], fmt: str, lang: str) -> bytes:
    """The book in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "md":
        return _md(title, entries, lang).encode("utf-8")
    if fmt == "xlsx":
        return _xlsx(title, entries, lang)
    page = _html(title, entries, lang)
    if fmt == "html":
        return page.encode("utf-8")
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=page, url_fetcher=_refuse_fetch).write_pdf()
    return pdf
