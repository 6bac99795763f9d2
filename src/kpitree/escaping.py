"""Text that leaves kpitree for another program: spreadsheets, Markdown, Slack.

Labels, team and rep names, channels and ids come from imported files and from
definitions; whoever wrote them must not be able to make the program that opens
kpitree's output run something. Every writer of CSV, XLSX, Markdown and Slack
text goes through this module.

Spreadsheets (CSV and XLSX)
    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a carriage
    return, a line feed or a NUL (or with the full-width ``＝ ＋ － ＠`` that
    Japanese input may produce) is read as a formula by Excel, LibreOffice and
    Google Sheets. In CSV such a cell gets a leading single quote (the
    neutralisation OWASP describes for CSV injection); in XLSX it is written as a
    text cell with Excel's "quote prefix" style, so the value is exact, shown as
    text and stays text when edited. Numbers (``int``, ``float``, ``Decimal``)
    are never touched, and neither is a text that is a plain decimal number
    (``-5``, ``+1.5e3``): a spreadsheet reads it as that number and nothing
    else. A text such as ``-5%`` or ``+81-3-1234-5678`` is neutralised.

Markdown
    ``<``, ``>`` and ``&`` that would start an entity are written as entities;
    the characters that make emphasis, code, links and images, table cells and
    strikethrough are backslash-escaped; line breaks become spaces; a line may not
    start a heading, a list, a quote or a rule.

Slack
    ``&``, ``<`` and ``>`` are written as ``&amp;``, ``&lt;``, ``&gt;``, as Slack
    documents, so a text cannot mention ``<!channel>`` or make a ``<url|link>``.

Terminal
    The CLI prints with Rich: ``[`` is escaped so a text cannot be Rich markup
    (``[link=…]``), and control characters (``ESC``, which starts terminal escape
    sequences that recolour, retitle or write the clipboard) become U+FFFD.

>>> spreadsheet_text("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> spreadsheet_text("-5"), spreadsheet_text("-5%")
('-5', "'-5%")
>>> markdown_text("<img src=x onerror=alert(1)> [a](b)")
'&lt;img src=x onerror=alert(1)&gt; \\\\[a\\\\](b)'
>>> slack_text("<!channel> & <http://evil|click>")
'&lt;!channel&gt; &amp; &lt;http://evil|click&gt;'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any

__all__ = [
    "FORMULA_STARTS",
    "SpreadsheetCsvWriter",
    "formula_like",
    "markdown_cell",
    "markdown_text",
    "slack_text",
    "spreadsheet_text",
    "terminal_text",
    "write_xlsx_cell",
    "xlsx_text",
]

FORMULA_STARTS = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Characters an XLSX file cannot hold (openpyxl refuses them): C0 controls but
# tab, line feed and carriage return.
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (or as something
    other than the text itself)."""
    return bool(text) and text[0] in FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(text)


def spreadsheet_text(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text: a leading ``'`` when
    it would otherwise be a formula."""
    return "'" + text if formula_like(text) else text


class SpreadsheetCsvWriter:
    """:func:`csv.writer` whose text cells are neutralised with
    :func:`spreadsheet_text`; other values (numbers) are written as they are.

    >>> import io
    >>> out = io.StringIO()
    >>> SpreadsheetCsvWriter(out, lineterminator="\\n").writerow(["@SUM(A1)", -5, "ok"])
    >>> out.getvalue()
    "'@SUM(A1),-5,ok\\n"
    """

    def __init__(self, out: IO[str], **options: Any) -> None:
        import csv

        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_text(v) if isinstance(v, str) else v for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def xlsx_text(text: str) -> str:
    """``text`` without the control characters an XLSX file cannot hold (each
    becomes U+FFFD, so nothing disappears silently)."""
    return _XLSX_ILLEGAL.sub("\ufffd", text)


def write_xlsx_cell(cell: Any, value: Any) -> Any:
    """Put ``value`` into an openpyxl ``cell`` and return the cell. Text is
    always a text cell (openpyxl would make ``=...`` a formula), with Excel's
    quote prefix when it looks like a formula; numbers, dates and booleans keep
    their type."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, str):
        text = xlsx_text(value)
        cell.value = text
        cell.data_type = "s"
        if formula_like(text):
            cell.quotePrefix = True
        return cell
    cell.value = value
    return cell


_MD_ESCAPES = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "~": "\\~",
    "<": "&lt;",
    ">": "&gt;",
}
_MD_INLINE = re.compile(r"[\\`*_\[\]|~<>]|&(?=#?[0-9A-Za-z]+;)")
# What would start a block at the beginning of a line: a heading, a list item or
# a thematic break (``>`` is already an entity, ``*`` and ``_`` are escaped).
_MD_LINE_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s|$)|-(?=[-\s]*$)|\d{1,9}[.)](?=\s|$))")


def _escape_line_start(match: re.Match[str]) -> str:
    marker = match.group(2)
    if marker[0].isdigit():  # "1." -> "1\.": a digit cannot be escaped
        return match.group(1) + marker[:-1] + "\\" + marker[-1]
    return match.group(1) + "\\" + marker


def markdown_cell(text: str) -> str:
    """``text`` as the literal content of a Markdown table cell or of a line after
    a block marker (a heading's ``## ``): one line, nothing a renderer interprets."""
    one_line = " ".join(str(text).splitlines()) if text else ""
    return _MD_INLINE.sub(lambda m: _MD_ESCAPES.get(m.group(0), "&amp;"), one_line)


def markdown_text(text: str) -> str:
    """``text`` as a literal Markdown paragraph or list item (one line that
    cannot start a heading, a list or a rule either)."""
    return _MD_LINE_START.sub(_escape_line_start, markdown_cell(text), count=1)


def slack_text(text: str) -> str:
    """``text`` as literal text inside Slack ``mrkdwn`` (and a message's ``text``)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# C0 and C1 controls but tab and line feed, and DEL.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: object) -> str:
    """``text`` as literal text in a Rich console line or table cell.

    >>> print(terminal_text("[link=http://evil.example]click[/link]"))
    \\[link=http://evil.example]click\\[/link]
    >>> terminal_text("\\x1b]0;title\\x07") == "\\ufffd]0;title\\ufffd"
    True
    """
    from rich.markup import escape

    return escape(_TERMINAL_CONTROLS.sub("\ufffd", str(text)))
