"""Applying a mapping to a loaded source table: one set-based SQL query, then Arrow.

The query, over all rows at once, in layers:

1. ``s``: raw text of every source column the mapping uses, trimmed, blanks (and
   the mapping's ``null_values``) as NULL, with the Excel row number. Two kinds
   of columns skip DuckDB's ``trim`` (which costs more than parsing): columns
   read only by a fast date format (``strptime`` skips the spaces; the trimmed
   text is computed only for cells it does not read) and plain text columns
   (trimmed after the query, in Arrow).
2. ``m``: each mapped field's text after value maps, constants and defaults
   (value maps are small tables joined on the lower-cased text).
3. ``p``: each field parsed to its canonical type (:mod:`kpitree.data.values`).
   Date and timestamp columns first try the format detected on a sample of the
   column (a strict ``strptime``), so only odd cells pay for the general parser.
4. the result: every canonical output column once, even when several tables use
   it (a lead id feeds both ``leads`` and ``lead_stage_history``: it is read
   once), and ``__bad``, whether the row has any error (one error code per field,
   or a repeated id); a row with an error is rejected whole, in every table it
   feeds. The error codes themselves are computed again for the rejected rows
   only, with their raw text, for the reports.

The result comes back as one Arrow table, in chunks of one DuckDB row group so
that the warehouse writes them as they are. Canonical tables are then cut from
it (:mod:`kpitree.data.cutting`) and rejected rows reported
(:mod:`kpitree.data.reject_report`); the query itself is written by
:mod:`kpitree.data.query`.

Repeated ids are looked for after the query (a count of distinct hashes); only
a file that has some is parsed again with the per-row check that names them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from kpitree.data.arrays import int_array, string_array
from kpitree.data.batch import MappedBatch, Reject
from kpitree.data.cutting import _table_rows
from kpitree.data.fields import ZS_TEXT, Entries, Field, RowSet, cast_type
from kpitree.data.mapping import Mapping, TableMapping
from kpitree.data.query import Plan, keys_need_check, value_table
from kpitree.data.reject_report import bad_table, rejected_rows_of, rejects_of
from kpitree.data.schema import table
from kpitree.data.values import FAST_FORMATS, fast_instant, parse_timestamp

if TYPE_CHECKING:
    import duckdb
    import pyarrow

    from kpitree.data.readers import SourceTable

__all__ = ["Layout", "apply_mapping", "int_array", "main_key_outputs", "plan_query", "string_array"]
_SAMPLE_ROWS = 1000  # cells per column on which the fast date format is chosen
_MAX_FAST = 2  # fast formats tried per column before the general parser
_FAST_FROM = 1000  # rows from which choosing fast formats pays for its two queries


ROW_GROUP = 122_880  # rows per DuckDB row group


def apply_mapping(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    path: str,
    tz: str,
) -> MappedBatch:
    """Map table ``raw`` (see :mod:`kpitree.data.readers`) to a :class:`MappedBatch`.

    When no row is rejected, ``con`` is closed before the tables are cut, to
    give back the memory of ``raw`` (closing it again is harmless)."""
    plan, parsed, layout, layers = _parse(con, source, mapping, found, tz, dup_check=None)
    if plan.dup_check:
        return _batch(con, plan, parsed, layout, layers, path)
    # Exports rarely repeat an id, so the per-row check (a window over the whole
    # file) runs only when a cheap count after the fact finds a repeat; then the
    # file is parsed again with it.
    if _ids_repeat(con.cursor(), plan, parsed):
        plan, parsed, layout, layers = _parse(con, source, mapping, found, tz, dup_check=True)
        return _batch(con, plan, parsed, layout, layers, path)
    if _any_bad(parsed):
        return _batch(con, plan, parsed, layout, layers, path)
    # Nothing to report from the raw text: the connection holding it (a copy of
    # the whole file) is closed, which gives its memory back, before the tables
    # are cut on a fresh one.
    from kpitree.data.readers import connect

    con.close()
    cutter = connect()
    try:
        return _batch(cutter, plan, parsed, layout, layers, path)
    finally:
        cutter.close()


def _any_bad(parsed: pyarrow.Table) -> bool:
    import pyarrow.compute as pc

    return bool(pc.any(parsed.column("__bad")).as_py())


def _batch(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    parsed: pyarrow.Table,
    layout: Layout,
    layers: tuple[str, str],
    path: str,
) -> MappedBatch:
    """The canonical tables, rejects and rejected rows of a parsed file."""
    import pyarrow.compute as pc

    bad_mask = parsed.column("__bad")
    any_bad = _any_bad(parsed)
    rejects: list[Reject] = []
    rejected_rows: list[dict[str, str]] = []
    if any_bad:
        con.execute("DROP TABLE IF EXISTS bad")
        bad_table(con, plan, parsed.filter(bad_mask), layers)
        rejects = rejects_of(con, plan, path)
        rejected_rows = rejected_rows_of(con, plan.source)
        parsed = parsed.filter(pc.invert(bad_mask))
    parsed = parsed.drop_columns(["__bad"])
    con.register("parsed", parsed)
    try:
        tables = {
            name: _table_rows(con, plan, parsed, name, first, parts)
            for name, (first, parts) in layout.items()
        }
    finally:
        con.unregister("parsed")
    return MappedBatch(
        source_file=path,
        file_hash=plan.source.sha256,
        mapping_name=plan.mapping.name,
        rows_read=plan.source.rows,
        tables=tables,
        rejects=rejects,
        rejected_rows=rejected_rows,
        validated=True,
    )


# Per canonical table: its first mapping, and the row sets and columns cut from
# the parsed rows for it.
Layout = dict[str, tuple[TableMapping, list[tuple[list[RowSet | Entries], list[str]]]]]


def _parse(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    tz: str,
    *,
    dup_check: bool | None,
) -> tuple[Plan, pyarrow.Table, Layout, tuple[str, str]]:
    """Run the query: every output column, error code and ``__bad`` per source row,
    as Arrow, with plain text trimmed. ``dup_check=None``: only if needed upfront."""

    plan, layout, layers, query = plan_query(con, source, mapping, found, tz, dup_check=dup_check)
    # Chunks of one DuckDB row group each, as the warehouse writes them.
    parsed = con.sql(query).to_arrow_table(ROW_GROUP)
    names = plan.trimmed_outputs()
    if names:
        # Arrow's kernels leave the interpreter free: one thread per column.
        with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
            columns = list(pool.map(_trim, (parsed.column(n) for n in names)))
        for name, column in zip(names, columns, strict=True):
            parsed = parsed.set_column(parsed.schema.get_field_index(name), name, column)
    return plan, parsed, layout, layers


def plan_query(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    tz: str,
    *,
    dup_check: bool | None,
    formats: Callable[[Plan], None] | None = None,
) -> tuple[Plan, Layout, tuple[str, str], str]:
    """The plan, the canonical tables' layout, the text and parse layers (for the
    reject report) and the whole parse query over table ``raw``, with the value
    maps loaded as temporary tables of ``con``. ``formats(plan)`` sets the fast
    formats of the fields (instead of choosing them on ``raw``'s first rows)."""
    plan = Plan(source, mapping, found, tz)
    plan.dup_check = keys_need_check(plan) if dup_check is None else dup_check
    if formats is None:
        _detect_fast_formats(con, plan)
    else:
        formats(plan)
    raw_sql, text_sql = plan.raw_layer(), plan.text_layer()
    parse_sql = plan.parse_layer()
    for i, rule in plan.maps.items():
        value_table(con, f"vm{i}", rule)
    grouped: dict[str, list[tuple[int, TableMapping]]] = {}
    for ti, tm in enumerate(mapping.tables):
        grouped.setdefault(tm.table, []).append((ti, tm))
    layout: Layout = {
        name: (sections[0][1], [plan.sections(ti, tm) for ti, tm in sections])
        for name, sections in grouped.items()
    }
    layers = f"WITH s AS ({raw_sql}), m AS ({text_sql}), p AS ({parse_sql})"
    return plan, layout, (text_sql, parse_sql), f"{layers} {plan.final_layer()}"


def _trim(column: pyarrow.ChunkedArray) -> pyarrow.ChunkedArray:
    """Text trimmed as DuckDB's ``trim`` does, blank text as NULL. No Python values
    go into these calls: converting one makes pyarrow import pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim(column, ZS_TEXT)
    lengths = pc.binary_length(trimmed)
    shortest = pc.min(lengths).as_py()
    if shortest is None or shortest > 0:
        return trimmed
    filled = pc.cast(lengths, pa.bool_())
    return pc.if_else(filled, trimmed, pa.nulls(len(trimmed), trimmed.type))


def main_key_outputs(plan: Plan) -> list[str]:
    """The output columns of the main table's id (none: it has no key)."""
    main = plan.mapping.tables[0]
    return [
        plan.out[f"CAST({plan.vcol[f.i]} AS {cast_type(table(main.table).column(f.column).type)})"]
        for f in plan.main_key()
    ]


def _ids_repeat(con: duckdb.DuckDBPyConnection, plan: Plan, parsed: pyarrow.Table) -> bool:
    """Whether an id of the main table appears twice in the mapped rows (a count
    of distinct hashes; equal hashes are confirmed on the ids themselves). Runs
    on a cursor of its own, which it closes."""
    cols = main_key_outputs(plan)
    if not cols:
        return False
    keys = ", ".join(cols)
    notnull = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    con.register("kpitree_ids", parsed.select(cols))
    try:
        for distinct in (f"hash({keys})", f"({keys})"):
            sql = f"SELECT count(*) > count(DISTINCT {distinct}) FROM kpitree_ids WHERE {notnull}"
            if not con.sql(sql).fetchall()[0][0]:
                return False
        return True
    finally:
        con.unregister("kpitree_ids")
        con.close()


def _detect_fast_formats(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Choose, per date/timestamp source column, the :data:`FAST_FORMATS` that
    parse its first non-blank cells exactly as the general parser does (one
    query for the samples of every column, one to check the candidates)."""
    if plan.source.rows < _FAST_FROM:
        return  # the general parser is as quick, without the two queries
    wanted: dict[tuple[int, bool], list[Field]] = {}
    for f in plan.fields:
        if (
            f.sql_type in ("TIMESTAMPTZ", "DATE")
            and f.src is not None
            and not f.rule.formats  # the mapping's own formats are strptime already
            and f.rule.value_map is None
        ):
            wanted.setdefault((f.src, plan._serial(f)), []).append(f)
    if not wanted:
        return
    keys = list(wanted)
    # The first non-blank cells of each column (the limit applies first).
    samples = [
        f"SELECT * FROM (SELECT {n} AS n, {plan.clean(k)} AS x FROM raw "
        f"WHERE c{k} IS NOT NULL LIMIT {_SAMPLE_ROWS}) WHERE x IS NOT NULL"
        for n, (k, _) in enumerate(keys)
    ]
    cells: dict[int, Counter[str]] = {n: Counter() for n in range(len(keys))}
    for n, x in con.sql(" UNION ALL ".join(samples)).fetchall():
        cells[n][_shape(x)] += 1
    candidates = {
        n: sorted(
            (fmt for fmt in FAST_FORMATS if shapes.get(_FORMAT_SHAPES[fmt])),
            key=lambda fmt, shapes=shapes: -shapes[_FORMAT_SHAPES[fmt]],  # type: ignore[misc]
        )[:_MAX_FAST]
        for n, shapes in cells.items()
    }
    # Checked against the general parser: a format is used only if it gives the
    # same instant on every sample cell it reads.
    checks: list[tuple[int, str]] = []
    aggs: list[str] = []
    for n, (_, serial) in enumerate(keys):
        general = parse_timestamp("x", plan.tz, excel_serial=serial).value
        for fmt in candidates[n]:
            fast = fast_instant("x", plan.tz, fmt)
            checks.append((n, fmt))
            aggs.append(
                f"count({fast}) FILTER (WHERE n = {n}) AS r{len(aggs)}, count(*) FILTER "
                f"(WHERE n = {n} AND ({fast}) IS DISTINCT FROM ({general}) AND ({fast}) "
                f"IS NOT NULL) AS w{len(aggs)}"
            )
    found: dict[int, list[str]] = {n: [] for n in range(len(keys))}
    if aggs:
        sample = " UNION ALL ".join(samples)
        row = con.sql(f"SELECT {', '.join(aggs)} FROM ({sample})").fetchall()[0]
        for i, (n, fmt) in enumerate(checks):
            if row[2 * i] and not row[2 * i + 1]:
                found[n].append(fmt)
    for n, key in enumerate(keys):
        for f in wanted[key]:
            f.fast = tuple(found[n])


def _shape(text: str) -> str:
    """Digits runs as ``9`` and a trailing offset as ``%z``: ``2026/1/7 9:05`` ->
    ``9/9/9 9:9``, the same shape as the format ``%Y/%m/%d %H:%M``."""
    return _ZONE.sub("%z", _DIGITS.sub("9", text))


_DIGITS = re.compile(r"\d+")


_ZONE = re.compile(r"(?<=9)[+-]9(:9)?$")


_FORMAT_SHAPES = {fmt: re.sub(r"%[YmdHMSf]", "9", fmt) for fmt in FAST_FORMATS}
