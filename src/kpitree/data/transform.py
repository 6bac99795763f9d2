"""Applying a mapping to a loaded source table, as a few set-based SQL statements.

The statements, each over all rows at once:

1. ``s``: raw text of every source column, trimmed, blanks (and the mapping's
   ``null_values``) as NULL, with the Excel row number.
2. ``m``: each mapped field's text after value maps, constants and defaults
   (value maps are small tables joined on the lower-cased text).
3. ``p``: each field parsed to its canonical type (:mod:`kpitree.data.values`).
4. ``parsed`` (materialised): one error code per field, and the duplicate-id
   check; a row with any error is rejected whole, in every table it feeds.

Canonical tables are then selected from ``parsed``: the first table of the
mapping has one row per accepted source row; the others (accounts, reps, ... seen
on many rows) keep the last row per primary key; stage histories are unpivoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.data.batch import MappedBatch, Reject
from kpitree.data.mapping import HISTORY_TABLES, ColumnRule, Mapping, TableMapping
from kpitree.data.schema import arrow_schema, table
from kpitree.data.values import (
    ParsedExpr,
    parse_date,
    parse_integer,
    parse_number,
    parse_text,
    parse_timestamp,
    sql_str,
)
from kpitree.i18n import t

if TYPE_CHECKING:
    import duckdb
    import pyarrow

    from kpitree.data.readers import SourceTable

__all__ = ["apply_mapping"]

# Canonical columns whose values are a closed set.
_ALLOWED = {
    ("deals", "status"): ("open", "won", "lost"),
    ("contracts", "status"): ("active", "renewed", "churned", "ended"),
    ("activities", "type"): ("call", "email", "meeting", "other"),
}
_MONEY = ("amount", "mrr", "arr")


@dataclass
class _Field:
    i: int
    table: str
    column: str
    rule: ColumnRule
    sql_type: str
    src: int | None
    header: str | None
    required: bool = False


def _pick(rule: ColumnRule, found: dict[str, int]) -> tuple[int | None, str | None]:
    for h in rule.headers:
        if h in found:
            return found[h], h
    return None, None


class _Plan:
    def __init__(self, source: SourceTable, mapping: Mapping, found: dict[str, int], tz: str):
        self.source = source
        self.mapping = mapping
        self.found = found
        self.tz = tz
        self.fields: list[_Field] = []
        self.maps: dict[int, ColumnRule] = {}
        # (table mapping index, canonical column) -> field, and stage fields.
        self.by_col: dict[tuple[int, str], _Field] = {}
        self.by_stage: dict[tuple[int, str], _Field] = {}
        self.used: set[int] = set()
        self.checked: set[int] = set()  # fields with an error column
        self.attrs: set[int] = set()  # table mappings with an attributes column
        self.dup_check = False  # whether the main table's ids may repeat
        for ti, tm in enumerate(mapping.tables):
            self._add_table(ti, tm)

    def _field(self, table_name: str, column: str, rule: ColumnRule, sql_type: str) -> _Field:
        src, header = _pick(rule, self.found)
        f = _Field(len(self.fields), table_name, column, rule, sql_type, src, header)
        if src is not None:
            self.used.add(src)
        self.fields.append(f)
        return f

    def _add_table(self, ti: int, tm: TableMapping) -> None:
        tbl = table(tm.table)
        for col, rule in tm.columns.items():
            f = self._field(tm.table, col, rule, tbl.column(col).type)
            nonnull = not tbl.column(col).nullable
            f.required = tm.main and nonnull
            self.by_col[(ti, col)] = f
        for col, value in self.mapping.defaults.items():
            if col in tbl.column_names and col not in tm.columns:
                rule = ColumnRule(value=value)
                self.by_col[(ti, col)] = self._field(tm.table, col, rule, tbl.column(col).type)
        for stage, rule in tm.stages.items():
            self.by_stage[(ti, stage)] = self._field(tm.table, "entered_at", rule, "TIMESTAMPTZ")

    # -- SQL per layer -----------------------------------------------------------
    def raw_layer(self) -> str:
        extra = self.mapping.source.null_values
        cols = [f"{self.source.row_sql} AS __row__"]
        for k in range(len(self.source.headers)):
            if extra:
                nulls = ", ".join(sql_str(v) for v in ("", *extra))
                cols.append(
                    f"CASE WHEN trim(c{k}) IN ({nulls}) THEN NULL ELSE trim(c{k}) END AS r{k}"
                )
            else:
                cols.append(f"nullif(trim(c{k}), '') AS r{k}")
        return f"SELECT {', '.join(cols)} FROM raw"

    def text_layer(self) -> str:
        cols = ["s.*"]
        joins = []
        for f in self.fields:
            rule = f.rule
            x = "NULL" if f.src is None else f"s.r{f.src}"
            if rule.value is not None:
                x = sql_str(rule.value)
            if rule.value_map is not None and f.src is not None:
                self.maps[f.i] = rule
                joins.append(f"LEFT JOIN vm{f.i} ON vm{f.i}.k = lower({x})")
                if rule.else_value is not None:
                    miss = sql_str(rule.else_value)
                else:
                    miss = {"keep": x}.get(rule.unmapped, "NULL")
                x = (
                    f"CASE WHEN {x} IS NULL THEN NULL WHEN vm{f.i}.k IS NOT NULL THEN vm{f.i}.v "
                    f"ELSE {miss} END"
                )
                if rule.unmapped == "reject" and rule.else_value is None:
                    cols.append(f"(s.r{f.src} IS NOT NULL AND vm{f.i}.k IS NULL) AS u{f.i}")
            if rule.default is not None:
                x = f"coalesce({x}, {sql_str(rule.default)})"
            cols.append(f"{x} AS t{f.i}")
        return f"SELECT {', '.join(cols)} FROM s {' '.join(joins)}"

    def _parser(self, f: _Field) -> ParsedExpr:
        x = f"t{f.i}"
        serial = f.rule.excel_serial
        if serial is None:
            serial = self.mapping.source.excel_serial_dates or self.source.is_xlsx
        if f.sql_type == "TIMESTAMPTZ":
            return parse_timestamp(x, self.tz, f.rule.formats, excel_serial=serial)
        if f.sql_type == "DATE":
            return parse_date(x, self.tz, f.rule.formats, excel_serial=serial)
        if f.sql_type == "DOUBLE":
            return parse_number(x)
        if f.sql_type in ("BIGINT", "INTEGER"):
            return parse_integer(x, f.sql_type)
        return parse_text(x)

    def parse_layer(self) -> str:
        cols = ["m.*"]
        for f in self.fields:
            p = self._parser(f)
            value = p.value
            if (f.table, f.column) in _ALLOWED:
                value = f"lower({value})"
            cols.append(f"{value} AS v{f.i}")
            if f.column in _MONEY and p.currency:
                cols.append(f"{p.currency} AS cur{f.i}")
        return f"SELECT {', '.join(cols)} FROM m"

    def error_layer(self) -> str:
        cols = ["__row__"]
        for ti, tm in enumerate(self.mapping.tables):
            attrs = self._attributes(tm)
            if attrs is not None and "attributes" in table(tm.table).column_names:
                cols.append(f"{attrs} AS a{ti}")
                self.attrs.add(ti)
        cols += [f"v{f.i}" for f in self.fields]
        cols += [f"cur{f.i}" for f in self.fields if f.column in _MONEY]
        bad = []
        for f in self.fields:
            p = self._parser(f)
            cases = []
            if f.i in self.maps and f.rule.unmapped == "reject" and f.rule.else_value is None:
                cases.append(f"WHEN u{f.i} THEN 'unmapped'")
            if p.error:
                cases.append(f"WHEN t{f.i} IS NOT NULL AND v{f.i} IS NULL THEN '{p.error}'")
            if f.required:
                cases.append(f"WHEN v{f.i} IS NULL THEN 'required'")
            allowed = _ALLOWED.get((f.table, f.column))
            if allowed:
                options = ", ".join(sql_str(a) for a in allowed)
                cases.append(f"WHEN v{f.i} NOT IN ({options}) THEN 'not_allowed'")
            if cases:
                cols.append(f"CASE {' '.join(cases)} END AS e{f.i}")
                bad.append(f"e{f.i} IS NOT NULL")
                self.checked.add(f.i)
        main = self.mapping.tables[0]
        dup = "NULL"
        if main.table not in HISTORY_TABLES:
            pk = [
                self.by_col[(0, c)] for c in table(main.table).primary_key if (0, c) in self.by_col
            ]
            if pk and self.dup_check:
                part = ", ".join(f"v{f.i}" for f in pk)
                notnull = " AND ".join(f"v{f.i} IS NOT NULL" for f in pk)
                dup = (
                    f"CASE WHEN {notnull} AND row_number() OVER (PARTITION BY {part} "
                    f"ORDER BY __row__) > 1 THEN min(__row__) OVER (PARTITION BY {part}) END"
                )
        cols.append(f"{dup} AS dup")
        bad.append("dup IS NOT NULL")
        cols.append(f"({' OR '.join(bad)}) AS __bad")
        return f"SELECT {', '.join(cols)} FROM p"

    # -- canonical tables --------------------------------------------------------
    def _attributes(self, tm: TableMapping) -> str | None:
        if tm.attributes == "none":
            return None
        if tm.attributes == "rest":
            mapped = {f.src for f in self.fields if f.src is not None}
            idx = [k for k in range(len(self.source.headers)) if k not in mapped]
        else:
            idx = [self.found[h] for h in tm.attributes if h in self.found]
        if not idx:
            return None
        seen: dict[str, int] = {}
        parts = []
        for k in idx:
            key = self.source.headers[k] or f"column {k + 1}"
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key = f"{key} ({seen[key]})"
            parts.append(f"{sql_str(key)}, r{k}")
        return f"CAST(json_object({', '.join(parts)}) AS VARCHAR)"

    def select(self, ti: int, tm: TableMapping) -> tuple[list[str], list[str]]:
        """SELECT statements (one per row set) and the output columns."""
        tbl = table(tm.table)
        if tm.table in HISTORY_TABLES:
            id_col = HISTORY_TABLES[tm.table]
            cols = [id_col, "stage", "entered_at"]
            idv = f"v{self.by_col[(ti, id_col)].i}"
            out = []
            for (tj, stage), f in self.by_stage.items():
                if tj == ti:
                    out.append(
                        f"SELECT __row__, {idv} AS {id_col}, {sql_str(stage)} AS stage, "
                        f"v{f.i} AS entered_at FROM parsed WHERE NOT __bad "
                        f"AND {idv} IS NOT NULL AND v{f.i} IS NOT NULL"
                    )
            if (ti, "stage") in self.by_col:
                sv, ev = (f"v{self.by_col[(ti, c)].i}" for c in ("stage", "entered_at"))
                out.append(
                    f"SELECT __row__, {idv} AS {id_col}, {sv} AS stage, {ev} AS entered_at "
                    f"FROM parsed WHERE NOT __bad AND {idv} IS NOT NULL AND {sv} IS NOT NULL "
                    f"AND {ev} IS NOT NULL"
                )
            return out, cols
        exprs: dict[str, str] = {}
        for c in tbl.column_names:
            found_field = self.by_col.get((ti, c))
            if found_field is not None:
                exprs[c] = f"v{found_field.i}"
        if "currency" in tbl.column_names and "currency" not in tm.columns:
            money = [self.by_col[(ti, m)] for m in _MONEY if (ti, m) in self.by_col]
            found = [f"cur{f.i}" for f in money if f.src is not None]
            if found:
                exprs["currency"] = f"coalesce({', '.join(found)}, {exprs.get('currency', 'NULL')})"
        if ti in self.attrs:
            exprs["attributes"] = f"a{ti}"
        cols = [c for c in tbl.column_names if c in exprs]
        where = ["NOT __bad"]
        if not tm.main:
            where += [
                f"{exprs[c.name]} IS NOT NULL"
                for c in tbl.columns
                if not c.nullable and c.name in exprs
            ]
        body = ", ".join(f"CAST({exprs[c]} AS {_cast(tbl.column(c).type)}) AS {c}" for c in cols)
        return [f"SELECT __row__, {body} FROM parsed WHERE {' AND '.join(where)}"], cols


def _cast(sql_type: str) -> str:
    return "VARCHAR" if sql_type == "JSON" else sql_type


def _value_table(con: duckdb.DuckDBPyConnection, name: str, rule: ColumnRule) -> None:
    import pyarrow as pa

    vmap = rule.value_map or {}
    data = pa.table(
        {"k": pa.array(list(vmap), pa.string()), "v": pa.array(list(vmap.values()), pa.string())}
    )
    con.register(f"{name}_src", data)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_src")
    con.unregister(f"{name}_src")


def _reason(code: str, f: _Field | None, value: str | None, first_row: int | None = None) -> str:
    target = f.header or f"{f.table}.{f.column}" if f else ""
    params: dict[str, Any] = {"value": value or "", "target": target}
    if code == "unmapped" and f is not None:
        params["map"] = f.rule.map_name or ""
    if code == "not_allowed" and f is not None:
        params["allowed"] = ", ".join(_ALLOWED.get((f.table, f.column), ()))
    if first_row is not None:
        params["first_row"] = first_row
    return t(f"data.reject.{code}", **params)


def apply_mapping(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    path: str,
    tz: str,
) -> MappedBatch:
    """Map table ``raw`` (see :mod:`kpitree.data.readers`) to a :class:`MappedBatch`."""
    plan = _Plan(source, mapping, found, tz)
    plan.dup_check = _ids_may_repeat(con, plan)
    text_sql = plan.text_layer()
    for i, rule in plan.maps.items():
        _value_table(con, f"vm{i}", rule)
    con.execute(
        f"CREATE TEMP TABLE parsed AS WITH s AS ({plan.raw_layer()}), m AS ({text_sql}), "
        f"p AS ({plan.parse_layer()}) {plan.error_layer()}"
    )
    # The few rejected rows, with their raw text, for the reports.
    cols = ", ".join(f"c{k}" for k in range(len(source.headers)))
    con.execute(
        f"CREATE TEMP TABLE bad AS SELECT p.*, {cols} FROM parsed p JOIN "
        f"(SELECT {source.row_sql} AS __raw_row__, {cols} FROM raw) r "
        "ON r.__raw_row__ = p.__row__ WHERE p.__bad"
    )
    rejects = _rejects(con, plan, path)
    rejected_rows = _rejected_rows(con, source)
    tables: dict[str, pyarrow.Table] = {}
    grouped: dict[str, list[tuple[int, TableMapping]]] = {}
    for ti, tm in enumerate(mapping.tables):
        grouped.setdefault(tm.table, []).append((ti, tm))
    for name, sections in grouped.items():
        tables[name] = _table_rows(con, plan, name, sections)
    return MappedBatch(
        source_file=path,
        file_hash=source.sha256,
        mapping_name=mapping.name,
        rows_read=source.rows,
        tables=tables,
        rejects=rejects,
        rejected_rows=rejected_rows,
    )


def _table_rows(
    con: duckdb.DuckDBPyConnection, plan: _Plan, name: str, sections: list[tuple[int, TableMapping]]
) -> pyarrow.Table:
    import pyarrow as pa

    selects: list[str] = []
    all_cols: list[str] = []
    per_section = []
    for ti, tm in sections:
        section_sqls, cols = plan.select(ti, tm)
        per_section.append((section_sqls, cols))
        all_cols += [c for c in cols if c not in all_cols]
    for sqls, section_cols in per_section:
        for sql in sqls:
            pad = ", ".join(c if c in section_cols else f"NULL AS {c}" for c in all_cols)
            selects.append(f"SELECT __row__, {pad} FROM ({sql})")
    schema = arrow_schema(name, all_cols)
    if not selects:
        return schema.empty_table()
    union = " UNION ALL BY NAME ".join(selects)
    pk = ", ".join(table(name).primary_key)
    main = sections[0][1].main and name not in HISTORY_TABLES
    if main and len(selects) == 1:
        # Rows come in file order unless the duplicate check reordered them.
        order = " ORDER BY __row__" if plan.dup_check else ""
        query = f"SELECT {', '.join(all_cols)} FROM ({union}){order}"
    elif name in HISTORY_TABLES:
        # Every column is in the key: identical entries are the same entry.
        query = f"SELECT DISTINCT {', '.join(all_cols)} FROM ({union}) ORDER BY {pk}"
    else:
        # The same account/rep/stage entry appears on many rows: keep the last.
        query = (
            f"SELECT {', '.join(all_cols)} FROM ({union}) QUALIFY row_number() OVER "
            f"(PARTITION BY {pk} ORDER BY __row__ DESC) = 1 ORDER BY {pk}"
        )
    result = con.sql(query).to_arrow_table()
    return pa.Table.from_batches(result.cast(schema).to_batches(), schema)


def _rejects(con: duckdb.DuckDBPyConnection, plan: _Plan, path: str) -> list[Reject]:
    parts = []
    for f in plan.fields:
        raw = f"nullif(trim(c{f.src}), '')" if f.src is not None else "NULL"
        if f.i in plan.checked:
            parts.append(
                f"SELECT __row__, {f.i} AS f, e{f.i} AS code, {raw} AS value, NULL AS first "
                f"FROM bad WHERE e{f.i} IS NOT NULL"
            )
    main = plan.mapping.tables[0]
    pk = table(main.table).primary_key
    id_field = plan.by_col.get((0, pk[0])) if main.table not in HISTORY_TABLES else None
    if id_field is not None:
        raw = (
            f"nullif(trim(c{id_field.src}), '')"
            if id_field.src is not None
            else f"CAST(v{id_field.i} AS VARCHAR)"
        )
        parts.append(
            f"SELECT __row__, {id_field.i} AS f, 'duplicate_id' AS code, {raw} AS value, "
            "dup AS first FROM bad WHERE dup IS NOT NULL"
        )
    if not parts:
        return []
    rows = con.sql(" UNION ALL ".join(parts) + " ORDER BY __row__, f").fetchall()
    out = []
    seen: set[tuple[int, str | None, str]] = set()
    for row, fi, code, value, first in rows:
        f = plan.fields[fi]
        # One source cell may feed several tables; report it once.
        key = (int(row), f.header or f"{f.table}.{f.column}", code)
        if key not in seen:
            seen.add(key)
            out.append(Reject(path, int(row), f.header, value, _reason(code, f, value, first)))
    return out


def _rejected_rows(con: duckdb.DuckDBPyConnection, source: SourceTable) -> list[dict[str, str]]:
    cols = ", ".join(f"c{k}" for k in range(len(source.headers)))
    rows = con.sql(f"SELECT __row__, {cols} FROM bad ORDER BY __row__").fetchall()
    out = []
    for row in rows:
        record = {"__row__": str(row[0])}
        for k, h in enumerate(source.headers):
            record.setdefault(h or f"column {k + 1}", row[k + 1] or "")
        out.append(record)
    return out


def _ids_may_repeat(con: duckdb.DuckDBPyConnection, plan: _Plan) -> bool:
    """Whether the main table's primary key may repeat in the file: a cheap count
    on the raw text decides if the costly per-row duplicate check is needed."""
    main = plan.mapping.tables[0]
    if main.table in HISTORY_TABLES:
        return False
    pk = [plan.by_col.get((0, c)) for c in table(main.table).primary_key]
    if any(f is None or f.src is None or f.rule.value_map is not None for f in pk):
        return True
    keys = ", ".join(f"nullif(trim(c{f.src}), '')" for f in pk if f is not None)
    sql = f"SELECT count(*) > count(DISTINCT ({keys})) FROM raw WHERE ({keys}) IS NOT NULL"
    return bool(con.sql(sql).fetchall()[0][0])
