"""What an import did: counts per table, the import log entry, and undo results.

These are plain values returned by :class:`kpitree.data.warehouse.Warehouse`; they
know how to render themselves as JSON for ``kpitree import --json`` and
``kpitree imports --json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["ImportRecord", "ImportResult", "TableCounts", "UndoResult"]


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
