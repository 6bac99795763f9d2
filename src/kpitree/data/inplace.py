"""Reading CSV exports inside the DuckDB connection that writes them.

Where the warehouse is DuckDB, a CSV export is read, parsed and checked by the
connection that then writes it (the import's own in-memory DuckDB, to which
:meth:`~kpitree.data.warehouse.Warehouse.import_files` attaches the warehouse
file only to write). The file's text goes into an in-memory database
attached to that connection (``kpitree_raw<k>``); the parse query of
:mod:`kpitree.data.transform` writes its result into another
(``kpitree_read<k>``), where repeated ids and rejected rows are found in SQL; the
text's database is detached (its memory given back) before anything is written;
and the canonical tables go to the writer as queries over the parsed rows
(:class:`~kpitree.data.batch.SqlRows`), inserted with ``INSERT … SELECT`` in the
import's transaction. No row goes through Arrow, and pyarrow is not loaded.

The rows, rejects and messages are those of :func:`kpitree.data.readers.read_and_map`,
which stays the reader for other warehouses and for XLSX workbooks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.data.batch import MappedBatch, Reject, SqlRows
from kpitree.data.cutting import _table_sql, _unique_wide
from kpitree.data.fields import ZS_CODES, ZS_TEXT, Entries, RowSet
from kpitree.data.mapping import HISTORY_TABLES, Mapping
from kpitree.data.typed import read_typed
from kpitree.data.values import sql_str
from kpitree.errors import DataError, Span

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.query import Plan
    from kpitree.data.readers import Progress, SourceTable
    from kpitree.data.transform import _Layout

__all__ = ["InPlaceReader", "reads_in_place"]

_OWNER = "owner_id"


def reads_in_place(path: str | Path) -> bool:
    """Whether :class:`InPlaceReader` reads this file (CSV; a workbook is read by
    :func:`~kpitree.data.readers.read_and_map`)."""
    from kpitree.data.readers import XLSX_SUFFIXES

    return Path(path).suffix.lower() not in XLSX_SUFFIXES


class InPlaceReader:
    """Reads files into databases attached to ``con`` (the connection that writes them).

    The batches' :class:`SqlRows` are valid until :meth:`close`, which detaches
    what was attached and gives the connection back as it was.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.home = str(con.execute("SELECT current_database()").fetchall()[0][0])
        self._attached: list[str] = []
        self._count = 0

    def close(self) -> None:
        con = self.con
        con.execute(f"USE {_ident(self.home)}")
        for name in self._attached:
            con.execute(f"DETACH DATABASE IF EXISTS {name}")
        self._attached.clear()
        con.execute("RESET disabled_optimizers")

    def _attach(self, name: str) -> None:
        self.con.execute(f"ATTACH ':memory:' AS {name}")
        self._attached.append(name)

    def read(
        self,
        path: str | Path,
        mapping: Mapping,
        *,
        sheet: str | None = None,
        progress: Progress | None = None,
        tz: str = "Asia/Tokyo",
        encoding: str | None = None,
    ) -> MappedBatch:
        """:func:`~kpitree.data.readers.read_and_map`, kept in the connection."""
        from kpitree.data.dimensions import declared_dimensions
        from kpitree.data.readers import checked_path, load_source, reading_fingerprint

        p, shown = checked_path(path)
        k = self._count
        self._count += 1
        raw_db, read_db = f"kpitree_raw{k}", f"kpitree_read{k}"
        con = self.con
        self._attach(raw_db)
        self._attach(read_db)
        con.execute(f"USE {raw_db}")
        # As the reader's own connection (:func:`kpitree.data.readers.connect`).
        con.execute("SET disabled_optimizers = 'common_subexpressions'")

        def text(again: bool) -> None:
            """Give the text's memory back (``again``: read the file again)."""
            if not again:
                con.execute(f"USE {read_db}")
                con.execute(f"DETACH DATABASE IF EXISTS {raw_db}")
                return
            con.execute(f"ATTACH ':memory:' AS {raw_db}")
            con.execute(f"USE {raw_db}")
            reread, _ = load_source(con, p, shown, mapping, sheet, encoding, None)
            if (reread.sha256, reread.rows) != (source.sha256, source.rows):
                raise DataError.of(
                    "KT574", "data.file.changed_while_read", Span(shown, 1, 1), path=shown
                )

        zone = mapping.source.timezone or tz
        try:
            # A file read typed in one pass when nothing in it needs the text path
            # (see kpitree.data.typed); else read as text, every bad cell reported.
            typed = read_typed(con, p, shown, mapping, zone, read_db, progress, encoding)
            if typed is not None:
                source, found, batch = typed
            else:
                source, found = load_source(con, p, shown, mapping, sheet, encoding, progress)
                batch = _map(con, source, mapping, found, shown, zone, read_db, text)
        finally:
            con.execute(f"USE {_ident(self.home)}")
            con.execute("RESET disabled_optimizers")
        # The file's text is no longer needed: its memory goes back before writing.
        con.execute(f"DETACH DATABASE IF EXISTS {raw_db}")
        batch.dimensions = declared_dimensions(mapping, source.headers, found)
        batch.warnings = list(source.warnings)
        batch.mapping_hash = reading_fingerprint(mapping, sheet=sheet, encoding=encoding, tz=tz)
        return batch


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _map(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    path: str,
    tz: str,
    read_db: str,
    text: Callable[[bool], None],
) -> MappedBatch:
    """Parse table ``raw`` into ``<read_db>.parsed``; report and remove rejected rows.
    ``text(False)`` detaches ``raw``, ``text(True)`` reads the file into it again."""
    from kpitree.data.reject_report import _bad_table, _rejected_rows, _rejects

    parsed = f"{read_db}.main.parsed"
    plan, layout, layers = _parse(con, source, mapping, found, tz, parsed, dup_check=None)
    accepted, bad = _counts(con, parsed)
    if not plan.dup_check:
        if not bad:
            # Nothing to report from the text so far: its memory goes back before
            # the repeat check sorts the ids (the peak of a large import was the
            # text, the parsed rows and that sort at once). A file that repeats an
            # id (a rejected row: rare) is read again to name them.
            text(False)
        if _ids_repeat(con, plan, parsed):
            if not bad:
                text(True)
            plan, layout, layers = _parse(con, source, mapping, found, tz, parsed, dup_check=True)
            accepted, bad = _counts(con, parsed)
    rejects, rejected_rows = [], []
    if bad:
        con.execute(f"CREATE OR REPLACE TABLE kpitree_bad_rows AS FROM {parsed} WHERE __bad")
        con.execute("DROP TABLE IF EXISTS bad")
        _bad_table(con, plan, None, layers)
        rejects = _rejects(con, plan, path)
        rejected_rows = _rejected_rows(con, plan.source)
        con.execute("DROP TABLE IF EXISTS bad")
        con.execute(f"DELETE FROM {parsed} WHERE __bad")
    return kept_batch(con, plan, layout, parsed, accepted, read_db, path, rejects, rejected_rows)


