"""Reporting the rejected rows of a parsed file: their error codes are computed
again for those rows only (table ``bad``), then each bad cell becomes a located
:class:`~kpitree.data.batch.Reject` with its message, and each rejected row its
original text (to write back out for fixing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.data.batch import Reject
from kpitree.data.fields import ALLOWED_VALUES, Field
from kpitree.data.query import Plan
from kpitree.data.values import MAX_EXACT
from kpitree.i18n import Msg

if TYPE_CHECKING:
    import duckdb
    import pyarrow

    from kpitree.data.readers import SourceTable

__all__ = ["bad_table", "rejected_rows_of", "rejects_of"]

_RANGES = {
    "INTEGER": ("-2,147,483,648", "2,147,483,647"),
    "BIGINT": (f"-{MAX_EXACT:,}", f"{MAX_EXACT:,}"),
    "DOUBLE": (f"-{MAX_EXACT:,}", f"{MAX_EXACT:,}"),
}


def _reason(
    code: str,
    f: Field | None,
    value: str | None,
    first_row: int | None = None,
    plan: Plan | None = None,
) -> Msg:
    target = f.header or f"{f.table}.{f.column}" if f else ""
    params: dict[str, Any] = {"value": value or "", "target": target}
    if code == "out_of_range" and f is not None:
        params["low"], params["high"] = _RANGES.get(f.sql_type, ("", ""))
    if code == "date_out_of_range" and plan is not None:
        params["earliest"], params["latest"] = (d.isoformat() for d in plan.date_range())
    if code == "unmapped" and f is not None:
        params["map"] = f.rule.map_name or ""
    if code == "not_allowed" and f is not None:
        params["allowed"] = ", ".join(ALLOWED_VALUES.get((f.table, f.column), ()))
    if first_row is not None:
        params["first_row"] = first_row
    return Msg(f"data.reject.{code}", params)


def bad_table(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    bad: pyarrow.Table | None,
    layers: tuple[str, str],
) -> None:
    """Temp table ``bad``: the rejected rows' output columns, error codes and raw
    text. The error codes are computed again, for these rows only. ``bad``: the
    rejected rows of the parse query (None: they are table ``kpitree_bad_rows``)."""
    text_sql, parse_sql = layers
    cols = ", ".join(f"c{k}" for k in range(len(plan.source.headers)))
    if bad is not None:
        con.register("kpitree_bad_rows", bad)
    try:
        errors = (
            f"WITH s AS ({plan.raw_layer(only_bad=True)}), m AS ({text_sql}), "
            f"p AS ({parse_sql}) {plan.error_layer()}"
        )
        con.execute(
            f"CREATE TEMP TABLE bad AS SELECT b.*, e.* EXCLUDE (__row__), {cols} "
            f"FROM kpitree_bad_rows b JOIN ({errors}) e USING (__row__) JOIN "
            f"(SELECT {plan.source.row_sql} AS __raw_row__, {cols} FROM raw) r "
            "ON r.__raw_row__ = b.__row__"
        )
    finally:
        if bad is not None:
            con.unregister("kpitree_bad_rows")


def rejects_of(con: duckdb.DuckDBPyConnection, plan: Plan, path: str) -> list[Reject]:
    parts = []
    for f in plan.fields:
        raw = f"nullif(trim(c{f.src}), '')" if f.src is not None else "NULL"
        if f.i in plan.checked:
            parts.append(
                f"SELECT __row__, {f.i} AS f, e{f.i} AS code, {raw} AS value, NULL AS first "
                f"FROM bad WHERE e{f.i} IS NOT NULL"
            )
    pk = plan.main_key()
    id_field = pk[0] if pk else None
    if id_field is not None and plan.dup_check:
        if id_field.src is not None:
            raw = f"nullif(trim(c{id_field.src}), '')"
        else:
            raw = plan.out.get(f"CAST({plan.vcol[id_field.i]} AS VARCHAR)", "NULL")
        parts.append(
            f"SELECT __row__, {id_field.i} AS f, 'duplicate_id' AS code, {raw} AS value, "
            "dup AS first FROM bad WHERE dup IS NOT NULL"
        )
    if not parts:
        return []
    rows = con.sql(" UNION ALL ".join(parts) + " ORDER BY __row__, f").fetchall()
    out = []
    seen: set[tuple[int, str]] = set()
    for row, fi, code, value, first in rows:
        f = plan.fields[fi]
        # One source cell may feed several tables (a date here, a time there);
        # report it once, with the first field's reason.
        key = (int(row), f.header or f"{f.table}.{f.column}")
        if key not in seen:
            seen.add(key)
            why = _reason(code, f, value, first, plan)
            out.append(Reject(path, int(row), f.header, value, why.render(), why))
    return out


def rejected_rows_of(con: duckdb.DuckDBPyConnection, source: SourceTable) -> list[dict[str, str]]:
    own = source.headers[: source.source_columns]  # not the columns added for the mapping
    cols = ", ".join(f"c{k}" for k in range(len(own)))
    rows = con.sql(f"SELECT __row__, {cols} FROM bad ORDER BY __row__").fetchall()
    out = []
    for row in rows:
        record = {"__row__": str(row[0])}
        for k, h in enumerate(own):
            record.setdefault(h or f"column {k + 1}", row[k + 1] or "")
        out.append(record)
    return out
