"""The typed fast path of a CSV import: the file read once, in its types.

The text path (:func:`~kpitree.data.readers.load_source` then the parse query)
first copies every cell into a table of text, so that each bad cell can be
reported with its row and column, then parses that copy. Most exports have no
bad cell: for them the parse query runs straight over DuckDB's ``read_csv`` of
the file (no text copy), with the date columns read by the CSV reader itself
in the one format their first rows are written in (no ``strptime`` of the
text). Every other column is read as text and parsed by the same SQL as on the
text path, so the rows are the same.

The fast path is only taken where it cannot differ from the text path, and it
gives up (``None``) on anything the text path would report, refuse or read
another way; the text path then reads the file and reports as usual, with
nothing written:

- a cell the reader cannot read in its column's type (another date format, an
  impossible date, a blank of spaces), a short or long row, a quote left
  open, a byte that is not UTF-8 in any column (every column is read), a line
  beyond the size limit: ``read_csv`` fails (``auto_detect=false``, the default
  ``strict_mode`` and ``ignore_errors=false``);
- a row the parse query rejects, a cell beyond the cell size limit, an id
  repeated, more rows than the row limit, a NUL byte or byte-order mark inside
  the text;
- mappings the fast path does not cover: an encoding named, Shift_JIS or
  UTF-16 files, null values, footers, synthetic ids, ids checked row by row
  (the ids are not the cells' text).

A file under :data:`FAST_FROM_BYTES` takes the text path directly: the sample
and the second read of a failed fast path cost more there than they save.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.data.limits import LIMITS
from kpitree.data.mapping import HISTORY_TABLES, Mapping
from kpitree.data.parsed import count_rows, ids_repeat, kept_batch, parse_into
from kpitree.data.values import fast_strptime, sql_str
from kpitree.errors import UserError

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.batch import MappedBatch
    from kpitree.data.query import Plan
    from kpitree.data.readers import Progress, SourceTable
    from kpitree.data.textfile import ByteScan
    from kpitree.data.transform import Layout

__all__ = ["FAST_FROM_BYTES", "read_typed"]

_log = logging.getLogger(__name__)

FAST_FROM_BYTES = 4 << 20
"""Files from this size (bytes) try the typed fast path first."""
_SAMPLE = 2000  # rows read as text to choose the date formats (as the text path does)
_SAMPLE_BYTES = 64 << 20  # at most this much of the file is copied for the sample
_QUOTE_OR_LF = re.compile(rb'["\n]')


def read_typed(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    shown: str,
    mapping: Mapping,
    tz: str,
    read_db: str,
    progress: Progress | None,
    encoding: str | None,
) -> tuple[tuple[SourceTable, dict[str, int], MappedBatch] | None, ByteScan | None]:
    """The file read and mapped on the fast path into ``<read_db>.parsed`` (the
    current database holds the view ``raw``), or ``None`` where the text path
    must read it (everything the fast path made is then dropped); and the scan
    of the file's bytes if one was made (the text path need not hash it again)."""
    import duckdb

    if not _eligible(path, mapping, encoding):
        return None, None
    scans: list[ByteScan] = []
    try:
        found = _read(con, path, shown, mapping, tz, read_db, progress, scans)
        _log.debug("%s: read typed", shown)
    except (_TextPath, UserError, duckdb.Error) as exc:
        _log.debug("%s: read as text (%s)", shown, str(exc).split("\n")[0])
        found = None
    if found is None:
        for kind, name in (
            ("VIEW", "raw"),
            ("TABLE", "raw"),
            ("VIEW", f"{read_db}.main.parsed_rows"),
        ):
            # IF EXISTS fails when the name is an object of the other kind.
            with contextlib.suppress(duckdb.CatalogException):
                con.execute(f"DROP {kind} IF EXISTS {name}")
        con.execute(f"DROP TABLE IF EXISTS {read_db}.main.parsed")
    return found, scans[0] if scans else None


def _first_records(path: Path, count: int) -> bytes:
    """The file's bytes up to the end of its ``count``-th record (a line break
    outside quotes: after an even number of quote characters), or all of it."""
    quotes = 0
    out = bytearray()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            for m in _QUOTE_OR_LF.finditer(chunk):
                if m.group() == b'"':
                    quotes += 1
                elif quotes % 2 == 0:
                    count -= 1
                    if count == 0:
                        return bytes(out + chunk[: m.end()])
            out += chunk
            if len(out) > _SAMPLE_BYTES:
                break  # the sample ends in part of a record: it only chooses formats
    return bytes(out)


