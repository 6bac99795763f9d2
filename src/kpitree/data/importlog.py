"""What an import did: counts per table, the import log entry, and undo results.

These are plain values returned by :class:`kpitree.data.warehouse.Warehouse`; they
know how to render themselves as JSON for ``kpitree import --json`` and
``kpitree imports --json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.errors import DataError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "RECORD_COLUMNS",
    "ImportRecord",
    "ImportResult",
    "TableCounts",
    "UndoResult",
    "insert_log",
    "next_import_id",
    "read_record",
    "record_from_row",
]


@dataclass(frozen=True, slots=True)
class TableCounts:
    """What one import did to one canonical table.

    ``rows`` counts distinct primary keys offered by the file (a key repeated in
    the file counts once); ``rows == inserted + updated + unchanged``.
    """

    table: str
    rows: int
    inserted: int
    updated: int
    unchanged: int

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome of one applied import (one source file, or one bulk load).

    ``inserted``/``updated``/``unchanged`` add up the canonical rows of every table
    the file fed (a lead file with stage columns feeds ``leads`` and
    ``lead_stage_history``); ``tables`` has the split. ``rows_read`` and
    ``rejected`` count source rows.
    """

    import_id: int
    source_file: str
    file_hash: str
    mapping_name: str
    rows_read: int
    rejected: int
    tables: tuple[TableCounts, ...]
    started_at: datetime
    finished_at: datetime
    rejects_csv: Path | None = None
    rejects_report: Path | None = None
    mapping_hash: str | None = None

    @property
    def inserted(self) -> int:
        return sum(c.inserted for c in self.tables)

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.tables)

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "file": self.source_file,
            "sha256": self.file_hash,
            "mapping": self.mapping_name,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "tables": [c.to_json() for c in self.tables],
            "rejects_csv": str(self.rejects_csv) if self.rejects_csv else None,
            "rejects_report": str(self.rejects_report) if self.rejects_report else None,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One row of the import log (``kpitree_imports``).

    ``status`` is ``applied``, ``undone`` or ``failed`` (rejected as a whole:
    nothing was written). ``kind`` is ``import`` (a source file) or ``bulk_load``.
    """

    import_id: int
    kind: str
    source_file: str | None
    file_hash: str | None
    mapping_name: str | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None
    rejects_file: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "kind": self.kind,
            "file": self.source_file,
            "sha256": self.file_hash,
            "mapping": self.mapping_name,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "undone_at": self.undone_at.isoformat() if self.undone_at else None,
            "rejects_csv": self.rejects_file,
        }


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What undoing one import did: rows deleted (they were inserted by it) and rows
    restored to their previous image (they were updated by it)."""

    import_id: int
    deleted: int
    restored: int

    def to_json(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "deleted": self.deleted, "restored": self.restored}


# Instants are fetched as epoch microseconds: DuckDB needs pytz to hand out
# TIMESTAMPTZ values as Python objects, and kpitree does not depend on it.
RECORD_COLUMNS = (
    "import_id, kind, source_file, file_hash, mapping_name, rows_read, inserted, updated, "
    "unchanged, rejected, status, epoch_us(started_at), epoch_us(finished_at), "
    "epoch_us(undone_at), rejects_file"
)


def instant(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / 1e6, UTC)


def record_from_row(row: tuple[Any, ...]) -> ImportRecord:
    started = instant(row[11])
    assert started is not None  # NOT NULL column
    return ImportRecord(
        import_id=int(row[0]),
        kind=row[1],
        source_file=row[2],
        file_hash=row[3],
        mapping_name=row[4],
        rows_read=int(row[5]),
        inserted=int(row[6]),
        updated=int(row[7]),
        unchanged=int(row[8]),
        rejected=int(row[9]),
        status=row[10],
        started_at=started,
        finished_at=instant(row[12]),
        undone_at=instant(row[13]),
        rejects_file=row[14],
    )


def next_import_id(con: duckdb.DuckDBPyConnection) -> int:
    # Inside the write transaction, and DuckDB admits one writing process per file,
    # so max + 1 cannot race.
    row = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM kpitree_imports").fetchall()
    return int(row[0][0])


def insert_log(
    con: duckdb.DuckDBPyConnection, result: ImportResult, *, kind: str, status: str
) -> None:
    con.execute(
        "INSERT INTO kpitree_imports (import_id, kind, source_file, file_hash, mapping_name, "
        "rows_read, inserted, updated, unchanged, rejected, table_counts, rejects_file, "
        "started_at, finished_at, status, mapping_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.import_id,
            kind,
            result.source_file,
            result.file_hash,
            result.mapping_name,
            result.rows_read,
            result.inserted,
            result.updated,
            result.unchanged,
            result.rejected,
            json.dumps([c.to_json() for c in result.tables]),
            str(result.rejects_csv) if result.rejects_csv else None,
            result.started_at,
            result.finished_at,
            status,
            result.mapping_hash,
        ],
    ).fetchall()


def read_record(con: duckdb.DuckDBPyConnection, import_id: int, path: Path | str) -> ImportRecord:
    rows = con.execute(
        f"SELECT {RECORD_COLUMNS} FROM kpitree_imports WHERE import_id = ?", [import_id]
    ).fetchall()
    if not rows:
        raise DataError.of("KT430", "warehouse.no_such_import", import_id=import_id, path=str(path))
    return record_from_row(rows[0])
