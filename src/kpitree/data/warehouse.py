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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.data import migrations
from kpitree.data.batch import MappedBatch
from kpitree.data.deletions import SYNC_RECORDS, deletion_conflict, undo_deletions
from kpitree.data.dimensions import register_dimensions
from kpitree.data.importlog import (
    RECORD_COLUMNS,
    ImportRecord,
    ImportResult,
    TableCounts,
    UndoResult,
    insert_log,
    next_import_id,
    read_record,
    record_from_row,
)
from kpitree.data.rejects import reject_error, rejected_row_count, write_rejects
from kpitree.data.schema import TABLES
from kpitree.data.upsert import later_import_touching, undo_table, upsert_table
from kpitree.data.writers import (
    PAUSE_ENV,
    bump_versions,
    file_stamp,
    migration_lock,
    pause_for_tests,
    refresh_dimensions,
    refresh_links,
    wait_for_writers,
    writer_lock,
    writer_turn,
    writers_waiting,
)
from kpitree.errors import DataError, InternalError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from ibis.backends.duckdb import Backend

__all__ = [
    "PAUSE_ENV",
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

UNDOABLE = (*TABLES, SYNC_RECORDS)
"""Tables an import writes and undo restores."""
WAREHOUSE_DIR = ".kpitree"
WAREHOUSE_FILE = "warehouse.duckdb"
"""Test hook: when set to a path, an import writes that file once all its rows are
written, then waits (up to a minute) before committing, so a test can kill it there."""


def default_warehouse_path(project_dir: str | os.PathLike[str]) -> Path:
    """Where a project keeps its warehouse: ``<project>/.kpitree/warehouse.duckdb``."""
    return Path(project_dir) / WAREHOUSE_DIR / WAREHOUSE_FILE


def warehouse_path(project_dir: str | os.PathLike[str], configured: str | None = None) -> Path:
    """The warehouse file of a project: ``configured`` (``data.warehouse`` in
    ``kpitree.yaml``: a DuckDB file, relative to the project folder unless
    absolute; ``~`` is the home folder; ``duckdb:///abs/path`` is read as
    ``/abs/path``) or :func:`default_warehouse_path`.

    Every command that reads or writes the warehouse resolves it here. A database
    URL is refused with a message: imports write to a DuckDB file.

    >>> warehouse_path("plan", "data/crm.duckdb")
    PosixPath('plan/data/crm.duckdb')
    """
    text = (configured or "").strip()
    if not text:
        return default_warehouse_path(project_dir)
    if text.startswith("duckdb://"):  # the engines' URL of a DuckDB file
        text = text.removeprefix("duckdb://")
    if "://" in text:
        raise DataError.of("KT404", "warehouse.not_a_file", value=_without_password(text))
    path = Path(text).expanduser()
    return path if path.is_absolute() else Path(project_dir) / path


def _without_password(url: str) -> str:
    """``url`` for a message: its password, if any, as ``***``."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return url
    return url.replace(f":{password}@", ":***@") if password else url


def _now() -> datetime:
    return datetime.now(UTC)


class Warehouse:
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
    def rejects_dir(self) -> Path:
        """Folder for the rejected rows of ``--skip-invalid`` imports."""
        return self.path.parent / "rejects"

    # -- connections -------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
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

    def row_counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        with self.connect() as con:
            return {
                t.name: int(con.execute(f"SELECT count(*) FROM {t.name}").fetchall()[0][0])
                for t in TABLES
            }

    def rebuild_links(self) -> None:
        """Rebuild the cross-source links (:mod:`kpitree.data.links`) from the
        stored leads, deals and accounts, in one transaction. Every write does
        it already; this is for a warehouse written before links existed."""
        from kpitree.data.links import LINKED_TABLES

        with writer_lock(self.path), self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                refresh_links(con, LINKED_TABLES)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # -- imports -----------------------------------------------------------------

    def apply(self, batch: MappedBatch, *, skip_invalid: bool) -> ImportResult:
        """Apply one mapped source file as one import, in one transaction.

        With rejects and ``skip_invalid=False`` nothing is written and a
        :class:`~kpitree.errors.DataError` lists every bad cell. With
        ``skip_invalid=True`` the valid rows are written and the rejected rows go to
        ``.kpitree/rejects/import-<id>/<stem>.rejected.csv`` and ``.txt``.
        """
        return self.apply_many([batch], skip_invalid=skip_invalid)[0]

    def apply_many(
        self, batches: Sequence[MappedBatch], *, skip_invalid: bool
    ) -> list[ImportResult]:
        """Apply several files in one transaction (all or nothing), one import id each,
        so each can be undone on its own."""
        started = _now()
        batches = list(batches)
        for batch in batches:
            unknown = sorted(set(batch.tables) - {t.name for t in TABLES})
            if unknown:
                raise InternalError(f"{batch.source_file}: unknown canonical tables {unknown}")
        if not skip_invalid and any(b.rejects for b in batches):
            self._record_failed(batches, started)
            raise reject_error(batches)
        entries = [
            _Entry(
                kind="import",
                source_file=b.source_file,
                file_hash=b.file_hash,
                mapping_name=b.mapping_name,
                rows_read=b.rows_read,
                tables=b.tables,
                batch=b,
            )
            for b in batches
        ]
        try:
            return self._write(entries, started)
        except DataError:
            # Rolled back; the attempt is still worth a line in the log.
            self._record_failed(batches, started)
            raise

    def bulk_load(
        self,
        tables: Mapping[str, pa.Table],
        *,
        label: str,
        source: str = "",
        fingerprint: str = "",
    ) -> ImportResult:
        """Load canonical tables produced by kpitree itself (e.g. the demo company)
        as one import that can be listed and undone like any other.

        ``label`` is shown as the import's file, ``source`` (how the rows were
        made) as its mapping, and ``fingerprint`` (what identifies the content,
        so that a caller can recognise a load it already made) is kept as its
        hash."""
        unknown = sorted(set(tables) - {t.name for t in TABLES})
        if unknown:
            raise InternalError(f"bulk_load: unknown canonical tables {unknown}")
        entry = _Entry(
            kind="bulk_load",
            source_file=label,
            file_hash=fingerprint,
            mapping_name=source,
            rows_read=sum(tbl.num_rows for tbl in tables.values()),
            tables=dict(tables),
            batch=None,
        )
        return self._write([entry], _now())[0]

    def _write(self, entries: list[_Entry], started: datetime) -> list[ImportResult]:
        results: list[ImportResult] = []
        with writer_lock(self.path), self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                next_id = next_import_id(con)
                for offset, entry in enumerate(entries):
                    results.append(self._write_one(con, next_id + offset, entry, started))
                # After the log rows: a link names the source of each record.
                refresh_links(
                    con, [c.table for r in results for c in r.tables if c.inserted or c.updated]
                )
                pause_for_tests()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return results

    def _write_one(
        self, con: duckdb.DuckDBPyConnection, import_id: int, entry: _Entry, started: datetime
    ) -> ImportResult:
        unique = entry.batch is not None and entry.batch.validated
        declared = register_dimensions(con, entry.batch.dimensions if entry.batch else ())
        counts = tuple(
            upsert_table(con, import_id, t, entry.tables[t.name], validated=unique)
            for t in TABLES
            if t.name in entry.tables
        )
        changed = [c.table for c in counts if c.inserted or c.updated]
        bump_versions(con, changed)
        refresh_dimensions(con, [*changed, *declared])
        rejects_csv = rejects_report = None
        rejected = 0
        if entry.batch is not None and entry.batch.rejects:
            rejected = rejected_row_count(entry.batch)
            # Written inside the transaction: if writing fails, nothing is imported.
            folder = self.rejects_dir / f"import-{import_id}"
            rejects_csv, rejects_report = write_rejects(entry.batch, folder)
        result = ImportResult(
            import_id=import_id,
            source_file=entry.source_file,
            file_hash=entry.file_hash,
            mapping_name=entry.mapping_name,
            rows_read=entry.rows_read,
            rejected=rejected,
            tables=counts,
            started_at=started,
            finished_at=_now(),
            rejects_csv=rejects_csv,
            rejects_report=rejects_report,
            mapping_hash=entry.batch.mapping_hash if entry.batch is not None else None,
        )
        insert_log(con, result, kind=entry.kind, status="applied")
        return result

    def _record_failed(self, batches: list[MappedBatch], started: datetime) -> None:
        with writer_lock(self.path), self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                next_id = next_import_id(con)
                for offset, batch in enumerate(batches):
                    failed = ImportResult(
                        import_id=next_id + offset,
                        source_file=batch.source_file,
                        file_hash=batch.file_hash,
                        mapping_name=batch.mapping_name,
                        rows_read=batch.rows_read,
                        rejected=rejected_row_count(batch),
                        tables=(),
                        started_at=started,
                        finished_at=_now(),
                    )
                    insert_log(con, failed, kind="import", status="failed")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # -- import log and undo -----------------------------------------------------

    def imports(self) -> list[ImportRecord]:
        """The import log, oldest first."""
        with self.connect() as con:
            rows = con.execute(f"SELECT {RECORD_COLUMNS} FROM kpitree_imports ORDER BY import_id")
            return [record_from_row(r) for r in rows.fetchall()]

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

    def import_record(self, import_id: int) -> ImportRecord:
        """One entry of the import log; a :class:`DataError` if there is none."""
        with self.connect() as con:
            return read_record(con, import_id, self.path)

    def undo(self, import_id: int) -> UndoResult:
        """Remove exactly what import ``import_id`` added or changed, in one transaction.

        Rows it inserted are deleted and rows it updated get their previous image
        back, and rows it deleted (a sync) are put back. Refused
        (:class:`DataError`, naming the later import) when a later import that is
        still applied updated or deleted a row this one inserted or updated, or
        wrote again a row this one deleted: undo that one first. Undoing a sync
        clears its source's cursors, so that the next sync reads everything.
        """
        with writer_lock(self.path), self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                record = read_record(con, import_id, self.path)
                if record.status != "applied":
                    raise DataError.of(
                        "KT431",
                        f"warehouse.undo_{record.status}",
                        import_id=import_id,
                    )
                for t in UNDOABLE:
                    later = later_import_touching(con, import_id, t)
                    if later is None:
                        later = deletion_conflict(con, import_id, t)
                    if later is not None:
                        raise DataError.of(
                            "KT432",
                            "warehouse.undo_conflict",
                            import_id=import_id,
                            later=later,
                            table=t.name,
                        )
                deleted = restored = 0
                undone = []
                for t in UNDOABLE:
                    d, r = undo_table(con, import_id, t)
                    r += undo_deletions(con, import_id, t)
                    deleted += d
                    restored += r
                    if (d or r) and t in TABLES:
                        undone.append(t.name)
                bump_versions(con, undone)
                refresh_dimensions(con, undone)
                refresh_links(con, undone)
                if record.kind == "sync":
                    # The cursor moved past what is now gone: the source's next
                    # sync reads everything again.
                    con.execute(
                        "UPDATE kpitree_sync_state SET cursor = NULL WHERE source = ?",
                        [record.source_file],
                    ).fetchall()
                con.execute(
                    "UPDATE kpitree_imports SET status = 'undone', undone_at = ? "
                    "WHERE import_id = ?",
                    [_now(), import_id],
                ).fetchall()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return UndoResult(import_id, deleted, restored)


class _Entry:
    """One unit of an import transaction: a mapped file or a bulk load."""

    __slots__ = ("batch", "file_hash", "kind", "mapping_name", "rows_read", "source_file", "tables")

    def __init__(
        self,
        *,
        kind: str,
        source_file: str,
        file_hash: str,
        mapping_name: str,
        rows_read: int,
        tables: Mapping[str, pa.Table],
        batch: MappedBatch | None,
    ) -> None:
        self.kind = kind
        self.source_file = source_file
        self.file_hash = file_hash
        self.mapping_name = mapping_name
        self.rows_read = rows_read
        self.tables = tables
        self.batch = batch