class _TextPath(Exception):
    """Why the text path reads the file."""


def _eligible(path: Path, mapping: Mapping, encoding: str | None) -> bool:
    from kpitree.data.readers import XLSX_SUFFIXES, starts_utf8

    source = mapping.source
    if path.suffix.lower() in XLSX_SUFFIXES or encoding or source.encoding:
        return False
    if source.null_values or source.footer or any(r.id_from for _, _, r in mapping.rules()):
        return False
    try:
        if not path.is_file() or path.stat().st_size < FAST_FROM_BYTES:
            return False
    except OSError:
        return False
    return starts_utf8(path)


def _read(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    shown: str,
    mapping: Mapping,
    tz: str,
    read_db: str,
    progress: Progress | None,
    scans: list[ByteScan],
) -> tuple[SourceTable, dict[str, int], MappedBatch]:
    """The fast path's read; the scan of the file's bytes goes into ``scans``
    once made, whether the read goes on or gives up."""
    from kpitree.data.header_match import resolve_headers
    from kpitree.data.readers import SourceTable, csv_options, watch_progress
    from kpitree.data.textfile import header_row, read_head, scan_bytes, sniff_dialect

    head = read_head(path, "utf-8", shown)
    delimiter = mapping.source.delimiter or sniff_dialect(head)
    headers = header_row(head, delimiter)
    if not headers or headers == [""] or len(headers) > LIMITS.max_columns:
        raise _TextPath("no header, or too many columns")
    name = sql_str(str(path))
    options = csv_options(delimiter, len(headers))
    # The first rows as text, to choose the date formats as the text path does:
    # from a copy of the file's first lines only (DuckDB would read, and check,
    # a whole buffer of the file, megabytes).
    with tempfile.TemporaryDirectory(prefix="kpitree-") as folder:
        head_file = Path(folder) / "head.csv"
        head_file.write_bytes(_first_records(path, _SAMPLE + 1))
        con.execute(
            f"CREATE TABLE raw AS SELECT * FROM read_csv({sql_str(str(head_file))}, {options})"
        )
    found = resolve_headers(mapping, tuple(headers), shown)
    sample = SourceTable(tuple(headers), _SAMPLE, "(rowid + 2)", "", False)
    chosen = _formats(con, sample, mapping, found, tz)
    con.execute("DROP TABLE raw")
    fast, typed = chosen
    columns = {f"c{k}": "VARCHAR" for k in range(len(headers))}
    formats = set(typed.values())
    for k in typed:
        columns[f"c{k}"] = "TIMESTAMP"
    spec = "{" + ", ".join(f"{sql_str(c)}: {sql_str(t)}" for c, t in columns.items()) + "}"
    # No line longer than a cell may be: a typed cell's length is not kept, and
    # the reader takes spaces around a date (a longer line goes to the text path).
    line = min(LIMITS.max_cell_chars, LIMITS.max_row_bytes)
    read = csv_options(delimiter, len(headers), line).split(", columns=")[0]
    read += f", columns={spec}"
    if formats:
        read += f", timestampformat={sql_str(formats.pop())}"
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_csv({name}, {read})")
    # Every text column is read (a byte that is not UTF-8 is found in any of
    # them: a column left out of the projection is not checked) and no cell may
    # be longer than the limit; its length in bytes is at least its length in
    # characters, so the text path decides the rest.
    lengths = [f"strlen(c{k})" for k in range(len(headers)) if k not in typed]
    guard = f"coalesce(greatest({', '.join(lengths)}), 0) > {LIMITS.max_cell_chars}"
    if not lengths:
        guard = "false"

    def preset(plan: Plan) -> None:
        for f, formats_of in zip(plan.fields, fast, strict=True):
            f.fast = formats_of
        plan.typed = dict(typed)
        plan.guard = guard

    source = SourceTable(tuple(headers), 0, "0", "", False)
    parsed = f"{read_db}.main.parsed"
    estimate = max(path.stat().st_size // max(len(head.encode()), 1), 1)
    if progress:
        progress(0, None)
    # The file's bytes are hashed and checked (NUL bytes, inner byte-order marks;
    # the header's bytes when DuckDB, which skips it, may have replaced one) in a
    # thread beside DuckDB's read and checks: hashlib and DuckDB both release the
    # GIL, so the two passes over the file overlap instead of following each other.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpitree-scan") as pool:
        utf8 = any("\ufffd" in h for h in headers)
        scanning = pool.submit(lambda: scans.append(scan_bytes(path, utf8=utf8)))
        watcher = watch_progress(con, estimate, progress) if progress else None
        try:
            plan, layout, _ = parse_into(
                con, source, mapping, found, tz, parsed, dup_check=None, formats=preset
            )
        finally:
            if watcher is not None:
                watcher.set()
        accepted, bad = count_rows(con, parsed)
        if bad or accepted > LIMITS.max_rows:
            raise _TextPath(f"{bad} rows to reject" if bad else "too many rows")
        if ids_repeat(con, plan, parsed):
            raise _TextPath("an id repeats")
        scanning.result()
        scan = scans[0]
    if scan.utf8_bad is not None or scan.nul is not None or scan.bom is not None:
        raise _TextPath("a byte to refuse")
    con.execute("DROP VIEW raw")
    source = SourceTable(tuple(headers), accepted, "0", scan.sha256, False)
    plan.source = source
    if progress:
        progress(accepted, accepted)
    if _cuts_by_row(plan, layout):
        # Rows kept last per key: in file order, which is the order of the rows
        # of ``parsed`` (written in the reader's order).
        rows = f"{read_db}.main.parsed_rows"
        con.execute(f"CREATE VIEW {rows} AS SELECT * REPLACE (rowid + 2 AS __row__) FROM {parsed}")
        parsed = rows
    batch = kept_batch(con, plan, layout, parsed, accepted, read_db, shown)
    return source, found, batch


def _formats(
    con: duckdb.DuckDBPyConnection,
    sample: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    tz: str,
) -> tuple[list[tuple[str, ...]], dict[int, str]]:
    """The fast formats of each field, chosen on the sample (table ``raw``) as the
    text path chooses them, and the source columns the reader can read typed:
    read only by date fields that take the text as it is, with one format, the
    same for all of them (``read_csv`` takes one timestamp format)."""
    from kpitree.data.transform import plan_query

    plan, _, _, _ = plan_query(con, sample, mapping, found, tz, dup_check=None)
    if plan.dup_check:
        raise _TextPath("ids checked row by row")
    by_column: dict[int, set[tuple[str, ...]]] = {}
    for f in plan.fields:
        if f.src is not None:
            by_column.setdefault(f.src, set()).add(f.fast)
    candidates: dict[int, str] = {}
    for k in plan.raw_text_columns():
        formats = by_column.get(k, set())
        if len(formats) != 1:
            continue
        (only,) = formats
        if len(only) == 1 and "%z" not in only[0] and not only[0].endswith("Z"):
            candidates[k] = only[0]
    if candidates:
        # Typed only where every sample cell reads that way (a column that mixes
        # forms is read as text: typed, it would send the file to the text path).
        misses = ", ".join(
            f"count(*) FILTER (WHERE c{k} IS NOT NULL AND {fast_strptime(f'c{k}', fmt)} IS NULL)"
            for k, fmt in candidates.items()
        )
        row = con.execute(f"SELECT {misses} FROM raw").fetchall()[0]
        candidates = {k: f for (k, f), n in zip(candidates.items(), row, strict=True) if not n}
    typed: dict[int, str] = {}
    if candidates:
        counts: dict[str, int] = {}
        for fmt in candidates.values():
            counts[fmt] = counts.get(fmt, 0) + 1
        best = max(counts, key=lambda fmt: counts[fmt])
        typed = {k: fmt for k, fmt in candidates.items() if fmt == best}
    return [f.fast for f in plan.fields], typed


def _cuts_by_row(plan: Plan, layout: Layout) -> bool:
    """Whether a canonical table is cut keeping the last row per key (in file
    order, which the fast path does not number)."""
    from kpitree.data.cutting import is_unique_wide

    for name, (first, parts) in layout.items():
        sets = [s for row_sets, _ in parts for s in row_sets]
        if not sets:
            continue
        if name not in HISTORY_TABLES and first.main and len(sets) == 1:
            continue
        if name in HISTORY_TABLES and is_unique_wide(plan, sets):
            continue
        if name in HISTORY_TABLES:
            continue  # SELECT DISTINCT, in key order: no row order needed
        return True
    return False
