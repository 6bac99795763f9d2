"""Reading an XLSX sheet into table ``raw``, within the documented limits.

A workbook is a zip archive. Before anything is inflated its directory is
checked: the parts together may not inflate beyond
:attr:`~kpitree.data.limits.Limits.max_xlsx_inflated`, and no large part beyond
:attr:`~kpitree.data.limits.Limits.max_xlsx_ratio` times its compressed size (what
decompression bombs do). The sizes the directory declares also bound the
inflating itself: Python's ``zipfile`` (which openpyxl reads through) stops at a
part's declared size and then checks its CRC, so a directory that lies makes the
read fail, not grow. Rows go to DuckDB in batches, so memory stays bounded by the
sheet's text, not by Python objects per cell.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.data.limits import LIMITS
from kpitree.errors import DataError, Span
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.readers import Progress, SourceTable

__all__ = ["check_zip", "load_xlsx"]

_BATCH = 10_000
_SMALL_PART = 1024 * 1024  # parts this small may compress as well as they like


def check_zip(path: Path, shown: str) -> None:
    """KT374 when ``path`` is not a zip archive; KT390 when its parts would
    inflate beyond the limits (checked on the directory, nothing inflated)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError.of(
            "KT374", "data.file.bad_xlsx", Span(shown, 1, 1), path=shown, problem=str(exc)
        ) from None
    total = 0
    for part in parts:
        total += part.file_size
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _SMALL_PART and ratio > LIMITS.max_xlsx_ratio:
            raise DataError.of(
                "KT390",
                "data.file.xlsx_ratio",
                Span(shown, 1, 1),
                path=shown,
                part=part.filename,
                ratio=int(ratio),
                limit=LIMITS.max_xlsx_ratio,
            )
    if total > LIMITS.max_xlsx_inflated:
        raise DataError.of(
            "KT390",
            "data.file.xlsx_inflated",
            Span(shown, 1, 1),
            path=shown,
            size=total // 1024 // 1024,
            limit=LIMITS.max_xlsx_inflated // 1024 // 1024,
        )


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_cell(text: str, shown: str, row: int, col: int) -> None:
    """The same rules as for CSV cells: size, no NUL, no byte-order mark."""
    if len(text) > LIMITS.max_cell_chars:
        raise DataError.of(
            "KT389",
            "data.file.cell_too_large",
            Span(shown, row, col),
            path=shown,
            row=row,
            column=col,
            limit=LIMITS.max_cell_chars,
        )
    for char, what in (("\x00", "nul"), ("\ufeff", "bom")):
        if char in text:
            raise DataError.of(
                "KT386",
                f"data.file.control_{what}",
                Span(shown, row, col),
                path=shown,
                row=row,
                column=col,
            )


def _flush(
    con: duckdb.DuckDBPyConnection, columns: list[list[str | None]], numbers: list[int]
) -> None:
    import pyarrow as pa

    from kpitree.data.arrays import int_array, string_array

    arrays = {f"c{i}": string_array(col) for i, col in enumerate(columns)}
    arrays["__row__"] = int_array(numbers, pa.int64())
    con.register("xlsx_rows", pa.table(arrays))
    con.execute("INSERT INTO raw SELECT * FROM xlsx_rows")
    con.unregister("xlsx_rows")
    for col in columns:
        col.clear()
    numbers.clear()


def load_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    shown: str,
    sheet: str | None,
    progress: Progress | None,
) -> SourceTable:
    """Load one sheet (default: the first) as table ``raw`` with ``__row__``, the
    row number Excel shows; empty rows are skipped."""
    import openpyxl

    from kpitree.data.readers import SourceTable, check_columns

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    check_zip(path, shown)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise DataError.of(
            "KT374", "data.file.bad_xlsx", Span(shown, 1, 1), path=shown, problem=str(exc)
        ) from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise DataError.of(
                "KT375",
                "data.file.unknown_sheet",
                Span(shown, 1, 1),
                path=shown,
                sheet=sheet,
                sheets=", ".join(wb.sheetnames),
                hint=did_you_mean(sheet, wb.sheetnames),
            )
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        total = ws.max_row - 1 if ws.max_row else None
        rows_iter = ws.iter_rows(values_only=True)
        try:
            header_cells = next(rows_iter, None)
        except Exception as exc:
            raise DataError.of(
                "KT374", "data.file.bad_xlsx", Span(shown, 1, 1), path=shown, problem=str(exc)
            ) from None
        if not header_cells or all(c is None for c in header_cells):
            raise DataError.of("KT372", "data.file.empty", Span(shown, 1, 1), path=shown)
        headers = [(_cell_text(c) or "").strip() for c in header_cells]
        while headers and not headers[-1]:
            headers.pop()
        check_columns(len(headers), shown)
        for k, h in enumerate(headers):
            _check_cell(h, shown, 1, k + 1)
        ncols = len(headers)
        cols = ", ".join([*(f"c{i} VARCHAR" for i in range(ncols)), "__row__ BIGINT"])
        con.execute(f"CREATE TABLE raw ({cols})")
        columns: list[list[str | None]] = [[] for _ in range(ncols)]
        numbers: list[int] = []
        count = 0
        try:
            for number, cells in enumerate(rows_iter, start=2):
                texts = [_cell_text(c) for c in cells[:ncols]]
                if all(t is None or not t.strip() for t in texts):
                    continue  # Excel's "used range" often ends in empty rows
                count += 1
                if count > LIMITS.max_xlsx_rows:
                    raise DataError.of(
                        "KT388",
                        "data.file.too_many_rows",
                        Span(shown, number, 1),
                        path=shown,
                        rows=count,
                        limit=LIMITS.max_xlsx_rows,
                    )
                texts += [None] * (ncols - len(texts))
                for k, (col, text) in enumerate(zip(columns, texts, strict=True)):
                    if text is not None:
                        _check_cell(text, shown, number, k + 1)
                    col.append(text)
                numbers.append(number)
                if len(numbers) >= _BATCH:
                    _flush(con, columns, numbers)
                    if progress:
                        progress(count, total)
        except DataError:
            raise
        except Exception as exc:  # a part that fails its CRC, broken XML, ...
            raise DataError.of(
                "KT374", "data.file.bad_xlsx", Span(shown, 1, 1), path=shown, problem=str(exc)
            ) from None
        if numbers or count == 0:
            _flush(con, columns, numbers)
    finally:
        wb.close()
    return SourceTable(tuple(headers), count, "__row__", digest.hexdigest(), True)
