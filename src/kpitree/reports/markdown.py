"""The report as Markdown: headings, the narrative and pipe tables (charts are
left to the other formats; their numbers are in the tables). Every text is
escaped (:mod:`kpitree.escaping`): a label cannot become HTML, a link, an image
or a table column in the reader's renderer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitree.escaping import markdown_cell, markdown_text
from kpitree.reports.html import subtitle, title
from kpitree.reports.layout import Cell, Table, layout

if TYPE_CHECKING:
    from kpitree.reports.model import Report

__all__ = ["render_markdown"]

_INDENT = "\u3000"  # an ideographic space keeps the tree's depth visible in tables


def _cell(cell: Cell) -> str:
    text = markdown_cell(cell.text)
    if cell.link:  # the records behind the number (an address kpitree built, quoted)
        text = f"[{text}]({cell.link.replace('(', '%28').replace(')', '%29')})"
    return _INDENT * cell.indent + text if cell.indent else text


def _table(table: Table) -> list[str]:
    if not table.rows and table.empty:
        return [f"_{markdown_cell(table.empty)}_", ""]
    right = [
        any(r[i].is_number or r[i].unit for r in table.rows) for i in range(len(table.columns))
    ]
    lines = [
        "| " + " | ".join(markdown_cell(c) for c in table.columns) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) or " " for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    out = [f"# {markdown_cell(title(report))}", "", markdown_text(subtitle(report)), ""]
    for section in layout(report):
        out += [f"## {markdown_cell(section.title)}", ""]
        if section.id == "summary":
            out += [f"- {markdown_text(p)}" for p in section.paragraphs]
            out += [""] if section.paragraphs else []
        else:
            for p in section.paragraphs:
                out += [markdown_text(p), ""]
        for table in section.tables:
            if len(section.tables) > 1 or table.title != section.title:
                out += [f"### {markdown_cell(table.title)}", ""]
            out += _table(table)
    return "\n".join(out).rstrip("\n") + "\n"
