"""Set-based SQL that deletes rows as part of an import (a sync), and undoes it.

A file import only inserts and updates; a sync also deletes, because a record
deleted or archived in the source must leave the funnel. Every deleted row is
kept whole, with its own ``_import_id``, in the deletion log
``kpitree_deleted_<table>`` under the deleting import's id (``deleted_by``), so
that ``kpitree imports undo`` can put it back.

All functions run inside the caller's transaction; they neither begin nor commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kpitree.data.schema import Column, Table
from kpitree.data.upsert import IMPORT_ID, change_log, has_change_log

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "SYNC_RECORDS",
    "delete_where",
    "delete_where_key_in",
    "deleted_log",
    "deletion_conflict",
    "drop_replaced_history",
    "undo_deletions",
]

SYNC_RECORDS = Table(
    "kpitree_sync_records",
    "Which records of which source object the warehouse holds.",
    (
        Column("source", "VARCHAR", "Source name (under `sources:`).", nullable=False),
        Column("object", "VARCHAR", "Object of the source (contacts, deals, ...).", nullable=False),
        Column("record_id", "VARCHAR", "Record id in the source.", nullable=False),
    ),
    ("source", "object", "record_id"),
)
"""Bookkeeping table written, deleted from and undone like a canonical table."""


def deleted_log(table: Table) -> str:
    """Name of the deletion log of ``table``."""
    return f"kpitree_deleted_{table.name}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def delete_where(
    con: duckdb.DuckDBPyConnection,
    import_id: int,
    table: Table,
    where: str,
    params: Sequence[object] = (),
) -> int:
    """Log then delete the rows of ``table`` (alias ``t``) matching the SQL
    condition ``where`` (with ``?`` parameters ``params``)."""
    cols = ", ".join(_q(c) for c in [*table.column_names, IMPORT_ID])
    t_cols = ", ".join(f"t.{_q(c)}" for c in [*table.column_names, IMPORT_ID])
    logged = con.execute(
        f"INSERT INTO {deleted_log(table)} (deleted_by, {cols}) "
        f"SELECT ?, {t_cols} FROM {table.name} t WHERE {where}",
        [import_id, *params],
    ).fetchall()
    if not logged[0][0]:
        return 0
    row = con.execute(f"DELETE FROM {table.name} t WHERE {where}", list(params)).fetchall()
    return int(row[0][0])


def delete_where_key_in(
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table, column: str, ids: str
) -> int:
    """Delete (logged) every row of ``table`` whose ``column`` is one of the ids in
    relation ``ids`` (a registered table or view with one column ``id``)."""
    return delete_where(con, import_id, table, f"t.{_q(column)} IN (SELECT id FROM {ids})")


def drop_replaced_history(
    con: duckdb.DuckDBPyConnection,
    import_id: int,
    table: Table,
    column: str,
    ids: str,
    offered: str | None,
) -> int:
    """For the records in ``ids``, delete (logged) the rows of ``table`` (a table
    that is all primary key, such as stage history) that the records no longer
    give: those not in relation ``offered`` (the rows just offered, or ``None``
    when the sync offered none). The source is the truth for its records: a
    stage entry it moved or removed does not linger beside the new one."""
    where = f"t.{_q(column)} IN (SELECT id FROM {ids})"
    if offered is not None:
        match = " AND ".join(f"o.{_q(k)} = t.{_q(k)}" for k in table.primary_key)
        where += f" AND NOT EXISTS (SELECT 1 FROM {offered} o WHERE {match})"
    return delete_where(con, import_id, table, where)


def undo_deletions(con: duckdb.DuckDBPyConnection, import_id: int, table: Table) -> int:
    """Put back the rows import ``import_id`` deleted (with their own import id)
    and forget them in the log. Returns how many."""
    log = deleted_log(table)
    cols = ", ".join(_q(c) for c in [*table.column_names, IMPORT_ID])
    row = con.execute(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {log} WHERE deleted_by = ?",
        [import_id],
    ).fetchall()
    con.execute(f"DELETE FROM {log} WHERE deleted_by = ?", [import_id]).fetchall()
    return int(row[0][0])


def deletion_conflict(con: duckdb.DuckDBPyConnection, import_id: int, table: Table) -> int | None:
    """The first later import whose deletions stand in the way of undoing
    ``import_id``, or ``None``: a later import deleted a row this one inserted
    or updated, or a row this one deleted has been written again since (putting
    it back would repeat its key)."""
    log = deleted_log(table)
    keys = ", ".join(_q(k) for k in table.primary_key)
    # Rows this import updated (those it inserted carry its id in the log itself).
    mine = f"SELECT {keys} FROM {log} WHERE false"
    if has_change_log(table):
        mine = f"SELECT {keys} FROM {change_log(table)} WHERE import_id = $id"
    match_later = " AND ".join(f"later.{_q(k)} = mine.{_q(k)}" for k in table.primary_key)
    match_back = " AND ".join(f"t.{_q(k)} = gone.{_q(k)}" for k in table.primary_key)
    row = con.execute(
        f"""
        WITH mine AS ({mine}),
        deleted_later AS (
            SELECT min(later.deleted_by) AS later FROM {log} later
            WHERE later.deleted_by > $id AND (
                later.{IMPORT_ID} = $id
                OR EXISTS (SELECT 1 FROM mine WHERE {match_later}))
        ),
        written_again AS (
            SELECT min(t.{IMPORT_ID}) AS later FROM {table.name} t
            JOIN {log} gone ON {match_back} WHERE gone.deleted_by = $id
        )
        SELECT least((SELECT later FROM deleted_later), (SELECT later FROM written_again))
        """,
        {"id": import_id},
    ).fetchall()[0]
    return None if row[0] is None else int(row[0])
