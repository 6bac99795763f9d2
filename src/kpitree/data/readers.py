"""Reading CSV and XLSX exports and mapping them onto the canonical model.

The whole file goes into a private in-memory DuckDB table of text columns
(``c0``, ``c1``, ...) with the row number the user sees in Excel; parsing,
validation and mapping then run as a few SQL statements over all rows at once
(see :mod:`kpitree.data.transform`). Only XLSX needs a Python loop, because
openpyxl yields rows one by one.
"""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.data.batch import MappedBatch
from kpitree.data.header_match import resolve_headers
from kpitree.data.limits import LIMITS
from kpitree.data.lines import count_newlines, excel_rows
from kpitree.data.locate import csv_problem, locate
from kpitree.data.mapping import Mapping
from kpitree.data.textfile import (
    ByteScan,
    TextInfo,
    detect_text,
    header_row,
    read_head,
    scan_bytes,
    sniff_dialect,
    to_utf8_file,
)
from kpitree.data.values import sql_str
from kpitree.errors import DataError, Diagnostic, Span, UserError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Progress",
    "SourceTable",
    "check_columns",
    "csv_options",
    "read_and_map",
    "resolve_headers",
    "starts_utf8",
    "watch_progress",
]

Progress = Callable[[int, int | None], None]
XLSX_SUFFIXES = {".xlsx", ".xlsm"}


@dataclass(frozen=True)
class SourceTable:
    """A source file loaded as table ``raw`` in a DuckDB connection."""

    headers: tuple[str, ...]
    rows: int
    row_sql: str
    """SQL for the Excel-visible row number of a row of ``raw``."""
    sha256: str
    is_xlsx: bool
    warnings: tuple[Diagnostic, ...] = ()
    """Located warnings about the file (characters lost on a Shift_JIS export)."""
    source_columns: int | None = None
    """How many of ``headers`` are the file's own (None: all); the others are
    columns added for the mapping (synthetic ids)."""


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Parsers put cheap casts first and costly full-width folding later in a lazy
    # COALESCE; common-subexpression elimination would hoist the costly parts and
    # run them on every row.
    con.execute("SET disabled_optimizers = 'common_subexpressions'")
    return con


def csv_options(delimiter: str, ncols: int, max_line: int | None = None) -> str:
    """read_csv's options for a file read as text; a line may be ``max_line``
    bytes long (the row size limit unless given)."""
    max_line = LIMITS.max_row_bytes if max_line is None else max_line
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    return (
        f"delim={sql_str(delimiter)}, quote='\"', escape='\"', header=true, "
        f"auto_detect=false, max_line_size={max_line}, columns={columns}"
    )


def watch_progress(
    con: duckdb.DuckDBPyConnection, estimate: int, progress: Progress
) -> threading.Event:
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


def starts_utf8(path: Path) -> bool:
    """Whether the file's first bytes are UTF-8 (with or without a BOM); only a
    guess for the whole file: DuckDB checks the rest while it reads."""
    with path.open("rb") as fh:
        first = fh.read(65536)
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(first)
    except UnicodeDecodeError:
        return False
    return True


def load_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    shown: str,
    mapping: Mapping,
    encoding: str | None,
    progress: Progress | None,
    scanned: ByteScan | None = None,
) -> SourceTable:
    """The CSV file as table ``raw``. ``scanned``: a scan of its bytes already
    made (by the typed fast path that gave up), used if the file is unchanged."""
    # Most exports are UTF-8: then DuckDB reads the file as it is, and one pass
    # hashes it and checks that it is UTF-8. Only if a byte is not UTF-8 is the
    # file detected (and refused where it does not decode, or transcoded when it
    # is Shift_JIS throughout).
    encoding = encoding or mapping.source.encoding
    if encoding is None and starts_utf8(path):
        try:
            return _read_csv(con, path, path, shown, mapping, progress, None, scanned)
        except _NotUtf8:
            con.execute("DROP TABLE IF EXISTS raw")
    info = detect_text(path, encoding, shown=shown, delimiter=mapping.source.delimiter)
    plain = info.encoding in ("utf-8", "utf-8-sig", "ascii")
    csv_path = path if plain else to_utf8_file(path, info.encoding)
    try:
        if not plain:
            _check_controls(csv_path, shown, scan_bytes(csv_path), mapping.source.delimiter)
        return _read_csv(con, path, csv_path, shown, mapping, progress, info)
    except _NotUtf8 as exc:
        raise DataError.of(
            "KT373", "data.file.csv", Span(shown, 1, 1), path=shown, problem=str(exc)
        ) from None
    finally:
        if csv_path != path:
            csv_path.unlink(missing_ok=True)


