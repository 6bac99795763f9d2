"""Set-based SQL that applies one mapped table to the warehouse, and undoes it.

An import never loops over rows in Python: the Arrow table is registered with
DuckDB and a handful of statements do the work, so a million-row file costs a few
joins. What an import did is kept so that it can be undone: every row it inserted
carries its id in the bookkeeping column ``_import_id``, and the change log
``kpitree_changes_T`` of table ``T`` holds the full previous image of every row it
updated. Tables that are all primary key (stage history) are never updated and
have no change log.

All functions run inside the caller's transaction; they neither begin nor commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitree.data.batch import SqlRows
from kpitree.data.importlog import TableCounts
from kpitree.data.schema import Table
from kpitree.errors import DataError, InternalError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "IMPORT_ID",
    "change_log",
    "has_change_log",
    "later_import_touching",
    "undo_table",
    "upsert_table",
]

_INPUT = "kpitree_input"
_STAGE = "kpitree_stage"
_POS = "__kpitree_pos"
_ROW_GROUP = 122_880  # DuckDB's rows per row group
IMPORT_ID = "_import_id"
"""Bookkeeping column of every canonical table: the import that inserted the row."""


def change_log(table: Table) -> str:
    """Name of the change-log table of ``table``."""
    return f"kpitree_changes_{table.name}"


def has_change_log(table: Table) -> bool:
    """Whether rows of ``table`` can be updated (it has columns outside its key)."""
    return len(table.primary_key) < len(table.columns)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in table.primary_key)


def _check_columns(table: Table, data: pa.Table | SqlRows) -> list[str]:
    """The columns of ``data`` in schema order; unknown columns are a reader bug."""
    known = set(table.column_names)
    unknown = [c for c in data.column_names if c not in known]
    if unknown:
        raise InternalError(f"mapped table {table.name!r} has unknown columns {unknown}")
    missing_key = [k for k in table.primary_key if k not in data.column_names]
    if missing_key:
        raise InternalError(f"mapped table {table.name!r} lacks primary key {missing_key}")
    return [c for c in table.column_names if c in data.column_names]


def _stage(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    data: pa.Table | SqlRows,
    cols: list[str],
    *,
    validated: bool = False,
) -> tuple[int, str]:
    """Expose ``data`` as ``kpitree_stage``: typed as the schema says, one row per key.

    When the file repeats a key, its last row wins: a source export lists a record
    once, so a repeat is a later state of it (or an exact copy). Only then is a
    deduplicated copy materialised; otherwise the stage is a view over the Arrow
    data, which the statements below scan in place (copying 10M rows costs more
    than the whole upsert). ``validated`` (the reader already made the keys
    unique) skips looking for repeats. Returns the number of distinct keys and
    what the stage is (``TABLE`` or ``VIEW``); ``-1`` keys when rows kept in the
    connection (:class:`SqlRows`) were not counted.
    """
    if isinstance(data, SqlRows):
        if not validated:
            raise InternalError(f"rows of {table.name!r} read in place were not validated")
        typed = ", ".join(f"CAST({_q(c)} AS {table.column(c).type}) AS {_q(c)}" for c in cols)
        con.execute(f"CREATE TEMP VIEW {_STAGE} AS SELECT {typed} FROM ({data.sql}) AS {_INPUT}")
        return -1 if data.rows is None else data.rows, "VIEW"
    data = _row_group_chunks(data)
    con.register(_INPUT, data)
    try:
        return _create_stage(con, table, data, cols, validated=validated)
    except BaseException:
        con.unregister(_INPUT)
        raise


def _row_group_chunks(data: pa.Table) -> pa.Table:
    """``data`` in chunks of one DuckDB row group (122,880 rows) each, mostly.

    DuckDB writes a bulk insert row group by row group, one Arrow chunk per
    thread; chunks of other sizes (DuckDB's own Arrow output by default: 131,072
    rows) leave a part-filled row group each, which the checkpoint when the
    connection closes merges by rewriting them: as much work again as the
    insert. The reader hands over row-group chunks (a few shorter ones where its
    threads' shares end are harmless); one chunk is sliced here without a copy;
    anything else is copied into one chunk first."""
    import pyarrow as pa

    sizes = [b.num_rows for b in data.to_batches()]
    odd = sum(1 for n in sizes[:-1] if n != _ROW_GROUP)
    if odd <= max(4, len(sizes) // 10) and (not sizes or sizes[-1] <= _ROW_GROUP):
        return data
    if any(column.num_chunks > 1 for column in data.columns):
        data = data.combine_chunks()
    return pa.Table.from_batches(data.to_batches(_ROW_GROUP), data.schema)


def _create_stage(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    data: pa.Table,
    cols: list[str],
    *,
    validated: bool,
) -> tuple[int, str]:
    typed = ", ".join(f"CAST({_q(c)} AS {table.column(c).type}) AS {_q(c)}" for c in cols)
    keys = ", ".join(_q(k) for k in table.primary_key)
    dupes = 0
    if not validated:
        dupes = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {_INPUT} GROUP BY {keys} "
            "HAVING count(*) > 1) AS repeated"
        ).fetchall()[0][0]
    if not dupes:
        con.execute(f"CREATE TEMP VIEW {_STAGE} AS SELECT {typed} FROM {_INPUT}")
        return data.num_rows, "VIEW"
    # A parallel scan has no row order, so the file order travels as a column.
    con.unregister(_INPUT)
    con.register(_INPUT, data.append_column(_POS, _positions(data.num_rows)))
    con.execute(
        f"CREATE TEMP TABLE {_STAGE} AS SELECT {typed} FROM {_INPUT} "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {_POS} DESC) = 1"
    )
    return int(con.execute(f"SELECT count(*) FROM {_STAGE}").fetchall()[0][0]), "TABLE"


def _positions(n: int) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    # From the raw buffer: pa.array(ndarray) would import pandas (~0.8 s) to probe it.
    return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(np.arange(n, dtype=np.int64))])


def _unstage(con: duckdb.DuckDBPyConnection, kind: str, *, registered: bool) -> None:
    con.execute(f"DROP {kind} IF EXISTS {_STAGE}")
    if registered:
        con.unregister(_INPUT)


def _check_required(con: duckdb.DuckDBPyConnection, table: Table, cols: list[str]) -> None:
    """Refuse empty required cells with a message, instead of a constraint error."""
    required = [c.name for c in table.columns if not c.nullable and c.name in cols]
    if not required:
        return
    counts = ", ".join(f"count(*) FILTER (WHERE {_q(c)} IS NULL)" for c in required)
    row = con.execute(f"SELECT {counts} FROM {_STAGE}").fetchall()[0]
    for name, empty in zip(required, row, strict=True):
        if empty:
            raise DataError.of(
                "KT410", "warehouse.required_empty", table=table.name, column=name, count=empty
            )


def upsert_table(
    con: duckdb.DuckDBPyConnection,
    import_id: int,
    table: Table,
    data: pa.Table | SqlRows,
    *,
    validated: bool = False,
) -> TableCounts:
    """Insert new rows and update changed rows of ``table`` from ``data`` as import
    ``import_id``. Rows are compared on the columns ``data`` carries; columns it
    does not carry keep their stored values (or are NULL in new rows).
    ``validated``: the caller guarantees that no key repeats in ``data`` and that
    its required columns have values."""
    cols = _check_columns(table, data)
    offered, kind = _stage(con, table, data, cols, validated=validated)
    try:
        if not validated:
            _check_required(con, table, cols)
        # Into an empty table (first import, demo load) every row is new: skip the
        # joins against it.
        probe = f"SELECT count(*) FROM (SELECT 1 FROM {table.name} LIMIT 1) AS probe"
        empty = not con.execute(probe).fetchall()[0][0]
        updated = 0 if empty else _update_changed(con, import_id, table, cols)
        inserted = _insert_new(con, import_id, table, cols, empty=empty)
        if offered < 0:  # rows kept in the connection, not counted upfront
            offered = (
                inserted
                if empty
                else int(con.execute(f"SELECT count(*) FROM {_STAGE}").fetchall()[0][0])
            )
    finally:
        _unstage(con, kind, registered=not isinstance(data, SqlRows))
    return TableCounts(table.name, offered, inserted, updated, offered - inserted - updated)


def _update_changed(
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table, cols: list[str]
) -> int:
    """Log the previous image of every stored row whose content differs from the
    stage, then update those rows. Returns how many were updated."""
    payload = [c for c in cols if c not in table.primary_key]
    if not payload:  # the file carries keys only: nothing to compare
        return 0
    all_cols = ", ".join(_q(c) for c in table.column_names)
    t_all = ", ".join(f"t.{_q(c)}" for c in table.column_names)
    changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in payload)
    logged = con.execute(
        f"INSERT INTO {change_log(table)} (import_id, {all_cols}) "
        f"SELECT ?, {t_all} FROM {table.name} t JOIN {_STAGE} s "
        f"ON {_key_match(table, 't', 's')} WHERE {changed}",
        [import_id],
    ).fetchall()
    if not logged[0][0]:  # the common re-import: nothing changed, spare the second join
        return 0
    sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in payload)
    target_changed = " OR ".join(
        f"{table.name}.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in payload
    )
    row = con.execute(
        f"UPDATE {table.name} SET {sets} FROM {_STAGE} s "
        f"WHERE {_key_match(table, table.name, 's')} AND ({target_changed})"
    ).fetchall()
    return int(row[0][0])


def _insert_new(
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table, cols: list[str], *, empty: bool
) -> int:
    """Insert the staged rows whose key is not stored yet, marked with ``import_id``."""
    new_rows = f"FROM {_STAGE} s"
    if not empty:
        new_rows += f" ANTI JOIN {table.name} t ON {_key_match(table, 't', 's')}"
    missing = [c.name for c in table.columns if not c.nullable and c.name not in cols]
    if missing:
        count = int(con.execute(f"SELECT count(*) {new_rows}").fetchall()[0][0])
        if count:
            raise DataError.of(
                "KT411",
                "warehouse.required_missing",
                table=table.name,
                column=missing[0],
                count=count,
            )
    col_list = ", ".join(_q(c) for c in [*cols, IMPORT_ID])
    s_cols = ", ".join(f"s.{_q(c)}" for c in cols)
    row = con.execute(
        f"INSERT INTO {table.name} ({col_list}) SELECT {s_cols}, ? {new_rows}", [import_id]
    )
    return int(row.fetchall()[0][0])


def later_import_touching(
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table
) -> int | None:
    """The first import after ``import_id`` that updated a row which ``import_id``
    inserted or updated, or ``None``. (A later import cannot insert a row that
    ``import_id`` inserted, and unchanged rows do not count.)"""
    if not has_change_log(table):
        return None
    log = change_log(table)
    keys = ", ".join(_q(k) for k in table.primary_key)
    row = con.execute(
        f"""
        WITH mine AS (
            SELECT {keys} FROM {table.name} WHERE {IMPORT_ID} = $id
            UNION ALL
            SELECT {keys} FROM {log} WHERE import_id = $id
        )
        SELECT min(later.import_id) FROM {log} later JOIN mine
        ON {_key_match(table, "later", "mine")} WHERE later.import_id > $id
        """,
        {"id": import_id},
    ).fetchall()[0]
    return None if row[0] is None else int(row[0])


def undo_table(con: duckdb.DuckDBPyConnection, import_id: int, table: Table) -> tuple[int, int]:
    """Delete the rows ``import_id`` inserted and restore the previous image of the
    rows it updated; forget its change log. Returns (deleted, restored)."""
    deleted = int(
        con.execute(f"DELETE FROM {table.name} WHERE {IMPORT_ID} = ?", [import_id]).fetchall()[0][0]
    )
    if not has_change_log(table):
        return deleted, 0
    log = change_log(table)
    payload = [c for c in table.column_names if c not in table.primary_key]
    sets = ", ".join(f"{_q(c)} = c.{_q(c)}" for c in payload)
    restored = int(
        con.execute(
            f"UPDATE {table.name} SET {sets} FROM {log} c "
            f"WHERE c.import_id = ? AND {_key_match(table, table.name, 'c')}",
            [import_id],
        ).fetchall()[0][0]
    )
    con.execute(f"DELETE FROM {log} WHERE import_id = ?", [import_id]).fetchall()
    return deleted, restored
