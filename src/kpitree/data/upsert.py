"""Set-based SQL that applies one mapped table to the warehouse, and undoes it.

An import never loops over rows in Python: the Arrow table is registered with
DuckDB and a handful of statements do the work, so a million-row file costs a few
joins. For every canonical table ``T`` the change log ``kpitree_changes_T`` keeps
what an import did: the primary key of each row it inserted (``action='insert'``)
and the full previous image of each row it updated (``action='update'``). Undo
replays that log backwards.

All functions run inside the caller's transaction; they neither begin nor commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitree.data.importlog import TableCounts
from kpitree.data.schema import Table
from kpitree.errors import DataError, InternalError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["change_log", "later_import_touching", "undo_table", "upsert_table"]

_INPUT = "kpitree_input"
_STAGE = "kpitree_stage"
_POS = "__kpitree_pos"


def change_log(table: Table) -> str:
    """Name of the change-log table of ``table``."""
    return f"kpitree_changes_{table.name}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in table.primary_key)


def _check_columns(table: Table, data: pa.Table) -> list[str]:
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
    con: duckdb.DuckDBPyConnection, table: Table, data: pa.Table, cols: list[str]
) -> tuple[int, str]:
    """Expose ``data`` as ``kpitree_stage``: typed as the schema says, one row per key.

    When the file repeats a key, its last row wins: a source export lists a record
    once, so a repeat is a later state of it (or an exact copy). Only then is a
    deduplicated copy materialised; otherwise the stage is a view over the Arrow
    data, which the statements below scan in place (copying 10M rows costs more
    than the whole upsert). Returns the number of distinct keys and what the
    stage is (``TABLE`` or ``VIEW``).
    """
    import numpy as np
    import pyarrow as pa

    positioned = data.append_column(_POS, pa.array(np.arange(data.num_rows, dtype=np.int64)))
    con.register(_INPUT, positioned)
    try:
        return _create_stage(con, table, data.num_rows, cols)
    except BaseException:
        con.unregister(_INPUT)
        raise


def _create_stage(
    con: duckdb.DuckDBPyConnection, table: Table, rows: int, cols: list[str]
) -> tuple[int, str]:
    typed = ", ".join(f"CAST({_q(c)} AS {table.column(c).type}) AS {_q(c)}" for c in cols)
    keys = ", ".join(_q(k) for k in table.primary_key)
    dupes = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {_INPUT} GROUP BY {keys} HAVING count(*) > 1)"
    ).fetchall()[0][0]
    if dupes:
        con.execute(
            f"CREATE TEMP TABLE {_STAGE} AS SELECT {typed} FROM {_INPUT} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {_POS} DESC) = 1"
        )
        return int(con.execute(f"SELECT count(*) FROM {_STAGE}").fetchall()[0][0]), "TABLE"
    con.execute(f"CREATE TEMP VIEW {_STAGE} AS SELECT {typed} FROM {_INPUT}")
    return rows, "VIEW"


def _unstage(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    con.execute(f"DROP {kind} IF EXISTS {_STAGE}")
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
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table, data: pa.Table
) -> TableCounts:
    """Insert new rows and update changed rows of ``table`` from ``data``, logging
    both in the change log under ``import_id``. Rows are compared on the columns
    ``data`` carries; columns it does not carry keep their stored values."""
    cols = _check_columns(table, data)
    offered, kind = _stage(con, table, data, cols)
    try:
        _check_required(con, table, cols)
        # Into an empty table (first import, demo load) every row is new: skip the
        # joins against it.
        probe = f"SELECT count(*) FROM (SELECT 1 FROM {table.name} LIMIT 1)"
        empty = not con.execute(probe).fetchall()[0][0]
        updated = 0 if empty else _update_changed(con, import_id, table, cols)
        inserted = _insert_new(con, import_id, table, cols, empty=empty)
    finally:
        _unstage(con, kind)
    return TableCounts(table.name, offered, inserted, updated, offered - inserted - updated)


def _update_changed(
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table, cols: list[str]
) -> int:
    """Log the previous image of every stored row whose content differs from the
    stage, then update those rows. Returns how many were updated."""
    payload = [c for c in cols if c not in table.primary_key]
    if not payload:  # a table that is all key (stage history) has nothing to update
        return 0
    log = change_log(table)
    all_cols = ", ".join(_q(c) for c in table.column_names)
    t_all = ", ".join(f"t.{_q(c)}" for c in table.column_names)
    changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in payload)
    con.execute(
        f"INSERT INTO {log} (import_id, action, {all_cols}) "
        f"SELECT ?, 'update', {t_all} FROM {table.name} t JOIN {_STAGE} s "
        f"ON {_key_match(table, 't', 's')} WHERE {changed}",
        [import_id],
    ).fetchall()
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
    """Log the key of every staged row not stored yet, then insert those rows."""
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
    keys = ", ".join(_q(k) for k in table.primary_key)
    s_keys = ", ".join(f"s.{_q(k)}" for k in table.primary_key)
    con.execute(
        f"INSERT INTO {change_log(table)} (import_id, action, {keys}) "
        f"SELECT ?, 'insert', {s_keys} {new_rows}",
        [import_id],
    ).fetchall()
    col_list = ", ".join(_q(c) for c in cols)
    s_cols = ", ".join(f"s.{_q(c)}" for c in cols)
    row = con.execute(f"INSERT INTO {table.name} ({col_list}) SELECT {s_cols} {new_rows}")
    return int(row.fetchall()[0][0])


def later_import_touching(
    con: duckdb.DuckDBPyConnection, import_id: int, table: Table
) -> int | None:
    """The first import after ``import_id`` that inserted or updated a row that
    ``import_id`` also inserted or updated, or ``None``."""
    log = change_log(table)
    match = _key_match(table, "mine", "later")
    row = con.execute(
        f"SELECT min(later.import_id) FROM {log} mine JOIN {log} later ON {match} "
        "WHERE mine.import_id = ? AND later.import_id > ?",
        [import_id, import_id],
    ).fetchall()[0]
    return None if row[0] is None else int(row[0])


def undo_table(con: duckdb.DuckDBPyConnection, import_id: int, table: Table) -> tuple[int, int]:
    """Delete the rows ``import_id`` inserted and restore the previous image of the
    rows it updated; forget its change log. Returns (deleted, restored)."""
    log = change_log(table)
    match = _key_match(table, table.name, "c")
    deleted = int(
        con.execute(
            f"DELETE FROM {table.name} USING {log} c "
            f"WHERE c.import_id = ? AND c.action = 'insert' AND {match}",
            [import_id],
        ).fetchall()[0][0]
    )
    restored = 0
    payload = [c for c in table.column_names if c not in table.primary_key]
    if payload:
        sets = ", ".join(f"{_q(c)} = c.{_q(c)}" for c in payload)
        restored = int(
            con.execute(
                f"UPDATE {table.name} SET {sets} FROM {log} c "
                f"WHERE c.import_id = ? AND c.action = 'update' AND {match}",
                [import_id],
            ).fetchall()[0][0]
        )
    con.execute(f"DELETE FROM {log} WHERE import_id = ?", [import_id]).fetchall()
    return deleted, restored
