"""Storing what a sync read: rows, deletions and cursors in one transaction.

A sync of one source is one import (kind ``sync`` in ``kpitree_imports``,
``source_file`` = the source's name) that may also delete rows. For each object
of the source it:

1. deletes the rows the source's deleted records fed, and, for a snapshot (a
   full listing), the rows of records the source no longer lists;
2. inserts and updates the mapped rows exactly as a file import does
   (:func:`kpitree.data.upsert.upsert_table`);
3. for the records it read, deletes the stage-history rows they no longer give
   (the source is the truth for its own records);
4. keeps the list of records it holds (``kpitree_sync_records``) and the
   object's new cursor (``kpitree_sync_state``).

All of it, for every object, commits together or not at all, so an
interrupted sync leaves the warehouse as it was and the next one starts from
the old cursors. A sync that changes nothing adds no import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kpitree.data.arrays import string_array
from kpitree.data.batch import MappedBatch
from kpitree.data.deletions import (
    SYNC_RECORDS,
    delete_where,
    delete_where_key_in,
    drop_replaced_history,
)
from kpitree.data.schema import TABLES, table
from kpitree.data.upsert import has_change_log, upsert_table

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from kpitree.data.importing import ImportWriter as Warehouse

__all__ = [
    "ObjectWrite",
    "SourceState",
    "SyncCounts",
    "SyncOutcome",
    "apply_sync",
    "record_sync_error",
    "source_states",
    "sync_cursors",
]


@dataclass(frozen=True, slots=True)
class SyncCounts:
    """What one sync did to one canonical table."""

    table: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


@dataclass
class ObjectWrite:
    """What a sync read of one object of a source, ready to store."""

    object: str
    batch: MappedBatch
    """The live records, mapped (no rejects: the caller decided about them)."""
    record_ids: pa.Table
    """One string column ``id``: the ids of the live records read."""
    deleted_ids: list[str]
    """Ids of records the source says were deleted or archived."""
    snapshot: bool
    """The read listed every live record: records not listed are gone."""
    cursor: str | None
    owned: tuple[tuple[str, str], ...]
    """(canonical table, key column) pairs whose rows belong to a record of
    this object (the record's id is in that column): they leave with it."""
    present_ids: pa.Table | None = None
    """For a source without a deletion log: the ids (column ``id``) of every
    live record; records held that are not among them are gone."""
    counts: list[SyncCounts] = field(default_factory=list)
    deleted: int = 0
    """Records removed (their rows left the warehouse)."""


@dataclass(frozen=True)
class SyncOutcome:
    """What storing a sync did. ``import_id`` is ``None`` when nothing changed."""

    import_id: int | None
    objects: tuple[ObjectWrite, ...]


@dataclass(frozen=True)
class SourceState:
    """One line of ``kpitree sources``: a source as the warehouse remembers it."""

    source: str
    type: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_import_id: int | None
    last_error_code: str | None
    last_error: str | None
    cursors: dict[str, str | None]
    records: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "source": self.source,
            "type": self.type,
            "last_attempt_at": when(self.last_attempt_at),
            "last_success_at": when(self.last_success_at),
            "last_import_id": self.last_import_id,
            "last_error": None
            if self.last_error is None
            else {"code": self.last_error_code, "message": self.last_error},
            "objects": [
                {"object": o, "cursor": self.cursors.get(o), "records": self.records.get(o, 0)}
                for o in sorted(set(self.cursors) | set(self.records))
            ],
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _instant(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / 1e6, UTC)


def sync_cursors(wh: Warehouse, source: str) -> dict[str, str | None]:
    """Object -> cursor after the source's last successful sync."""
    if not wh.exists():
        return {}
    with wh.connect() as con:
        rows = con.execute(
            "SELECT object, cursor FROM kpitree_sync_state WHERE source = ?", [source]
        ).fetchall()
    return {str(r[0]): r[1] for r in rows}


def source_states(wh: Warehouse) -> dict[str, SourceState]:
    """Every source the warehouse has synced or tried to, by name."""
    if not wh.exists():
        return {}
    with wh.connect() as con:
        heads = con.execute(
            "SELECT source, type, epoch_us(last_attempt_at), epoch_us(last_success_at), "
            "last_import_id, last_error_code, last_error FROM kpitree_sources"
        ).fetchall()
        cursors = con.execute("SELECT source, object, cursor FROM kpitree_sync_state").fetchall()
        counts = con.execute(
            "SELECT source, object, count(*) FROM kpitree_sync_records GROUP BY source, object"
        ).fetchall()
    out: dict[str, SourceState] = {}
    for r in heads:
        out[r[0]] = SourceState(
            r[0], r[1], _instant(r[2]), _instant(r[3]), r[4], r[5], r[6], {}, {}
        )
    for source, obj, cursor in cursors:
        if source in out:
            out[source].cursors[obj] = cursor
    for source, obj, n in counts:
        if source in out:
            out[source].records[obj] = int(n)
    return out


def _touch_source(con: duckdb.DuckDBPyConnection, source: str, kind: str, *, now: datetime) -> None:
    con.execute(
        "INSERT INTO kpitree_sources (source, type, last_attempt_at) VALUES (?, ?, ?) "
        "ON CONFLICT (source) DO UPDATE SET type = excluded.type, "
        "last_attempt_at = excluded.last_attempt_at",
        [source, kind, now],
    ).fetchall()


def record_sync_error(wh: Warehouse, source: str, kind: str, code: str, message: str) -> None:
    """Remember that the source's last sync failed (``message`` is already
    redacted), in its own transaction: the sync's own was rolled back."""

    now = _now()
    with wh.writing() as con:
        _touch_source(con, source, kind, now=now)
        con.execute(
            "UPDATE kpitree_sources SET last_error_code = ?, last_error = ? WHERE source = ?",
            [code, message, source],
        ).fetchall()


def apply_sync(
    wh: Warehouse,
    source: str,
    kind: str,
    objects: Sequence[ObjectWrite],
    *,
    mapping_names: str,
    dry_run: bool = False,
) -> SyncOutcome:
    """Store one sync of ``source`` (its objects, deletions and cursors) in one
    transaction, as one import; ``dry_run`` computes the counts and rolls back."""
    from kpitree.data.dimensions import register_dimensions
    from kpitree.data.importlog import next_import_id
    from kpitree.data.writers import (
        bump_versions,
        pause_for_tests,
        refresh_dimensions,
        refresh_links,
    )

    started = _now()
    with wh.writing() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            import_id = next_import_id(con)
            changed_tables: set[str] = set()
            registry_changed = False
            declared: set[str] = set()
            for obj in objects:
                declared |= register_dimensions(con, obj.batch.dimensions)
                registry_changed |= _write_object(con, import_id, source, obj)
                changed_tables |= {
                    c.table for c in obj.counts if c.inserted or c.updated or c.deleted
                }
                _save_cursor(con, source, obj, import_id, started)
            logged = bool(changed_tables) or registry_changed
            _touch_source(con, source, kind, now=started)
            con.execute(
                "UPDATE kpitree_sources SET last_success_at = ?, last_error_code = NULL, "
                "last_error = NULL, last_import_id = coalesce(?, last_import_id) "
                "WHERE source = ?",
                [started, import_id if logged else None, source],
            ).fetchall()
            # A mapping's custom dimensions follow synced records as imported ones.
            refresh_dimensions(con, [*changed_tables, *declared])
            if logged:
                bump_versions(con, sorted(changed_tables))
                _log(con, import_id, source, mapping_names, objects, started)
                refresh_links(con, sorted(changed_tables), wh.link_keys)
            else:
                con.execute(
                    "UPDATE kpitree_sync_state SET import_id = NULL "
                    "WHERE source = ? AND import_id = ?",
                    [source, import_id],
                ).fetchall()
            if dry_run:
                con.execute("ROLLBACK")
            else:
                pause_for_tests()
                con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return SyncOutcome(import_id if logged and not dry_run else None, tuple(objects))


def _write_object(
    con: duckdb.DuckDBPyConnection, import_id: int, source: str, obj: ObjectWrite
) -> bool:
    """Write one object's rows; fill ``obj.counts``. Returns whether the list of
    records held changed."""
    import pyarrow as pa

    con.register("sync_live", obj.record_ids)
    gone = pa.table({"id": string_array(sorted(set(obj.deleted_ids)))})
    con.register("sync_gone_in", gone)
    try:
        # A record listed live wins over an older deletion of the same id.
        con.execute(
            "CREATE TEMP TABLE sync_gone AS SELECT id FROM sync_gone_in "
            "WHERE id NOT IN (SELECT id FROM sync_live)"
        )
        if obj.snapshot:
            con.execute(
                "INSERT INTO sync_gone SELECT record_id FROM kpitree_sync_records "
                "WHERE source = ? AND object = ? AND record_id NOT IN (SELECT id FROM sync_live) "
                "AND record_id NOT IN (SELECT id FROM sync_gone)",
                [source, obj.object],
            ).fetchall()
        if obj.present_ids is not None:
            con.register("sync_present", obj.present_ids)
            con.execute(
                "INSERT INTO sync_gone SELECT record_id FROM kpitree_sync_records "
                "WHERE source = ? AND object = ? AND record_id NOT IN (SELECT id FROM sync_live) "
                "AND record_id NOT IN (SELECT id FROM sync_present) "
                "AND record_id NOT IN (SELECT id FROM sync_gone)",
                [source, obj.object],
            ).fetchall()
            con.unregister("sync_present")
        deleted: dict[str, int] = {}
        for name, column in obj.owned:
            deleted[name] = delete_where_key_in(con, import_id, table(name), column, "sync_gone")
        counts: dict[str, SyncCounts] = {}
        for t in TABLES:
            data = obj.batch.tables.get(t.name)
            if data is None:
                continue
            c = upsert_table(con, import_id, t, data, validated=obj.batch.validated)
            counts[t.name] = SyncCounts(t.name, c.rows, c.inserted, c.updated, c.unchanged, 0)
        for name, column in obj.owned:
            t = table(name)
            if has_change_log(t):
                continue
            data = obj.batch.tables.get(name)
            if data is not None:
                con.register("sync_offered", data)
            try:
                deleted[name] += drop_replaced_history(
                    con, import_id, t, column, "sync_live", "sync_offered" if data else None
                )
            finally:
                if data is not None:
                    con.unregister("sync_offered")
        for name, n in deleted.items():
            before = counts.get(name, SyncCounts(name, 0, 0, 0, 0, 0))
            counts[name] = SyncCounts(
                name, before.rows, before.inserted, before.updated, before.unchanged, n
            )
        obj.counts = [counts[t.name] for t in TABLES if t.name in counts]
        registry = _write_registry(con, import_id, source, obj)
    finally:
        con.execute("DROP TABLE IF EXISTS sync_gone")
        con.unregister("sync_gone_in")
        con.unregister("sync_live")
    return registry


def _write_registry(
    con: duckdb.DuckDBPyConnection, import_id: int, source: str, obj: ObjectWrite
) -> bool:
    import pyarrow as pa

    ids = obj.record_ids.column("id")
    held = pa.table(
        {
            "source": string_array([source] * len(ids)),
            "object": string_array([obj.object] * len(ids)),
            "record_id": ids,
        }
    )
    added = upsert_table(con, import_id, SYNC_RECORDS, held, validated=True).inserted
    removed = delete_where(
        con,
        import_id,
        SYNC_RECORDS,
        "t.source = ? AND t.object = ? AND t.record_id IN (SELECT id FROM sync_gone)",
        [source, obj.object],
    )
    obj.deleted = removed
    return bool(added or removed)


def _save_cursor(
    con: duckdb.DuckDBPyConnection,
    source: str,
    obj: ObjectWrite,
    import_id: int,
    now: datetime,
) -> None:
    con.execute(
        "INSERT INTO kpitree_sync_state (source, object, cursor, synced_at, import_id) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, object) DO UPDATE SET "
        "cursor = excluded.cursor, synced_at = excluded.synced_at, import_id = excluded.import_id",
        [source, obj.object, obj.cursor, now, import_id],
    ).fetchall()


def _log(
    con: duckdb.DuckDBPyConnection,
    import_id: int,
    source: str,
    mapping_names: str,
    objects: Sequence[ObjectWrite],
    started: datetime,
) -> None:
    counts = [c for o in objects for c in o.counts]
    con.execute(
        "INSERT INTO kpitree_imports (import_id, kind, source_file, file_hash, mapping_name, "
        "rows_read, inserted, updated, unchanged, rejected, table_counts, rejects_file, "
        "started_at, finished_at, status) "
        "VALUES (?, 'sync', ?, '', ?, ?, ?, ?, ?, 0, ?, NULL, ?, ?, 'applied')",
        [
            import_id,
            source,
            mapping_names,
            sum(o.batch.rows_read + len(o.deleted_ids) for o in objects),
            sum(c.inserted for c in counts),
            sum(c.updated for c in counts),
            sum(c.unchanged for c in counts),
            json.dumps(
                [{"object": o.object, "tables": [c.to_json() for c in o.counts]} for o in objects]
            ),
            started,
            _now(),
        ],
    ).fetchall()
