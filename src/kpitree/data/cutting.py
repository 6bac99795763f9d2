"""Cutting canonical tables from the parsed Arrow table of a file: the first
table of a mapping (one row per accepted source row) and stage histories given
as one column per stage are plain Arrow operations; other tables (accounts, reps,
... seen on many rows, keeping the last row per primary key) and stage histories
that may repeat go through SQL over that Arrow table (registered as ``parsed``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.data.arrays import int_array, string_array
from kpitree.data.fields import Entries, RowSet, cast_type
from kpitree.data.mapping import HISTORY_TABLES, TableMapping
from kpitree.data.query import Plan
from kpitree.data.schema import arrow_schema, table
from kpitree.data.values import sql_str

if TYPE_CHECKING:
    import duckdb
    import pyarrow

__all__ = ["is_unique_wide", "table_sql"]


def _table_rows(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    parsed: pyarrow.Table,
    name: str,
    first: TableMapping,
    parts: list[tuple[list[RowSet | Entries], list[str]]],
) -> pyarrow.Table:
    import pyarrow as pa

    all_cols: list[str] = []
    for _, cols in parts:
        all_cols += [c for c in cols if c not in all_cols]
    schema = arrow_schema(name, all_cols)
    sets = [s for row_sets, _ in parts for s in row_sets]
    if not sets:
        return schema.empty_table()
    if name not in HISTORY_TABLES and first.main and len(sets) == 1:
        # One row per accepted source row, in file order: a column selection.
        only = sets[0]
        assert isinstance(only, RowSet)
        data = pa.table({c: parsed.column(only.cols[c]) for c in all_cols})
    elif name in HISTORY_TABLES and is_unique_wide(plan, sets):
        data = _wide_history(parsed, HISTORY_TABLES[name], sets)  # type: ignore[arg-type]
    else:
        data = con.sql(table_sql(name, first, sets, all_cols)).to_arrow_table()
    return pa.Table.from_batches(data.cast(schema).to_batches(), schema)


def table_sql(
    name: str,
    first: TableMapping,
    sets: list[RowSet | Entries],
    all_cols: list[str],
    parsed: str = "parsed",
) -> str:
    """SQL over the registered ``parsed`` Arrow table (or the table named
    ``parsed``) for one canonical table."""
    selects = []
    for s in sets:
        if isinstance(s, Entries):
            stage = s.stage_col if s.stage_col is not None else sql_str(s.stage_name or "")
            present = [f"{s.id} IS NOT NULL", f"{s.at} IS NOT NULL"]
            if s.stage_col is not None:
                present.append(f"{s.stage_col} IS NOT NULL")
            selects.append(
                f"SELECT __row__, {s.id} AS {all_cols[0]}, {stage} AS stage, "
                f"{s.at} AS entered_at FROM {parsed} WHERE {' AND '.join(present)}"
            )
        else:
            pad = ", ".join(
                f"{s.cols[c]} AS {c}" if c in s.cols else f"NULL AS {c}" for c in all_cols
            )
            where = " AND ".join(f"{r} IS NOT NULL" for r in s.required) or "true"
            selects.append(f"SELECT __row__, {pad} FROM {parsed} WHERE {where}")
    union = " UNION ALL BY NAME ".join(selects)
    cols = ", ".join(all_cols)
    pk = ", ".join(table(name).primary_key)
    if name in HISTORY_TABLES:
        # Every column is in the key: identical entries are the same entry.
        return f"SELECT DISTINCT {cols} FROM ({union}) ORDER BY {pk}"
    if first.main and len(selects) == 1:
        return f"SELECT {cols} FROM ({union})"
    # The same account/rep appears on many rows: keep the last.
    return (
        f"SELECT {cols} FROM ({union}) QUALIFY row_number() OVER "
        f"(PARTITION BY {pk} ORDER BY __row__ DESC) = 1 ORDER BY {pk}"
    )


def is_unique_wide(plan: Plan, sets: list[RowSet | Entries]) -> bool:
    """Whether a stage history's entries are unique without a check: one column per
    stage, each stage once, all keyed by the main table's id (unique per accepted
    row: repeats are rejected)."""
    pk = plan.main_key()
    if len(pk) != 1:
        return False
    main = plan.mapping.tables[0]
    id_out = plan.out.get(
        f"CAST({plan.vcol[pk[0].i]} AS {cast_type(table(main.table).column(pk[0].column).type)})"
    )
    names = [s.stage_name for s in sets if isinstance(s, Entries)]
    return (
        id_out is not None
        and all(
            isinstance(s, Entries) and s.stage_name is not None and s.id == id_out for s in sets
        )
        and len(set(names)) == len(names)
    )


def _wide_history(parsed: pyarrow.Table, id_col: str, sets: list[Entries]) -> pyarrow.Table:
    """Stage entries from one column per stage, without a sort: row by row (file
    order), the stages of a row by name, blank dates skipped."""
    import numpy as np
    import pyarrow as pa

    stages = sorted(sets, key=lambda s: s.stage_name or "")
    n, k = parsed.num_rows, len(stages)
    present = np.zeros((n, k), dtype=bool)
    micros = np.zeros((n, k), dtype=np.int64)
    for j, s in enumerate(stages):
        at = parsed.column(s.at).combine_chunks()
        present[:, j] = _validity(at)
        values = at.buffers()[1]
        if values is not None and n:
            micros[:, j] = np.frombuffer(values, dtype=np.int64, count=n, offset=at.offset * 8)
    flat = np.flatnonzero(present.reshape(-1))
    ids = _take_sorted(parsed.column(stages[0].id), flat // k)
    names = string_array([s.stage_name for s in stages])
    stage = names.take(int_array(flat % k, pa.int64()))
    entered = int_array(micros.reshape(-1)[flat], pa.timestamp("us", tz="UTC"))
    return pa.table({id_col: ids, "stage": stage, "entered_at": entered})


def _take_sorted(column: pyarrow.ChunkedArray, rows: Any) -> pyarrow.ChunkedArray:
    """``column.take(rows)`` for ascending ``rows``, in one chunk, taken chunk by
    chunk: taking from a chunked string column would first copy all of it."""
    import numpy as np
    import pyarrow as pa

    starts = np.cumsum([0, *(len(c) for c in column.chunks)])
    cuts = np.searchsorted(rows, starts)
    parts = [
        chunk.take(int_array(rows[cuts[i] : cuts[i + 1]] - starts[i], pa.int64()))
        for i, chunk in enumerate(column.chunks)
        if cuts[i + 1] > cuts[i]
    ]
    return pa.chunked_array([pa.concat_arrays(parts)] if parts else [], column.type)


def _validity(arr: pyarrow.Array) -> Any:
    """Which entries of ``arr`` are not NULL, as a numpy bool array (read from the
    bitmap: ``to_numpy`` on a boolean array imports pandas)."""
    import numpy as np

    n = len(arr)
    bitmap = arr.buffers()[0]
    if bitmap is None or arr.null_count == 0:
        return np.full(n, arr.null_count == 0, dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + n].astype(bool)
