"""Reading CSV and XLSX exports and mapping them onto the canonical model.

The whole file goes into a private in-memory DuckDB table of text columns
(``c0``, ``c1``, ...) with the row number the user sees in Excel; parsing,
validation and mapping then run as a few SQL statements over all rows at once
(see :mod:`kpitree.data.transform`). Only XLSX needs a Python loop, because
openpyxl yields rows one by one.
"""

from __future__ import annotations

import datetime as dt
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.data.batch import MappedBatch
from kpitree.data.mapping import Mapping
from kpitree.data.textfile import (
    detect_text,
    file_sha256,
    header_row,
    sniff_dialect,
    to_utf8_file,
    utf8_head,
)
from kpitree.data.values import sql_str
from kpitree.errors import DataError, Diagnostic, Severity, Span
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    import duckdb

__all__ = ["Progress", "SourceTable", "read_and_map"]

Progress = Callable[[int, int | None], None]
_XLSX = {".xlsx", ".xlsm"}
_XLSX_BATCH = 10_000


@dataclass(frozen=True)
class SourceTable:
    """A source file loaded as table ``raw`` in a DuckDB connection."""

    headers: tuple[str, ...]
    rows: int
    row_sql: str
    """SQL for the Excel-visible row number of a row of ``raw``."""
    sha256: str
    is_xlsx: bool


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Parsers put cheap casts first and costly full-width folding later in a lazy
    # COALESCE; common-subexpression elimination would hoist the costly parts and
    # run them on every row.
    con.execute("SET disabled_optimizers = 'common_subexpressions'")
    return con


def _csv_options(delimiter: str, ncols: int) -> str:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    return (
        f"delim={sql_str(delimiter)}, quote='\"', escape='\"', header=true, "
        f"auto_detect=false, columns={columns}"
    )


def _watch(con: duckdb.DuckDBPyConnection, estimate: int, progress: Progress) -> threading.Event:
    """Report DuckDB's own progress on the running statement until the event is set."""
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.25):
            try:
                pct = con.query_progress()
            except Exception:  # the connection may be between statements
                continue
            if pct and pct > 0:
                progress(int(estimate * min(pct, 100.0) / 100.0), estimate)

    threading.Thread(target=poll, daemon=True).start()
    return done


def _load_csv(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, progress: Progress | None
) -> SourceTable:

    # Most exports are UTF-8: then DuckDB reads the file as it is, and its own
    # UTF-8 check stands in for a decoding pass (the file is only hashed). Only if
    # it finds a byte that is not UTF-8 is the file detected and transcoded.
    head = utf8_head(path) if mapping.source.encoding is None else None
    if head is not None:
        try:
            return _read_csv(con, path, path, head, path.stat().st_size, mapping, progress, None)
        except _NotUtf8:
            pass
    info = detect_text(path, mapping.source.encoding)
    plain = info.encoding in ("utf-8", "utf-8-sig", "ascii")
    csv_path = path if plain else to_utf8_file(path, info.encoding)
    try:
        return _read_csv(con, path, csv_path, info.head, info.size, mapping, progress, info.sha256)
    except _NotUtf8 as exc:
        raise DataError.of(
            "KT373",
            "data.file.csv",
            Span(str(path), 1, 1),
            path=str(path),
            problem=str(exc),
        ) from None
    finally:
        if csv_path != path:
            csv_path.unlink(missing_ok=True)


class _NotUtf8(Exception):
    """DuckDB found a byte sequence that is not UTF-8."""


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    csv_path: Path,
    head: str,
    size: int,
    mapping: Mapping,
    progress: Progress | None,
    digest: str | None,
) -> SourceTable:
    """Load ``csv_path`` (UTF-8) as table ``raw``; ``path`` is the file as named."""
    import duckdb

    delimiter = mapping.source.delimiter or sniff_dialect(head)
    headers = header_row(head, delimiter)
    if not headers or headers == [""]:
        raise DataError.of("KT372", "data.file.empty", Span(str(path), 1, 1), path=str(path))
    lines = max(head.count("\n"), 1)
    estimate = max(int(size / max(len(head.encode()) / lines, 1)) - 1, 1)
    watcher = _watch(con, estimate, progress) if progress else None
    try:
        options = _csv_options(delimiter, len(headers))
        try:
            con.execute(
                f"CREATE TABLE raw AS SELECT * FROM read_csv({sql_str(str(csv_path))}, {options})"
            )
        except duckdb.Error as exc:
            if "Expected Number of Columns" not in str(exc):
                raise
            # Short rows (fewer cells than the header) are legal in Excel's eyes;
            # DuckDB pads them only in its single-threaded reader.
            con.execute(
                f"CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv({sql_str(str(csv_path))}, "
                f"{options}, null_padding=true, parallel=false)"
            )
    except duckdb.Error as exc:
        problem = str(exc).split("\n")[0:3]
        if "Invalid unicode" in str(exc):
            raise _NotUtf8(" ".join(problem)) from None
        raise DataError.of(
            "KT373",
            "data.file.csv",
            Span(str(path), 1, 1),
            path=str(path),
            problem=" ".join(problem),
        ) from None
    finally:
        if watcher is not None:
            watcher.set()
    rows = con.sql("SELECT count(*) FROM raw").fetchall()[0][0]
    # Hashed after the read, not beside it: a Python thread next to DuckDB's slows
    # DuckDB down more than the hash costs.
    sha256 = digest if digest is not None else file_sha256(path)
    return SourceTable(tuple(headers), int(rows), "(rowid + 2)", sha256, False)


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


