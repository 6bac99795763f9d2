"""Where something is in a CSV file, as the user sees it: row (header = 1, a
quoted line break does not start a row) and column (first = 1).

Used on the error path only: to turn a byte offset (an undecodable byte, a NUL)
into a row and column, and to find the first structural problem (unbalanced
quotes, a row longer than the header, an over-long record) that DuckDB refused
with a message of its own. Python's C ``csv`` reader does the counting.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CsvProblem", "csv_problem", "locate"]

_SENTINEL = "\x01"


def _reader(text: io.TextIOBase | io.StringIO, delimiter: str | None) -> Iterator[list[str]]:
    csv.field_size_limit(sys.maxsize)
    return csv.reader(text, delimiter=delimiter or ",", quotechar='"', strict=False)


def locate(path: Path, offset: int, encoding: str, delimiter: str | None) -> tuple[int, int]:
    """Row and column of the byte at ``offset`` of the file (read as ``encoding``)."""
    with path.open("rb") as fh:
        data = fh.read(offset)
    text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
    if delimiter is None:
        from kpitree.data.textfile import sniff_dialect

        delimiter = sniff_dialect(text)
    rows = 0
    last: list[str] = []
    for record in _reader(io.StringIO(text + _SENTINEL, newline=""), delimiter):
        rows += 1
        last = record
    return max(rows, 1), max(len(last), 1)


@dataclass(frozen=True)
class CsvProblem:
    """The first structural problem of a CSV file."""

    kind: str
    """``unclosed_quote``, ``text_after_quote``, ``too_many_cells`` or ``row_too_large``."""
    row: int
    column: int
    cells: int = 0
    value: str = ""


def csv_problem(
    path: Path, delimiter: str, ncols: int, max_row_bytes: int | None = None
) -> CsvProblem | None:
    """The first row of a UTF-8 CSV that has more cells than the header, an
    unbalanced quote, text after a closing quote, or (``max_row_bytes``) more
    bytes than that; None when every row is sound."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        if fh.read(1) != "\ufeff":
            fh.seek(0)
        lines = _Lines(fh)
        reader = csv.reader(lines, delimiter=delimiter, quotechar='"', strict=True)
        csv.field_size_limit(sys.maxsize)
        row = 0
        while True:
            start = lines.count
            lines.mark()
            try:
                record = next(reader)
            except StopIteration:
                return None
            except csv.Error:
                return _quote_problem(path, delimiter, start, row + 1)
            row += 1
            if max_row_bytes is not None and lines.size > max_row_bytes:
                return CsvProblem("row_too_large", row, 1)
            if len(record) > ncols:
                return CsvProblem("too_many_cells", row, ncols + 1, len(record), record[ncols])


class _Lines:
    """Physical lines of a text file, counted; ``size``: UTF-8 bytes read since
    the last ``mark()``."""

    def __init__(self, fh: io.TextIOBase) -> None:
        self._fh = fh
        self.count = 0
        self.size = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._fh.readline()
        if not line:
            raise StopIteration
        self.count += 1
        self.size += len(line.encode("utf-8", errors="replace"))
        return line

    def mark(self) -> None:
        self.size = 0


def _quote_problem(path: Path, delimiter: str, first_line: int, row: int) -> CsvProblem:
    """Where the quoting of the record starting on physical line ``first_line``
    (0-based) goes wrong: the column of a quote never closed, or of text after a
    closing quote."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        if fh.read(1) != "\ufeff":
            fh.seek(0)
        for _ in range(first_line):
            fh.readline()
        column = 1
        at_start = True
        quoted = False
        opened = 1
        after_quote = False
        while ch := fh.read(1):
            if quoted:
                if ch == '"':
                    nxt = fh.read(1)
                    if nxt == '"':
                        continue
                    quoted = False
                    after_quote = True
                    ch = nxt
                    if not ch:
                        break
                else:
                    continue
            if after_quote and ch not in (delimiter, "\r", "\n"):
                return CsvProblem("text_after_quote", row, column)
            after_quote = False
            if ch == delimiter:
                column += 1
                at_start = True
            elif ch in "\r\n":
                return CsvProblem("unclosed_quote", row, opened)
            elif ch == '"' and at_start:
                quoted = True
                opened = column
            else:
                at_start = False
        return CsvProblem("unclosed_quote", row, opened)