def kept_batch(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    layout: _Layout,
    parsed: str,
    accepted: int,
    read_db: str,
    path: str,
    rejects: list[Reject] | None = None,
    rejected_rows: list[dict[str, str]] | None = None,
) -> MappedBatch:
    """The batch of the accepted rows of ``parsed`` (its tables kept in ``con``)."""
    tables = _cut(con, plan, layout, parsed, accepted, read_db)
    return MappedBatch(
        source_file=path,
        file_hash=plan.source.sha256,
        mapping_name=plan.mapping.name,
        rows_read=plan.source.rows,
        tables={},
        kept=tables,
        rejects=rejects or [],
        rejected_rows=rejected_rows or [],
        validated=True,
        owner_counts=_owner_counts(con, tables),
    )


def _counts(con: duckdb.DuckDBPyConnection, parsed: str) -> tuple[int, int]:
    """Rows accepted and rejected in ``parsed``."""
    counts = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE __bad) FROM {parsed}"
    ).fetchall()[0]
    return int(counts[0]) - int(counts[1]), int(counts[1])


def _parse(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    tz: str,
    parsed: str,
    *,
    dup_check: bool | None,
    formats: Callable[[Plan], None] | None = None,
) -> tuple[Plan, _Layout, tuple[str, str]]:
    """The parse query's result as table ``parsed``, plain text trimmed in SQL
    (where the Arrow reader trims it in Arrow). ``formats``: as for
    :func:`~kpitree.data.transform.plan_query`."""
    from kpitree.data.transform import plan_query

    plan, layout, layers, query = plan_query(
        con, source, mapping, found, tz, dup_check=dup_check, formats=formats
    )
    trims = plan.trimmed_outputs()
    select = "*"
    if trims:
        select += f" REPLACE ({', '.join(f'{_trimmed(n)} AS {n}' for n in trims)})"
    con.execute(f"CREATE OR REPLACE TABLE {parsed} AS SELECT {select} FROM ({query})")
    return plan, layout, layers


