"""Imports, bulk loads and undo: the warehouse's write path, on any warehouse.

:class:`ImportWriter` holds what an import does (one transaction over every table
it touches, its log row, the row-level record of what it changed) and how undo
restores it, written once. The embedded DuckDB warehouse
(:class:`kpitree.data.warehouse.Warehouse`) and a PostgreSQL database
(:class:`kpitree.data.pgwarehouse.PgWarehouse`) inherit it and give it only a
connection (``connect``/``writing``), a place for rejected rows and a name for
messages; on PostgreSQL the same statements are translated
(:mod:`kpitree.data.pgsql`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.data.batch import MappedBatch, SqlRows
from kpitree.data.deletions import SYNC_RECORDS, deletion_conflict, undo_deletions
from kpitree.data.dimensions import register_dimensions
from kpitree.data.importlog import (
    RECORD_COLUMNS,
    ImportRecord,
    ImportResult,
    UndoResult,
    insert_log,
    next_import_id,
    read_record,
    record_from_row,
)
from kpitree.data.rejects import reject_error, rejected_row_count, write_rejects
from kpitree.data.schema import TABLES
from kpitree.data.upsert import later_import_touching, undo_table, upsert_table
from kpitree.data.writers import bump_versions, pause_for_tests, refresh_dimensions, refresh_links
from kpitree.errors import DataError, InternalError

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.data.links import LinkKeys

__all__ = ["UNDOABLE", "ImportWriter"]

UNDOABLE = (*TABLES, SYNC_RECORDS)
"""Tables an import writes and undo restores."""


def _now() -> datetime:
    return datetime.now(UTC)


class ImportWriter:
    """The import log, imports and undo over a warehouse connection.

    A subclass gives ``connect()`` (a connection to the migrated warehouse, for
    reading), ``writing()`` (the same, held as the only writer), ``exists()``,
    ``rejects_dir`` and ``location`` (how messages name the warehouse).
    """

    location: str
    # Which source columns hold the match keys of the cross-source links
    # (``data.links`` of kpitree.yaml, see :func:`kpitree.data.links.configured_link_keys`);
    # None: the built-in headers only.
    link_keys: LinkKeys | None = None

    def connect(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def writing(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    @property
    def rejects_dir(self) -> Path:
        raise NotImplementedError

    def already_imported(
        self, files: Sequence[tuple[str, str]], mapping_hash: str
    ) -> list[ImportRecord] | None:
        """The records of ``files`` when importing them again would change nothing
        (the embedded warehouse answers it without writing); ``None``: import."""
        return None

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
        it already; this is for a warehouse written before links existed, or
        after ``data.links`` of kpitree.yaml changed."""
        from kpitree.data.links import LINKED_TABLES

        with self.writing() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                refresh_links(con, LINKED_TABLES, self.link_keys, force=True)
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
        if not self._writable(batches, skip_invalid=skip_invalid):
            self._record_failed(batches, started)
            raise reject_error(batches)
        try:
            return self._write(_entries(batches), started)
        except DataError:
            # Rolled back; the attempt is still worth a line in the log.
            self._record_failed(batches, started)
            raise

    @staticmethod
    def _writable(batches: Sequence[MappedBatch], *, skip_invalid: bool) -> bool:
        """Whether the batches may be written (no rejects, or ``skip_invalid``)."""
        for batch in batches:
            unknown = sorted({*batch.tables, *(batch.kept or ())} - {t.name for t in TABLES})
            if unknown:
                raise InternalError(f"{batch.source_file}: unknown canonical tables {unknown}")
        return skip_invalid or not any(b.rejects for b in batches)

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
        with self.writing() as con:
            return self._write_on(con, entries, started)

    def _write_on(self, con: Any, entries: list[_Entry], started: datetime) -> list[ImportResult]:
        """The entries as imports, in one transaction of ``con`` (a writing connection)."""
        results: list[ImportResult] = []
        con.execute("BEGIN TRANSACTION")
        try:
            next_id = next_import_id(con)
            for offset, entry in enumerate(entries):
                results.append(self._write_one(con, next_id + offset, entry, started))
            # After the log rows: a link names the source of each record.
            refresh_links(
                con,
                [c.table for r in results for c in r.tables if c.inserted or c.updated],
                self.link_keys,
                since=next_id,
            )
            pause_for_tests()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return results

    def _write_one(
        self, con: Any, import_id: int, entry: _Entry, started: datetime
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
        with self.writing() as con:
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

    def import_record(self, import_id: int) -> ImportRecord:
        """One entry of the import log; a :class:`DataError` if there is none."""
        with self.connect() as con:
            return read_record(con, import_id, self.location)

    def undo(self, import_id: int) -> UndoResult:
        """Remove exactly what import ``import_id`` added or changed, in one transaction.

        Rows it inserted are deleted and rows it updated get their previous image
        back, and rows it deleted (a sync) are put back. Refused
        (:class:`DataError`, naming the later import) when a later import that is
        still applied updated or deleted a row this one inserted or updated, or
        wrote again a row this one deleted: undo that one first. Undoing a sync
        clears its source's cursors, so that the next sync reads everything.
        """
        with self.writing() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                record = read_record(con, import_id, self.location)
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
                refresh_links(con, undone, self.link_keys)
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


def _entries(batches: Sequence[MappedBatch]) -> list[_Entry]:
    return [
        _Entry(
            kind="import",
            source_file=b.source_file,
            file_hash=b.file_hash,
            mapping_name=b.mapping_name,
            rows_read=b.rows_read,
            tables=b.tables if b.kept is None else b.kept,
            batch=b,
        )
        for b in batches
    ]


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
        tables: Mapping[str, pa.Table | SqlRows],
        batch: MappedBatch | None,
    ) -> None:
        self.kind = kind
        self.source_file = source_file
        self.file_hash = file_hash
        self.mapping_name = mapping_name
        self.rows_read = rows_read
        self.tables = tables
        self.batch = batch
