"""The embedded warehouse: one DuckDB file per project, created and migrated by kpitree.

Writes (imports, bulk loads, undo) go through DuckDB directly, set-based and in one
transaction each. Everything that computes reads through Ibis
(:meth:`Warehouse.ibis_connection`), so the same definitions can run on other engines.

Connections are short-lived: every method opens the file, works and closes it, so
a CLI import and a web server can take turns on the same file. DuckDB lets one
process at a time open a file for writing; a method that finds the file locked
retries until ``lock_timeout`` seconds have passed.

Example::

    from kpitree.data.warehouse import Warehouse, default_warehouse_path

    wh = Warehouse(default_warehouse_path("my-project"))
    result = wh.apply(batch, skip_invalid=False)
    print(result.inserted, result.updated, result.unchanged)
    wh.undo(result.import_id)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kpitree.data import migrations
from kpitree.data.importing import UNDOABLE, ImportWriter, _entries, _now
from kpitree.data.importlog import ImportRecord, ImportResult, TableCounts, UndoResult
from kpitree.data.paths import WAREHOUSE_DIR as WAREHOUSE_DIR
from kpitree.data.paths import WAREHOUSE_FILE as WAREHOUSE_FILE
from kpitree.data.paths import default_warehouse_path, warehouse_path
from kpitree.data.writers import (
    PAUSE_ENV,
    busy,
    file_stamp,
    migration_lock,
    wait_for_writers,
    writer_lock,
    writer_turn,
    writers_waiting,
)
from kpitree.errors import DataError

if TYPE_CHECKING:
    import duckdb
    from ibis.backends.duckdb import Backend

    from kpitree.data.batch import MappedBatch
    from kpitree.data.mapping import Mapping
    from kpitree.data.readers import Progress

_T = TypeVar("_T")

__all__ = [
    "PAUSE_ENV",
    "UNDOABLE",
    "ImportRecord",
    "ImportResult",
    "TableCounts",
    "UndoResult",
    "Warehouse",
    "default_warehouse_path",
    "file_stamp",
    "wait_for_writers",
    "warehouse_path",
    "writer_turn",
    "writers_waiting",
]


# The name of the warehouse file in the import's in-memory connection.
_ATTACHED = "kpitree_warehouse"


class Warehouse(ImportWriter):
    """The project's embedded DuckDB warehouse.

    The file and its folder are created, and pending migrations applied, on first
    use. ``lock_timeout`` is how long to wait for another process to release the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._migrated = False

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    @property
    def location(self) -> str:  # type: ignore[override]
        """The file, as messages name it."""
        return str(self.path)

    @property
    def rejects_dir(self) -> Path:
        """Folder for the rejected rows of ``--skip-invalid`` imports."""
        return self.path.parent / "rejects"

    def exists(self) -> bool:
        """Whether the file exists (listing must not create one)."""
        return self.path.exists()

    # -- connections -------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._patiently(lambda: duckdb.connect(str(self.path)))

    def _patiently(self, open_file: Callable[[], _T]) -> _T:
        """``open_file()``, tried again while another process holds the file, up
        to ``lock_timeout`` (KT403 then; KT401 for any other failure)."""
        import duckdb

        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                return open_file()
            except duckdb.Error as exc:
                if not busy(exc):
                    raise DataError.of(
                        "KT401", "warehouse.cannot_open", path=str(self.path), error=str(exc)
                    ) from exc
                if time.monotonic() >= deadline:
                    raise DataError.of(
                        "KT403", "warehouse.locked", path=str(self.path), error=str(exc)
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived DuckDB connection to the migrated warehouse, closed on exit.

        Fetch every result fully before the next statement: in DuckDB 2.0 an
        unfinished result blocks its connection. Use ``con.cursor()`` per thread.
        While it is open or being waited for, readers in other processes let it
        go first (:func:`writer_turn`).
        """
        with writer_turn(self.path):
            con = self._open()
            try:
                self._prepare(con)
                yield con
            finally:
                con.close()

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> list[int]:
        # Instants are stored in UTC; a fixed session zone makes casts and text
        # renderings the same on every machine.
        con.execute("SET TimeZone = 'UTC'")
        if self._migrated:
            return []
        # Threads of one process share the database instance: two of them creating
        # the tables of a new file at once would conflict at commit.
        with migration_lock(self.path):
            applied = migrations.apply_pending(con, path=str(self.path))
        self._migrated = True
        return applied

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """:meth:`connect`, as the only writer of the file in this process
        (DuckDB keeps other processes out)."""
        with writer_lock(self.path), self.connect() as con:
            yield con

    @contextmanager
    def _writing_into(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """The file attached to ``con`` (the import's own in-memory DuckDB) as
        its current database, migrated, as the only writer of the file in this
        process; detached on exit. Readers give way only for this, not while
        the import reads its files (:meth:`import_files`)."""
        from kpitree.data.values import sql_str

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with writer_lock(self.path), writer_turn(self.path):
            self._patiently(lambda: con.execute(f"ATTACH {sql_str(str(self.path))} AS {_ATTACHED}"))
            home = con.execute("SELECT current_database()").fetchall()[0][0]
            try:
                con.execute(f"USE {_ATTACHED}")
                self._prepare(con)
                yield
            finally:
                con.execute(f'USE "{home}"')
                con.execute(f"DETACH DATABASE {_ATTACHED}")

    def migrate(self) -> list[int]:
        """Create the file if needed and apply pending migrations; return their versions."""
        self._migrated = False
        with writer_turn(self.path):
            con = self._open()
            try:
                return self._prepare(con)
            finally:
                con.close()

    def schema_version(self) -> int:
        """The newest migration applied to the file."""
        with self.connect() as con:
            return max(migrations.applied_versions(con), default=0)

    def ibis_connection(self, *, read_only: bool = False) -> Backend:
        """An Ibis DuckDB backend on the warehouse file, for every read path.

        The caller closes it with ``.disconnect()`` when done. In one process, use
        the same ``read_only`` as other open connections to the file (DuckDB refuses
        one file opened with two configurations).
        """
        import ibis

        self.migrate()
        return ibis.duckdb.connect(database=str(self.path), read_only=read_only)

    def already_imported(
        self, files: Sequence[tuple[str, str]], mapping_hash: str
    ) -> list[ImportRecord] | None:
        """The import records of ``files`` (``(path, sha256)`` each) when importing
        them again with the mapping of ``mapping_hash`` would change nothing: they
        are the newest applied writes of the warehouse, in any order, read with
        that mapping, none with rejected rows (an import, sync or undo since, or a
        file changed, gives ``None``). Reads the file only (read-only), and not at
        all when it does not exist or predates the mapping fingerprints."""
        if not self.path.exists() or not files:
            return None
        import duckdb

        from kpitree.data.importlog import RECORD_COLUMNS, record_from_row

        wait_for_writers(self.path, self.lock_timeout)
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error:
            return None  # locked by a writer, or not a warehouse: import as usual
        try:
            versions = con.execute(
                f"SELECT list(version) FROM {migrations.VERSION_TABLE}"
            ).fetchall()[0][0]
            if 5 not in (versions or []):
                return None
            rows = con.execute(
                f"SELECT {RECORD_COLUMNS}, mapping_hash, "
                "max(CASE WHEN status = 'undone' THEN undone_at END) OVER () > started_at "
                "FROM kpitree_imports WHERE status IN ('applied', 'undone') "
                "ORDER BY import_id DESC"
            ).fetchall()
        except duckdb.Error:
            return None
        finally:
            con.close()
        applied = [r for r in rows if r[10] == "applied"][: len(files)]
        if len(applied) < len(files):
            return None
        wanted = sorted(h for _, h in files)
        if sorted(r[3] or "" for r in applied) != wanted:
            return None
        # An undo after the oldest of them changed what they wrote.
        if any(r[-2] != mapping_hash or r[9] or r[-1] for r in applied):
            return None
        return [record_from_row(r[:-2]) for r in reversed(applied)]

    def import_files(
        self,
        files: Sequence[str],
        mapping: Mapping,
        *,
        sheet: str | None = None,
        encoding: str | None = None,
        tz: str = "Asia/Tokyo",
        skip_invalid: bool = False,
        reading: Callable[[str], AbstractContextManager[Progress | None]] | None = None,
        read: Callable[[MappedBatch], None] | None = None,
    ) -> tuple[list[MappedBatch], list[ImportResult]]:
        """Read CSV exports and import them, all in one transaction, inside one
        DuckDB connection (:mod:`kpitree.data.inplace`): the files are read in
        the import's own in-memory database, and the warehouse file is attached
        to it only to write (readers give way only then). The same result
        as :func:`~kpitree.data.readers.read_and_map` of each file then
        :meth:`apply_many`, without handing the rows over through Arrow.
        ``reading(file)`` gives the progress callback while a file is read,
        ``read(batch)`` is told each file once read (its warnings, say).
        Returns the batches (their tables no longer readable: they were kept in
        the connection) and the imports."""
        import duckdb

        from kpitree.data.inplace import InPlaceReader
        from kpitree.data.rejects import reject_error

        started = _now()
        batches: list[MappedBatch] = []
        results: list[ImportResult] = []
        failed: DataError | None = None
        # Read, parsed and checked in the import's own in-memory DuckDB, without
        # the file: the warehouse is attached to it only to write.
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")  # as a warehouse connection (_prepare)
            reader = InPlaceReader(con)
            try:
                for f in files:
                    with reading(f) if reading is not None else nullcontext() as progress:
                        batch = reader.read(
                            f, mapping, sheet=sheet, progress=progress, tz=tz, encoding=encoding
                        )
                    batches.append(batch)
                    if read is not None:
                        read(batch)
                writable = self._writable(batches, skip_invalid=skip_invalid)
                if writable:
                    with self._writing_into(con):
                        try:
                            results = self._write_on(con, _entries(batches), started)
                        except DataError as exc:
                            failed = exc  # rolled back; logged once the file is free
            finally:
                reader.close()
        finally:
            con.close()
        if not writable:
            self._record_failed(batches, started)
            raise reject_error(batches)
        if failed is not None:
            self._record_failed(batches, started)
            raise failed
        return batches, results