def _trimmed(x: str) -> str:
    """``x`` trimmed of spaces (:data:`ZS_TEXT`), blank as NULL. DuckDB's ``trim``
    with a set of characters costs about a microsecond a cell (more than parsing
    it), so it runs only on cells that start or end with a space. The last
    character is taken with ``array_extract`` (``right`` costs about twice as
    much: 0.2 s of CPU on 24M cells)."""
    spaces = f"IN ({ZS_CODES})"
    return (
        f"CASE WHEN {x} = '' THEN NULL WHEN ord({x}) {spaces} OR ord(array_extract({x}, -1)) "
        f"{spaces} "
        f"THEN nullif(trim({x}, {sql_str(ZS_TEXT)}), '') ELSE {x} END"
    )


def _ids_repeat(con: duckdb.DuckDBPyConnection, plan: Plan, parsed: str) -> bool:
    """Whether an id of the main table appears twice in the parsed rows (as
    :func:`kpitree.data.transform._ids_repeat`, on the table)."""
    from kpitree.data.transform import main_key_outputs

    cols = main_key_outputs(plan)
    if not cols:
        return False
    keys = ", ".join(cols)
    notnull = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    # Equal hashes side by side once sorted: a sort of the hashes holds less
    # memory than a distinct count's hash table (about 110 MB against 190 MB for
    # 4M ids), and the peak of an import is here, while the text is still held.
    hashes = (
        f"SELECT count(*) FILTER (WHERE h = before) > 0 FROM (SELECT h, lag(h) OVER "
        f"(ORDER BY h) AS before FROM (SELECT hash({keys}) AS h FROM {parsed} WHERE {notnull}))"
    )
    if not con.execute(hashes).fetchall()[0][0]:
        return False
    sql = f"SELECT count(*) > count(DISTINCT ({keys})) FROM {parsed} WHERE {notnull}"
    return bool(con.execute(sql).fetchall()[0][0])


def _cut(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    layout: _Layout,
    parsed: str,
    accepted: int,
    read_db: str,
) -> dict[str, SqlRows]:
    """Each canonical table as a query over ``parsed`` (the first table of the
    mapping and unique wide stage histories), or as a table of ``read_db`` cut
    from it (rows kept once per key, histories that may repeat)."""
    out: dict[str, SqlRows] = {}
    for name, (first, parts) in layout.items():
        all_cols: list[str] = []
        for _, cols in parts:
            all_cols += [c for c in cols if c not in all_cols]
        sets = [s for row_sets, _ in parts for s in row_sets]
        names = tuple(all_cols)
        if not sets:
            empty = ", ".join(f"NULL AS {c}" for c in all_cols)
            out[name] = SqlRows(f"SELECT {empty} WHERE false", names, 0)
        elif name not in HISTORY_TABLES and first.main and len(sets) == 1:
            only = sets[0]
            assert isinstance(only, RowSet)
            select = ", ".join(f"{only.cols[c]} AS {c}" for c in all_cols)
            out[name] = SqlRows(f"SELECT {select} FROM {parsed}", names, accepted)
        elif name in HISTORY_TABLES and _unique_wide(plan, sets):
            id_col = HISTORY_TABLES[name]
            union = " UNION ALL ".join(
                f"SELECT {s.id} AS {id_col}, {sql_str(s.stage_name or '')} AS stage, "
                f"{s.at} AS entered_at FROM {parsed} WHERE {s.at} IS NOT NULL"
                for s in sets
                if isinstance(s, Entries)
            )
            out[name] = SqlRows(union, names, None)
        else:
            cut = f"{read_db}.main.t_{name}"
            con.execute(f"CREATE TABLE {cut} AS {_table_sql(name, first, sets, all_cols, parsed)}")
            rows = int(con.execute(f"SELECT count(*) FROM {cut}").fetchall()[0][0])
            out[name] = SqlRows(f"SELECT {', '.join(all_cols)} FROM {cut}", names, rows)
    return out


def _owner_counts(
    con: duckdb.DuckDBPyConnection, tables: dict[str, SqlRows]
) -> dict[str, dict[str, int]]:
    """Per table, owner id -> rows naming it (what the CLI matches against the
    organisation once the tables are written)."""
    counts: dict[str, dict[str, int]] = {}
    for name, rows in tables.items():
        if _OWNER not in rows.column_names or rows.rows == 0:
            continue
        found = con.execute(
            f"SELECT CAST({_OWNER} AS VARCHAR), count(*) FROM ({rows.sql}) "
            f"WHERE {_OWNER} IS NOT NULL GROUP BY ALL"
        ).fetchall()
        counts[name] = {str(owner): int(n) for owner, n in found}
    return counts
