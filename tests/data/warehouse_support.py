"""Building mapped batches by hand and snapshotting a warehouse, for warehouse tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from kpitree.data.batch import MappedBatch, Reject
from kpitree.data.importing import ImportWriter
from kpitree.data.schema import TABLES, arrow_schema, table


def arrow_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of canonical table ``name``, typed as the schema says; the columns are
    the keys found in the rows."""
    spec = table(name)
    columns = list(dict.fromkeys(k for r in rows for k in r)) or list(spec.primary_key)
    types = arrow_schema(name)
    return pa.table({c: pa.array([r.get(c) for r in rows], types.field(c).type) for c in columns})


def ts(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def lead(lead_id: str, day: int = 1, **extra: Any) -> dict[str, Any]:
    return {"lead_id": lead_id, "created_at": ts(day), "channel": "web", **extra}


def batch(
    tables: dict[str, list[dict[str, Any]]],
    *,
    file: str = "leads.csv",
    rejects: list[Reject] | None = None,
    rejected_rows: list[dict[str, str]] | None = None,
    rows_read: int | None = None,
) -> MappedBatch:
    arrow = {name: arrow_table(name, rows) for name, rows in tables.items()}
    read = rows_read if rows_read is not None else max(t.num_rows for t in arrow.values())
    return MappedBatch(
        source_file=file,
        file_hash="0" * 64,
        mapping_name="test-mapping",
        rows_read=read,
        tables=arrow,
        rejects=rejects or [],
        rejected_rows=rejected_rows or [],
    )


def snapshot(wh: ImportWriter) -> dict[str, list[tuple[Any, ...]]]:
    """Every canonical table's full content (bookkeeping column included) as text,
    in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with wh.connect() as con:  # plain SQL: the PostgreSQL warehouse runs it too
        for t in TABLES:
            names = [*t.column_names, "_import_id"]
            cols = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in names)
            order = ", ".join(str(i + 1) for i in range(len(names)))
            out[t.name] = con.execute(f"SELECT {cols} FROM {t.name} ORDER BY {order}").fetchall()
    return out


def rows(wh: ImportWriter, sql: str) -> list[tuple[Any, ...]]:
    with wh.connect() as con:
        return con.execute(sql).fetchall()
