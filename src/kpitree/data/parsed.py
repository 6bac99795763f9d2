"""The parsed rows of a CSV export, kept in the connection that writes them.

Both ways of reading a file inside the import's connection, the text path
(:mod:`kpitree.data.inplace`) and the typed fast path (:mod:`kpitree.data.typed`),
end in the same place: the parse query of :mod:`kpitree.data.transform` written
as a table of parsed rows (one row per data row of the file, ``__bad`` marking
a row to reject). What they do with that table is here: count its rows, find an
id repeated, and hand the accepted rows to the writer as queries over it
(:class:`~kpitree.data.batch.SqlRows`), cut per canonical table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kpitree.data.batch import MappedBatch, Reject, SqlRows
from kpitree.data.cutting import is_unique_wide, table_sql
from kpitree.data.fields import ZS_TEXT, Entries, RowSet, starts_with_space
from kpitree.data.mapping import HISTORY_TABLES, Mapping
from kpitree.data.values import sql_str

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.query import Plan
    from kpitree.data.readers import SourceTable
    from kpitree.data.transform import Layout

__all__ = ["count_rows", "ids_repeat", "kept_batch", "parse_into"]

_OWNER = "owner_id"


def parse_into(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    tz: str,
    parsed: str,
    *,
    dup_check: bool | None,
    formats: Callable[[Plan], None] | None = None,
) -> tuple[Plan, Layout, tuple[str, str]]:
    """The parse query's result as table ``parsed``, plain text trimmed in SQL
    (where the Arrow reader trims it in Arrow). ``formats``: as for
    :func:`~kpitree.data.transform.plan_query`."""
    from kpitree.data.transform import plan_query

    plan, layout, layers, query = plan_query(
        con, source, mapping, found, tz, dup_check=dup_check, formats=formats
    )
    trims = plan.trimmed_outputs()
    select = "*"
    if trims:
        select += f" REPLACE ({', '.join(f'{_trimmed(n)} AS {n}' for n in trims)})"
    con.execute(f"CREATE OR REPLACE TABLE {parsed} AS SELECT {select} FROM ({query})")
    return plan, layout, layers


def _trimmed(x: str) -> str:
    """``x`` trimmed of spaces (:data:`ZS_TEXT`), blank as NULL. DuckDB's ``trim``
    with a set of characters costs about a microsecond a cell (more than parsing
    it), so it runs only on cells that start or end with a space.

    Finding those cells is itself most of the cost, so the common cells are
    let through by tests that read a byte or two: a cell's first character is
    tested by string comparisons (:func:`~kpitree.data.fields.starts_with_space`);
    a cell whose bytes are as many as its characters is ASCII, and can only end
    with U+0020 (a suffix ``LIKE``). Only the other cells take their last
    character (``array_extract``; ``right`` costs about twice as much)."""
    starts = starts_with_space(x)
    last = starts_with_space(f"array_extract({x}, -1)", ascii_space=False)
    ends = f"({x} LIKE '% ' OR (strlen({x}) <> length({x}) AND {last}))"
    return (
        f"CASE WHEN {x} = '' THEN NULL WHEN {starts} OR {ends} "
        f"THEN nullif(trim({x}, {sql_str(ZS_TEXT)}), '') ELSE {x} END"
    )


def count_rows(con: duckdb.DuckDBPyConnection, parsed: str) -> tuple[int, int]:
    """Rows accepted and rejected in ``parsed``."""
    counts = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE __bad) FROM {parsed}"
    ).fetchall()[0]
    return int(counts[0]) - int(counts[1]), int(counts[1])


def ids_repeat(con: duckdb.DuckDBPyConnection, plan: Plan, parsed: str) -> bool:
    """Whether an id of the main table appears twice in the parsed rows (as
    :func:`kpitree.data.transform._ids_repeat`, on the table)."""
    from kpitree.data.transform import main_key_outputs

    cols = main_key_outputs(plan)
    if not cols:
        return False
    keys = ", ".join(cols)
    notnull = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    # Equal hashes side by side once sorted: a sort of the hashes holds less
    # memory than a distinct count's hash table (about 110 MB against 190 MB for
    # 4M ids), and the peak of an import is here, while the text is still held.
    hashes = (
        f"SELECT count(*) FILTER (WHERE h = before) > 0 FROM (SELECT h, lag(h) OVER "
        f"(ORDER BY h) AS before FROM (SELECT hash({keys}) AS h FROM {parsed} WHERE {notnull}))"
    )
    if not con.execute(hashes).fetchall()[0][0]:
        return False
    sql = f"SELECT count(*) > count(DISTINCT ({keys})) FROM {parsed} WHERE {notnull}"
    return bool(con.execute(sql).fetchall()[0][0])


def kept_batch(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    layout: Layout,
    parsed: str,
    accepted: int,
    read_db: str,
    path: str,
    rejects: list[Reject] | None = None,
    rejected_rows: list[dict[str, str]] | None = None,
) -> MappedBatch:
    """The batch of the accepted rows of ``parsed`` (its tables kept in ``con``)."""
    tables = _cut(con, plan, layout, parsed, accepted, read_db)
    return MappedBatch(
        source_file=path,
        file_hash=plan.source.sha256,
        mapping_name=plan.mapping.name,
        rows_read=plan.source.rows,
        tables={},
        kept=tables,
        rejects=rejects or [],
        rejected_rows=rejected_rows or [],
        validated=True,
        owner_counts=_owner_counts(con, tables),
    )


def _cut(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    layout: Layout,
    parsed: str,
    accepted: int,
    read_db: str,
) -> dict[str, SqlRows]:
    """Each canonical table as a query over ``parsed`` (the first table of the
    mapping and unique wide stage histories), or as a table of ``read_db`` cut
    from it (rows kept once per key, histories that may repeat)."""
    out: dict[str, SqlRows] = {}
    for name, (first, parts) in layout.items():
        all_cols: list[str] = []
        for _, cols in parts:
            all_cols += [c for c in cols if c not in all_cols]
        sets = [s for row_sets, _ in parts for s in row_sets]
        names = tuple(all_cols)
        if not sets:
            empty = ", ".join(f"NULL AS {c}" for c in all_cols)
            out[name] = SqlRows(f"SELECT {empty} WHERE false", names, 0)
        elif name not in HISTORY_TABLES and first.main and len(sets) == 1:
            only = sets[0]
            assert isinstance(only, RowSet)
            select = ", ".join(f"{only.cols[c]} AS {c}" for c in all_cols)
            out[name] = SqlRows(f"SELECT {select} FROM {parsed}", names, accepted)
        elif name in HISTORY_TABLES and is_unique_wide(plan, sets):
            id_col = HISTORY_TABLES[name]
            union = " UNION ALL ".join(
                f"SELECT {s.id} AS {id_col}, {sql_str(s.stage_name or '')} AS stage, "
                f"{s.at} AS entered_at FROM {parsed} WHERE {s.at} IS NOT NULL"
                for s in sets
                if isinstance(s, Entries)
            )
            out[name] = SqlRows(union, names, None)
        else:
            cut = f"{read_db}.main.t_{name}"
            con.execute(f"CREATE TABLE {cut} AS {table_sql(name, first, sets, all_cols, parsed)}")
            rows = int(con.execute(f"SELECT count(*) FROM {cut}").fetchall()[0][0])
            out[name] = SqlRows(f"SELECT {', '.join(all_cols)} FROM {cut}", names, rows)
    return out


def _owner_counts(
    con: duckdb.DuckDBPyConnection, tables: dict[str, SqlRows]
) -> dict[str, dict[str, int]]:
    """Per table, owner id -> rows naming it (what the CLI matches against the
    organisation once the tables are written)."""
    counts: dict[str, dict[str, int]] = {}
    for name, rows in tables.items():
        if _OWNER not in rows.column_names or rows.rows == 0:
            continue
        found = con.execute(
            f"SELECT CAST({_OWNER} AS VARCHAR), count(*) FROM ({rows.sql}) "
            f"WHERE {_OWNER} IS NOT NULL GROUP BY ALL"
        ).fetchall()
        counts[name] = {str(owner): int(n) for owner, n in found}
    return counts