class _NotUtf8(Exception):
    """DuckDB found a byte sequence that is not UTF-8."""


def _check_controls(path: Path, shown: str, scan: ByteScan, delimiter: str | None) -> None:
    """KT386 at the first NUL byte or byte-order mark inside the (UTF-8) text."""
    found = [o for o in (scan.nul, scan.bom) if o is not None]
    if not found:
        return
    offset = min(found)
    row, col = locate(path, offset, "utf-8", delimiter)
    what = "nul" if offset == scan.nul else "bom"
    raise DataError.of(
        "KT386", f"data.file.control_{what}", Span(shown, row, col), path=shown, row=row, column=col
    )


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    csv_path: Path,
    shown: str,
    mapping: Mapping,
    progress: Progress | None,
    info: TextInfo | None,
    scanned: ByteScan | None = None,
) -> SourceTable:
    """Load ``csv_path`` (UTF-8) as table ``raw``; ``path`` is the file as named,
    ``info`` what detecting its encoding found (None: not detected, UTF-8),
    ``scanned`` a scan of ``path`` already made (used if the file is unchanged)."""
    import duckdb

    head = read_head(csv_path, "utf-8", shown)
    delimiter = mapping.source.delimiter or sniff_dialect(head)
    headers = header_row(head, delimiter)
    if not headers or headers == [""]:
        raise DataError.of("KT372", "data.file.empty", Span(shown, 1, 1), path=shown)
    check_columns(len(headers), shown)
    lines = max(head.count("\n"), 1)
    size = path.stat().st_size
    estimate = max(int(size / max(len(head.encode()) / lines, 1)) - 1, 1)
    watcher = watch_progress(con, estimate, progress) if progress else None
    try:
        options = csv_options(delimiter, len(headers))
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
        if "Invalid unicode" in str(exc):
            raise _NotUtf8(" ".join(str(exc).split("\n")[0:3])) from None
        raise _structural(csv_path, shown, delimiter, headers, exc) from None
    finally:
        if watcher is not None:
            watcher.set()
    rows = int(con.sql("SELECT count(*) FROM raw").fetchall()[0][0])
    if rows > LIMITS.max_rows:
        raise DataError.of(
            "KT388",
            "data.file.too_many_rows",
            Span(shown, LIMITS.max_rows + 2, 1),
            path=shown,
            rows=rows,
            limit=LIMITS.max_rows,
        )
    # Hashed after the read, not beside it: a Python thread next to DuckDB's slows
    # DuckDB down more than the hash costs.
    if info is None:
        # DuckDB refuses bytes that are not UTF-8 in the rows it reads, but not in
        # the header it skips: decoded here with replacement, the header holds
        # U+FFFD where a byte was bad (or, rarely, as written), and only then is
        # every byte decoded again in Python.
        utf8 = any("\ufffd" in h for h in headers)
        if scanned is not None and scanned.of_file(path, utf8=utf8):
            scan = scanned  # hashed beside the typed read that gave up: not again
        else:
            scan = scan_bytes(path, utf8=utf8)
        if scan.utf8_bad is not None:
            raise _NotUtf8(f"offset {scan.utf8_bad}")
        _check_controls(path, shown, scan, delimiter)
        sha256, warnings = scan.sha256, tuple[Diagnostic, ...]()
        newlines = scan.newlines, scan.size > 0 and _last_byte(csv_path) == b"\n"
    else:
        sha256, warnings = info.sha256, info.warnings
        newlines = count_newlines(csv_path)
    row_sql = _row_numbers(con, csv_path, delimiter, rows, *newlines)
    _check_cells(con, len(headers), shown, row_sql)
    return SourceTable(tuple(headers), rows, row_sql, sha256, False, warnings)


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1)


