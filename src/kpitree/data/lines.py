"""The row number a person sees for each record of a CSV file.

DuckDB's reader skips empty lines, so the ``n``-th record it loads is on row
``n + 2`` of the sheet (the header is row 1) only while the file has no empty
line before it. Excel shows an empty line as an empty row, and a person fixing
a file goes by Excel's rows, so where the file's lines and DuckDB's records
disagree the records are counted again here, the way Excel counts them.

The check costs nothing on the usual file: a file whose count of line ends
equals its records plus the header has neither empty lines nor cells that span
lines, and keeps the plain ``rowid + 2``.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["count_newlines", "excel_rows"]

_CHUNK = 1 << 22


def count_newlines(path: Path) -> tuple[int, bool]:
    """LF bytes in ``path`` and whether the file ends with one."""
    count = 0
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count, last == b"\n"


def _has_empty_line(path: Path) -> bool:
    with path.open("rb") as fh:
        tail = b""
        while chunk := fh.read(_CHUNK):
            window = tail + chunk
            if b"\n\n" in window or b"\n\r\n" in window:
                return True
            tail = window[-2:]
    return False


def excel_rows(
    path: Path, delimiter: str, records: int, newlines: int, ends_with_newline: bool
) -> list[int] | None:
    """The sheet row of each of the ``records`` data records DuckDB read from
    ``path`` (UTF-8), or ``None`` when that is simply ``index + 2``.

    Files that end lines with CR alone (Excel's "CSV (Macintosh)") hold no LF
    and are taken as they are."""
    lines = newlines + (0 if ends_with_newline or newlines == 0 else 1)
    if newlines == 0 or lines <= records + 1 or not _has_empty_line(path):
        return None
    rows: list[int] = []
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        for index, record in enumerate(reader):
            if index == 0 or not record:
                continue
            rows.append(index + 1)
    # Where Python's reader and DuckDB's disagree, the plain numbering is the
    # safer guess than a shifted one.
    return rows if len(rows) == records else None