def _load_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sheet: str | None,
    progress: Progress | None,
) -> SourceTable:
    import hashlib

    import openpyxl
    import pyarrow as pa

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise DataError.of(
            "KT374", "data.file.bad_xlsx", Span(str(path), 1, 1), path=str(path), problem=str(exc)
        ) from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise DataError.of(
                "KT375",
                "data.file.unknown_sheet",
                Span(str(path), 1, 1),
                path=str(path),
                sheet=sheet,
                sheets=", ".join(wb.sheetnames),
                hint=did_you_mean(sheet, wb.sheetnames),
            )
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        total = ws.max_row - 1 if ws.max_row else None
        rows_iter = ws.iter_rows(values_only=True)
        header_cells = next(rows_iter, None)
        if not header_cells or all(c is None for c in header_cells):
            raise DataError.of("KT372", "data.file.empty", Span(str(path), 1, 1), path=str(path))
        headers = [(_cell_text(c) or "").strip() for c in header_cells]
        while headers and not headers[-1]:
            headers.pop()
        ncols = len(headers)
        columns: list[list[str | None]] = [[] for _ in range(ncols)]
        row_numbers: list[int] = []
        for number, cells in enumerate(rows_iter, start=2):
            texts = [_cell_text(c) for c in cells[:ncols]]
            if all(t is None or not t.strip() for t in texts):
                continue  # Excel's "used range" often ends in empty rows
            texts += [None] * (ncols - len(texts))
            for col, text in zip(columns, texts, strict=True):
                col.append(text)
            row_numbers.append(number)
            if progress and len(row_numbers) % _XLSX_BATCH == 0:
                progress(len(row_numbers), total)
    finally:
        wb.close()
    from kpitree.data.transform import int_array, string_array

    arrays = {f"c{i}": string_array(col) for i, col in enumerate(columns)}
    arrays["__row__"] = int_array(row_numbers, pa.int64())
    con.register("xlsx_rows", pa.table(arrays))
    con.execute("CREATE TABLE raw AS SELECT * FROM xlsx_rows")
    con.unregister("xlsx_rows")
    return SourceTable(tuple(headers), len(row_numbers), "__row__", digest, True)


def _norm(header: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", header).casefold().split())


def resolve_headers(mapping: Mapping, headers: tuple[str, ...], path: str) -> dict[str, int]:
    """Source header named in the mapping -> column index in the file.

    Headers match exactly, else ignoring case, width (全角/半角) and spacing. Every
    missing header is reported at once, located in the mapping file.
    """
    exact: dict[str, int] = {}
    loose: dict[str, int] = {}
    for i, h in enumerate(headers):
        exact.setdefault(h, i)
        loose.setdefault(_norm(h), i)
    found: dict[str, int] = {}
    diags = []
    wanted: list[tuple[tuple[str, ...], str, Span | None, bool]] = [
        (rule.headers, f"{tbl}.{col}", rule.span, rule.optional)
        for tbl, col, rule in mapping.rules()
        if rule.headers
    ]
    for tm in mapping.tables:
        if isinstance(tm.attributes, tuple):
            wanted += [((h,), f"{tm.table}.attributes", None, False) for h in tm.attributes]
    for alternatives, target, span, optional in wanted:
        for h in alternatives:
            idx = exact.get(h, loose.get(_norm(h)))
            if idx is not None:
                found[h] = idx
                break
        else:
            if not optional:
                diags.append(
                    Diagnostic(
                        Severity.ERROR,
                        "KT371",
                        "data.file.missing_header",
                        {
                            "path": path,
                            "header": alternatives[0],
                            "target": target,
                            "hint": did_you_mean(alternatives[0], headers),
                        },
                        span or Span(path, 1, 1),
                    )
                )
    if diags:
        raise DataError(diags)
    return found


def read_and_map(
    path: str | Path,
    mapping: Mapping,
    *,
    sheet: str | None = None,
    progress: Progress | None = None,
    tz: str = "Asia/Tokyo",
) -> MappedBatch:
    """Read one CSV/XLSX export and map it onto canonical tables.

    Bad cells do not raise: they become :class:`~kpitree.data.batch.Reject` entries
    and their rows are left out of ``tables``. Problems with the file as a whole
    (unreadable, missing headers, unknown sheet) raise
    :class:`~kpitree.errors.DataError`. ``progress(rows_done, rows_total)`` is
    called while reading (``rows_total`` may be an estimate or ``None``).

    >>> batch = read_and_map("leads.csv", load_mapping("hubspot-contacts"))  # doctest: +SKIP
    >>> batch.tables["leads"].num_rows  # doctest: +SKIP
    """
    from kpitree.data.transform import apply_mapping

    p = Path(path)
    shown = str(path)
    if not p.is_file():
        raise DataError.of("KT002", "file.not_found", Span(shown, 1, 1), path=shown)
    suffix = p.suffix.lower()
    if suffix == ".xls":
        raise DataError.of(
            "KT376", "data.file.unsupported", Span(shown, 1, 1), path=shown, suffix=suffix
        )
    con = _connect()
    try:
        if progress:
            progress(0, None)
        if suffix in _XLSX:
            source = _load_xlsx(con, p, sheet or mapping.source.sheet, progress)
        else:
            source = _load_csv(con, p, mapping, progress)
        if progress:
            progress(source.rows, source.rows)
        found = resolve_headers(mapping, source.headers, shown)
        return apply_mapping(con, source, mapping, found, shown, mapping.source.timezone or tz)
    finally:
        con.close()