def _row_numbers(
    con: duckdb.DuckDBPyConnection,
    csv_path: Path,
    delimiter: str,
    rows: int,
    newlines: int,
    ends_with_newline: bool,
) -> str:
    """SQL for the sheet row of each row of ``raw`` (a column of it when the
    file has empty lines, which DuckDB skips and Excel counts)."""
    found = excel_rows(csv_path, delimiter, rows, newlines, ends_with_newline)
    if found is None:
        return "(rowid + 2)"
    import pyarrow as pa

    lines = pa.table({"__line__": pa.array(found, pa.int64())})
    con.register("kpitree_lines", lines)
    try:
        con.execute(
            "CREATE OR REPLACE TABLE raw AS SELECT * FROM raw POSITIONAL JOIN kpitree_lines"
        )
    finally:
        con.unregister("kpitree_lines")
    return "__line__"


def check_columns(count: int, shown: str) -> None:
    if count > LIMITS.max_columns:
        raise DataError.of(
            "KT387",
            "data.file.too_many_columns",
            Span(shown, 1, LIMITS.max_columns + 1),
            path=shown,
            columns=count,
            limit=LIMITS.max_columns,
        )


def _check_cells(
    con: duckdb.DuckDBPyConnection, ncols: int, shown: str, row_sql: str = "(rowid + 2)"
) -> None:
    """KT389 at the first cell longer than the cell size limit."""
    limit = LIMITS.max_cell_chars
    for start in range(0, ncols, 256):
        cols = [f"c{k}" for k in range(start, min(start + 256, ncols))]
        if _all_within(con, cols, limit):
            continue
        longest = ", ".join(f"strlen({c})" for c in cols)
        found = con.sql(f"SELECT max(greatest({longest}, 0)) FROM raw").fetchall()[0][0]
        if found is None or found <= limit:
            continue
        where = " OR ".join(f"length({c}) > {limit}" for c in cols)
        hit = con.sql(
            f"SELECT {row_sql}, [{', '.join(f'length({c}) > {limit}' for c in cols)}] "
            f"FROM raw WHERE {where} ORDER BY rowid LIMIT 1"
        ).fetchall()
        if hit:
            row, flags = hit[0]
            col = start + flags.index(True) + 1
            raise DataError.of(
                "KT389",
                "data.file.cell_too_large",
                Span(shown, int(row), col),
                path=shown,
                row=int(row),
                column=col,
                limit=limit,
            )


def _all_within(con: duckdb.DuckDBPyConnection, cols: list[str], limit: int) -> bool:
    """Whether DuckDB's statistics of table ``raw`` (kept as it stores the rows,
    read without a scan) show no cell of ``cols`` longer than ``limit`` bytes,
    hence characters. ``False`` when a statistic is missing: then the cells are
    measured."""
    stats = con.sql(f"SELECT {', '.join(f'stats({c})' for c in cols)} FROM raw LIMIT 1")
    row = stats.fetchall()
    if not row:
        return True  # no rows, no cells
    for found in row[0]:
        longest = found.get("max_string_length") if isinstance(found, dict) else None
        if not isinstance(longest, int) or longest > limit:
            return False
    return True


def _structural(
    csv_path: Path, shown: str, delimiter: str, headers: list[str], exc: Exception
) -> UserError:
    """The located error for a CSV that DuckDB refused (found again in Python)."""
    problem = csv_problem(csv_path, delimiter, len(headers), LIMITS.max_row_bytes)
    if problem is None:
        first = str(exc).split("\n")[0]
        line = re.search(r"Line: (\d+)", str(exc))
        row = int(line.group(1)) if line else 1
        return DataError.of(
            "KT373", "data.file.csv", Span(shown, row, 1), path=shown, problem=first
        )
    span = Span(shown, problem.row, problem.column)
    params = {"path": shown, "row": problem.row, "column": problem.column}
    if problem.kind == "too_many_cells":
        return DataError.of(
            "KT384",
            "data.file.too_many_cells",
            span,
            **params,
            cells=problem.cells,
            headers=len(headers),
            value=problem.value[:40],
        )
    if problem.kind == "row_too_large":
        return DataError.of(
            "KT389",
            "data.file.row_too_large",
            span,
            path=shown,
            row=problem.row,
            limit=LIMITS.max_row_bytes // 1024 // 1024,
        )
    return DataError.of("KT383", f"data.file.{problem.kind}", span, **params)


