"""Where the warehouse's facts came from, day by day: what a copy of the
warehouse on another database (``copy_warehouse``) needs to tell the freshness
of each source, since it keeps neither the import log nor each row's import.

- ``kpitree_source_days``: per canonical table, source and local day of its
  facts (``YYYY-MM-DD``; null for a row without a dated fact), the rows;
- ``kpitree_source_deliveries``: per source, every local day it delivered data
  (an applied import, its last successful sync).

A record's source is the one :mod:`kpitree.data.links` uses. Days are local
days in the time zone of the connection (the engine's session zone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["DAYS_TABLE", "DELIVERIES_TABLE", "FACT_DAYS", "SIDE_TYPES", "source_days"]

DAYS_TABLE = "kpitree_source_days"
DELIVERIES_TABLE = "kpitree_source_deliveries"
SIDE_TYPES: dict[str, dict[str, str]] = {
    DAYS_TABLE: {"table_name": "TEXT", "source": "TEXT", "day": "TEXT", "rows": "BIGINT"},
    DELIVERIES_TABLE: {"source": "TEXT", "day": "TEXT"},
}
"""Column -> PostgreSQL type of each table."""

# The day columns that date each table's facts, for freshness.
FACT_DAYS: dict[str, tuple[str, ...]] = {
    "accounts": ("created_at",),
    "leads": ("created_at",),
    "lead_stage_history": ("entered_at",),
    "deals": ("created_at",),
    "deal_stage_history": ("entered_at",),
    "activities": ("occurred_at",),
    "contracts": ("start_date",),
    "marketing_spend": ("spend_date",),
    "nps_responses": ("responded_at",),
}
_SOURCES = (
    "(SELECT import_id, status, started_at, CASE WHEN kind = 'sync' THEN source_file "
    "ELSE coalesce(NULLIF(mapping_name, ''), source_file) END AS source FROM kpitree_imports)"
)


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(rows[0][0])


def source_days(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table | None]:
    """Both tables, from the warehouse on ``con`` (``None``: it keeps no import log)."""
    if not _exists(con, "kpitree_imports"):
        return {DAYS_TABLE: None, DELIVERIES_TABLE: None}
    parts = []
    for table, columns in FACT_DAYS.items():
        days = [f"CAST(r.{c} AS DATE)" for c in columns]
        day = days[0] if len(days) == 1 else f"greatest({', '.join(days)})"
        parts.append(
            f"SELECT '{table}' AS table_name, s.source AS source, "
            f"strftime({day}, '%Y-%m-%d') AS day, count(*) AS rows "
            f"FROM {table} r LEFT JOIN {_SOURCES} s ON s.import_id = r._import_id "
            "GROUP BY ALL"
        )
    days = con.sql(" UNION ALL ".join(parts) + " ORDER BY ALL").to_arrow_table()
    delivered = [
        f"SELECT source, strftime(CAST(started_at AS DATE), '%Y-%m-%d') AS day FROM {_SOURCES} "
        "WHERE status = 'applied'"
    ]
    if _exists(con, "kpitree_sources"):
        delivered.append(
            "SELECT source, strftime(CAST(last_success_at AS DATE), '%Y-%m-%d') AS day "
            "FROM kpitree_sources WHERE last_success_at IS NOT NULL"
        )
    deliveries = con.sql(
        "SELECT DISTINCT source, day FROM (" + " UNION ALL ".join(delivered) + ") ORDER BY ALL"
    ).to_arrow_table()
    return {DAYS_TABLE: days, DELIVERIES_TABLE: deliveries}
