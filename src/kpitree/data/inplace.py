"""Reading CSV exports inside the DuckDB connection that writes them.

Where the warehouse is DuckDB, a CSV export is read, parsed and checked by the
connection that then writes it (the import's own in-memory DuckDB, to which
:meth:`~kpitree.data.warehouse.Warehouse.import_files` attaches the warehouse
file only to write). The file's text goes into an in-memory database
attached to that connection (``kpitree_raw<k>``); the parse query of
:mod:`kpitree.data.transform` writes its result into another
(``kpitree_read<k>``, see :mod:`kpitree.data.parsed`), where repeated ids and
rejected rows are found in SQL; the text's database is detached (its memory
given back) before anything is written; and the canonical tables go to the
writer as queries over the parsed rows (:class:`~kpitree.data.batch.SqlRows`),
inserted with ``INSERT … SELECT`` in the import's transaction. No row goes
through Arrow, and pyarrow is not loaded.

The rows, rejects and messages are those of :func:`kpitree.data.readers.read_and_map`,
which stays the reader for other warehouses and for XLSX workbooks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.data.batch import MappedBatch
from kpitree.data.mapping import Mapping
from kpitree.data.parsed import count_rows, ids_repeat, kept_batch, parse_into
from kpitree.data.typed import read_typed
from kpitree.errors import DataError, Span

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.readers import Progress, SourceTable

__all__ = ["InPlaceReader", "reads_in_place"]


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
            typed, scanned = read_typed(con, p, shown, mapping, zone, read_db, progress, encoding)
            if typed is not None:
                source, found, batch = typed
            else:
                source, found = load_source(
                    con, p, shown, mapping, sheet, encoding, progress, scanned
                )
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
    from kpitree.data.reject_report import bad_table, rejected_rows_of, rejects_of

    parsed = f"{read_db}.main.parsed"
    plan, layout, layers = parse_into(con, source, mapping, found, tz, parsed, dup_check=None)
    accepted, bad = count_rows(con, parsed)
    if not plan.dup_check:
        if not bad:
            # Nothing to report from the text so far: its memory goes back before
            # the repeat check sorts the ids (the peak of a large import was the
            # text, the parsed rows and that sort at once). A file that repeats an
            # id (a rejected row: rare) is read again to name them.
            text(False)
        if ids_repeat(con, plan, parsed):
            if not bad:
                text(True)
            plan, layout, layers = parse_into(
                con, source, mapping, found, tz, parsed, dup_check=True
            )
            accepted, bad = count_rows(con, parsed)
    rejects, rejected_rows = [], []
    if bad:
        con.execute(f"CREATE OR REPLACE TABLE kpitree_bad_rows AS FROM {parsed} WHERE __bad")
        con.execute("DROP TABLE IF EXISTS bad")
        bad_table(con, plan, None, layers)
        rejects = rejects_of(con, plan, path)
        rejected_rows = rejected_rows_of(con, plan.source)
        con.execute("DROP TABLE IF EXISTS bad")
        con.execute(f"DELETE FROM {parsed} WHERE __bad")
    return kept_batch(con, plan, layout, parsed, accepted, read_db, path, rejects, rejected_rows)