def reading_fingerprint(
    mapping: Mapping,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    tz: str = "Asia/Tokyo",
) -> str:
    """What :func:`read_and_map` with these arguments reads a file with (kept in
    the import log: the same file read the same way gives the same rows)."""
    from kpitree.data.mapping import mapping_fingerprint

    return mapping_fingerprint(
        mapping, sheet=sheet or mapping.source.sheet, encoding=encoding,
        tz=mapping.source.timezone or tz,
    )  # fmt: skip


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, as an import records it."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def read_and_map(
    path: str | Path,
    mapping: Mapping,
    *,
    sheet: str | None = None,
    progress: Progress | None = None,
    tz: str = "Asia/Tokyo",
    encoding: str | None = None,
) -> MappedBatch:
    """Read one CSV/XLSX export and map it onto canonical tables.

    Bad cells do not raise: they become :class:`~kpitree.data.batch.Reject` entries
    and their rows are left out of ``tables``. Problems with the file as a whole
    (unreadable, missing headers, unknown sheet) raise
    :class:`~kpitree.errors.DataError`. ``progress(rows_done, rows_total)`` is
    called while reading (``rows_total`` may be an estimate or ``None``).
    ``encoding`` names the CSV's encoding (instead of the mapping's
    ``source.encoding``, instead of detecting UTF-8 or Shift_JIS). Located
    warnings about the file are in ``batch.warnings``.

    >>> batch = read_and_map("leads.csv", load_mapping("hubspot-contacts"))  # doctest: +SKIP
    >>> batch.tables["leads"].num_rows  # doctest: +SKIP
    """
    from kpitree.data.dimensions import declared_dimensions
    from kpitree.data.transform import apply_mapping

    p, shown = checked_path(path)
    con = connect()
    try:
        source, found = load_source(con, p, shown, mapping, sheet, encoding, progress)
        batch = apply_mapping(con, source, mapping, found, shown, mapping.source.timezone or tz)
        batch.dimensions = declared_dimensions(mapping, source.headers, found)
        batch.warnings = list(source.warnings)
        batch.mapping_hash = reading_fingerprint(mapping, sheet=sheet, encoding=encoding, tz=tz)
        return batch
    finally:
        con.close()


def checked_path(path: str | Path) -> tuple[Path, str]:
    """The file to read and its name in messages; KT002/KT376 when it cannot be."""
    p = Path(path)
    shown = str(path)
    if not p.exists() or p.is_dir():  # a named pipe is a file to read
        raise DataError.of("KT002", "file.not_found", Span(shown, 1, 1), path=shown)
    suffix = p.suffix.lower()
    if suffix == ".xls":
        raise DataError.of(
            "KT376", "data.file.unsupported", Span(shown, 1, 1), path=shown, suffix=suffix
        )
    return p, shown


def load_source(
    con: duckdb.DuckDBPyConnection,
    p: Path,
    shown: str,
    mapping: Mapping,
    sheet: str | None,
    encoding: str | None,
    progress: Progress | None,
    scanned: ByteScan | None = None,
) -> tuple[SourceTable, dict[str, int]]:
    """The file as table ``raw`` of ``con`` (footer dropped, synthetic ids added)
    and where the mapping's headers are in it. ``scanned``: as for :func:`load_csv`."""
    from kpitree.data.report import add_synthetic_ids, drop_footer
    from kpitree.data.xlsx import load_xlsx

    if progress:
        progress(0, None)
    if p.suffix.lower() in XLSX_SUFFIXES:
        source = load_xlsx(con, p, shown, sheet or mapping.source.sheet, progress)
    else:
        source = load_csv(con, p, shown, mapping, encoding, progress, scanned)
    if progress:
        progress(source.rows, source.rows)
    source = drop_footer(con, source, mapping.source.footer, shown)
    source = add_synthetic_ids(con, source, mapping, shown)
    return source, resolve_headers(mapping, source.headers, shown)
