"""The next-actions table read from the files a review pack comes back as:
the XLSX pack, the HTML pack saved from the browser after typing into its
table (its cells are editable; *Save as → Webpage, Complete* keeps what was
typed), or a CSV of the table (copied from the HTML pack into a spreadsheet,
saved as CSV in UTF-8 or Shift_JIS). Each gives (where, header row, rows);
:mod:`kpitree.review.sheet` checks and applies the rows the same way."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from kpitree.errors import Span, UserError

__all__ = ["MAX_ROWS", "SUFFIXES", "Rows", "read_rows"]

Rows = tuple[str, int, list[tuple[int, list[Any]]]]

SUFFIXES = (".xlsx", ".html", ".htm", ".csv")
"""The files a filled review pack comes back as."""
MAX_ROWS = 10_000
"""The most rows a sheet of a pack is read to: a meeting's next actions are a
few dozen, so a longer sheet is not a pack (KT221), and memory stays small."""


def _unreadable(file: Path, reason: str) -> UserError:
    return UserError.of("KT219", "review.unreadable", Span(str(file), 1, 1), reason=reason)


def _no_table(file: Path, headers: Sequence[Sequence[str]]) -> UserError:
    return UserError.of(
        "KT220", "review.no_table", Span(str(file), 1, 1), columns=" | ".join(headers[0])
    )


def _too_long(where: str) -> UserError:
    return UserError.of("KT221", "review.too_many_rows", Span(where, 1, 1), limit=MAX_ROWS)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _table_rows(
    where: str, grid: list[list[Any]], headers: Sequence[Sequence[str]], width: int
) -> Rows | None:
    """The rows under the first row that is the table's heading, else None."""
    if len(grid) > MAX_ROWS:
        raise _too_long(where)
    for index, row in enumerate(grid):
        if [_clean(str(c or "")) for c in row[:width]] in [list(h) for h in headers]:
            rows = [
                (number, list(cells[:width]) + [None] * (width - len(cells[:width])))
                for number, cells in enumerate(grid[index + 1 :], start=index + 2)
            ]
            return where, index + 1, rows
    return None


def read_rows(file: Path, headers: Sequence[Sequence[str]], width: int) -> Rows:
    """(where, header row, [(row number, cells)]) of the next-actions table
    in an XLSX, HTML or CSV file (by its suffix)."""
    suffix = file.suffix.lower()
    if suffix in (".html", ".htm", ".csv"):
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise _unreadable(file, "not found") from None
        except OSError as exc:
            raise _unreadable(file, exc.strerror or type(exc).__name__) from None
        if suffix == ".csv":
            found = _table_rows(str(file), _csv_grid(file, data), headers, width)
        else:
            found = None
            for number, grid in enumerate(_html_tables(_decode(file, data)), start=1):
                found = _table_rows(f"{file}[table {number}]", grid, headers, width)
                if found is not None:
                    break
        if found is None:
            raise _no_table(file, headers)
        return found
    return _xlsx_rows(file, headers, width)


def _decode(file: Path, data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _unreadable(file, "neither UTF-8 nor Shift_JIS")


def _csv_grid(file: Path, data: bytes) -> list[list[Any]]:
    try:
        return [list(row) for row in csv.reader(io.StringIO(_decode(file, data), newline=""))]
    except csv.Error as exc:
        raise _unreadable(file, str(exc)) from None


class _Tables(HTMLParser):
    """Every ``<table>`` of a page as rows of cell texts (header and body cells)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._stack: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._stack.append([])
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack and self._stack[-1]:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1].append(_clean("".join(self._cell)))
            self._cell = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_tables(text: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(text)
    parser.close()
    return parser.tables


def _xlsx_rows(file: Path, headers: Sequence[Sequence[str]], width: int) -> Rows:
    from openpyxl import load_workbook

    from kpitree.data.xlsx import check_zip

    check_zip(file, str(file))  # KT374 not a workbook, KT390 a decompression bomb
    try:
        book = load_workbook(file, read_only=True, data_only=True)
    except FileNotFoundError:
        raise _unreadable(file, "not found") from None
    except Exception as exc:  # not an XLSX file at all
        raise _unreadable(file, type(exc).__name__) from None
    try:
        for sheet in book.worksheets:
            grid: list[list[Any]] = []
            for row in sheet.iter_rows(values_only=True):
                if len(grid) == MAX_ROWS:
                    raise _too_long(f"{file}[{sheet.title}]")
                grid.append(list(row))
            found = _table_rows(f"{file}[{sheet.title}]", grid, headers, width)
            if found is not None:
                return found
    finally:
        book.close()
    raise _no_table(file, headers)
