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
it: the first table of the mapping (one row per accepted source row) and stage
histories given as one column per stage are plain Arrow operations; other
tables (accounts, reps, ... seen on many rows, keeping the last row per primary
key) and stage histories that may repeat go through SQL over that Arrow table.

Repeated ids are looked for after the query (a count of distinct hashes); only
a file that has some is parsed again with the per-row check that names them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.data.batch import MappedBatch, Reject
from kpitree.data.mapping import HISTORY_TABLES, ColumnRule, Mapping, TableMapping
from kpitree.data.schema import arrow_schema, table
from kpitree.data.values import (
    FAST_FORMATS,
    MAX_EXACT,
    ParsedExpr,
    fast_instant,
    parse_date,
    parse_integer,
    parse_number,
    parse_text,
    parse_timestamp,
    sql_str,
)
from kpitree.errors import InternalError
from kpitree.i18n import Msg

if TYPE_CHECKING:
    import duckdb
    import pyarrow

    from kpitree.data.readers import SourceTable

__all__ = ["apply_mapping", "int_array", "string_array"]

# Canonical columns whose values are a closed set.
_ALLOWED = {
    ("deals", "status"): ("open", "won", "lost"),
    ("contracts", "status"): ("active", "renewed", "churned", "ended"),
    ("activities", "type"): ("call", "email", "meeting", "other"),
}
_MONEY = ("amount", "mrr", "arr")
# What DuckDB's trim() removes: the Unicode space separators (Zs), e.g. U+3000.
_ZS = (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)
_ZS_CODES = ", ".join(str(c) for c in _ZS)
_ZS_TEXT = "".join(chr(c) for c in _ZS)
ROW_GROUP = 122_880  # rows per DuckDB row group
_SAMPLE_ROWS = 1000  # cells per column on which the fast date format is chosen
_MAX_FAST = 2  # fast formats tried per column before the general parser


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
    fast: tuple[str, ...] = ()
    """Formats that read this column's text cheaply (detected on a sample)."""


@dataclass
class _RowSet:
    """Rows of a non-history table from one mapping section: canonical column ->
    output column of the query."""

    cols: dict[str, str]
    required: list[str] = field(default_factory=list)
    """Output columns that must be present (rows of other tables without a key)."""


@dataclass
class _Entries:
    """Stage entries of a history table: the id, the stage (a constant name for a
    "wide" stage column, else an output column) and when it was entered."""

    id: str
    at: str
    stage_name: str | None = None
    stage_col: str | None = None


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
        self.checked: set[int] = set()  # fields with an error column
        self.as_is: set[int] = set()  # source columns kept untrimmed (raw_text_columns)
        self.untrimmed: set[int] = set()  # source columns trimmed in Arrow
        self.dup_check = False  # whether the main table's ids may repeat
        # Columns shared by fields that read the same text the same way.
        self.tcol: dict[int, str] = {}
        self.vcol: dict[int, str] = {}
        self.curcol: dict[int, str] = {}
        # Output columns of the query: SQL expression -> name.
        self.out: dict[str, str] = {}
        for ti, tm in enumerate(mapping.tables):
            self._add_table(ti, tm)

    def _field(self, table_name: str, column: str, rule: ColumnRule, sql_type: str) -> _Field:
        src, header = _pick(rule, self.found)
        f = _Field(len(self.fields), table_name, column, rule, sql_type, src, header)
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

    def _serial(self, f: _Field) -> bool:
        if f.rule.excel_serial is not None:
            return f.rule.excel_serial
        return self.mapping.source.excel_serial_dates or self.source.is_xlsx

    def attribute_columns(self, tm: TableMapping) -> list[int]:
        if tm.attributes == "none":
            return []
        if tm.attributes == "rest":
            mapped = {f.src for f in self.fields if f.src is not None}
            return [k for k in range(len(self.source.headers)) if k not in mapped]
        return [self.found[h] for h in tm.attributes if h in self.found]

    def used_columns(self) -> list[int]:
        used = {f.src for f in self.fields if f.src is not None}
        for tm in self.mapping.tables:
            if "attributes" in table(tm.table).column_names:
                used.update(self.attribute_columns(tm))
        return sorted(used)

    def clean(self, k: int, column: str | None = None) -> str:
        """SQL for the text of raw column ``k``: trimmed, blank as NULL."""
        return self._blank(f"trim({column or f'c{k}'})")

    def _blank(self, trimmed: str) -> str:
        extra = self.mapping.source.null_values
        if extra:
            nulls = ", ".join(sql_str(v) for v in ("", *extra))
            return f"CASE WHEN {trimmed} IN ({nulls}) THEN NULL ELSE {trimmed} END"
        return f"nullif({trimmed}, '')"

    def raw_text_columns(self) -> set[int]:
        """Source columns read only by fast date parsers, which take the text as
        it is (``strptime`` skips surrounding spaces): trimming every cell of
        them would cost more than parsing. The trimmed text is then computed only
        for the cells the fast formats do not read."""
        if self.mapping.source.null_values:
            return set()  # a null value like 1900/01/01 must not be parsed
        plain = set(self.used_columns())
        for f in self.fields:
            if f.src is not None and not (f.fast and _plain(f.rule)):
                plain.discard(f.src)
        for tm in self.mapping.tables:
            if "attributes" in table(tm.table).column_names:
                plain -= set(self.attribute_columns(tm))
        return plain

    def arrow_text_columns(self) -> set[int]:
        """Source columns read only as plain text (ids, names, channels): they are
        trimmed after the query, in Arrow, which costs a fraction of DuckDB's
        ``trim`` on every cell. Not when the text is compared inside the query
        (value maps, closed sets, the per-row duplicate check, currency)."""
        if self.mapping.source.null_values:
            return set()
        plain = set(self.used_columns()) - self.raw_text_columns()
        key = {f.i for f in self.main_key()} if self.dup_check else set()
        for f in self.fields:
            if f.src is not None and not (
                _plain(f.rule)
                and f.sql_type == "VARCHAR"
                and (f.table, f.column) not in _ALLOWED
                and f.column != "currency"
                and f.i not in key
            ):
                plain.discard(f.src)
        for tm in self.mapping.tables:
            if "attributes" in table(tm.table).column_names:
                plain -= set(self.attribute_columns(tm))
        return plain

    def trimmed_outputs(self) -> list[str]:
        """Output columns to trim in Arrow (see :meth:`arrow_text_columns`)."""
        vcols = {self.vcol[f.i] for f in self.fields if f.src in self.untrimmed}
        out = []
        for expr, name in self.out.items():
            used = {v for v in vcols if re.search(rf"\b{v}\b", expr)}
            if not used:
                continue
            if expr not in {f"CAST({v} AS VARCHAR)" for v in used}:
                raise InternalError(f"untrimmed text used in an expression: {expr}")
            out.append(name)
        return out

    def blank(self, f: _Field, vc: str) -> str:
        """SQL: the field's value is blank (NULL, or only spaces while untrimmed)."""
        if f.src not in self.untrimmed:
            return f"{vc} IS NULL"
        return f"({vc} IS NULL OR {vc} = '' OR (ord({vc}) IN ({_ZS_CODES}) AND trim({vc}) = ''))"

    # -- SQL per layer -----------------------------------------------------------
    def raw_layer(self, *, only_bad: bool = False) -> str:
        """``only_bad``: just the rows listed in the registered ``kpitree_bad_rows``."""
        # Trimmed in an inner query, so that "blank as NULL" does not trim twice.
        as_is = self.raw_text_columns()
        self.untrimmed = self.arrow_text_columns()
        inner = [f"{self.source.row_sql} AS __row__"]
        outer = ["__row__"]
        for k in self.used_columns():
            if k in as_is or k in self.untrimmed:
                inner.append(f"c{k} AS w{k}")
                outer.append(f"w{k}")
            else:
                inner.append(f"trim(c{k}) AS q{k}")
                outer.append(f"{self._blank(f'q{k}')} AS r{k}")
        where = ""
        if only_bad:
            where = f" WHERE {self.source.row_sql} IN (SELECT __row__ FROM kpitree_bad_rows)"
        return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM raw{where})"

    def text_layer(self) -> str:
        cols = ["s.*"]
        joins = []
        seen: dict[str, str] = {}
        self.as_is = self.raw_text_columns()
        for f in self.fields:
            rule = f.rule
            x = "NULL" if f.src is None else f"s.r{f.src}"
            if f.src in self.as_is or f.src in self.untrimmed:
                x = f"s.w{f.src}"
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
            if x in seen:  # the same text as an earlier field: one column
                self.tcol[f.i] = seen[x]
                continue
            if f.src in self.as_is:
                # Computed where needed, for the cells the fast parser leaves.
                seen[x] = self.tcol[f.i] = self.clean(f.src, f"w{f.src}")
                continue
            seen[x] = self.tcol[f.i] = f"t{f.i}"
            cols.append(f"{x} AS t{f.i}")
        return f"SELECT {', '.join(cols)} FROM s {' '.join(joins)}"

    def _parser(self, f: _Field) -> ParsedExpr:
        x = self.tcol[f.i]
        serial = self._serial(f)
        raw = f"w{f.src}" if f.src in self.as_is else None
        if f.sql_type == "TIMESTAMPTZ":
            return parse_timestamp(
                x, self.tz, f.rule.formats, excel_serial=serial, fast=f.fast, fast_x=raw
            )
        if f.sql_type == "DATE":
            return parse_date(
                x, self.tz, f.rule.formats, excel_serial=serial, fast=f.fast, fast_x=raw
            )
        if f.sql_type == "DOUBLE":
            return parse_number(x)
        if f.sql_type in ("BIGINT", "INTEGER"):
            return parse_integer(x, f.sql_type)
        return parse_text(x)

    def parse_layer(self) -> str:
        cols = ["m.*"]
        seen: dict[str, str] = {}
        for f in self.fields:
            p = self._parser(f)
            value = p.value
            if (f.table, f.column) in _ALLOWED:
                value = f"lower({value})"
            if value in seen:
                self.vcol[f.i] = seen[value]
            else:
                seen[value] = self.vcol[f.i] = f"v{f.i}"
                cols.append(f"{value} AS v{f.i}")
            if f.column in _MONEY and p.currency and f.src is not None:
                if p.currency in seen:
                    self.curcol[f.i] = seen[p.currency]
                else:
                    seen[p.currency] = self.curcol[f.i] = f"cur{f.i}"
                    cols.append(f"{p.currency} AS cur{f.i}")
        return f"SELECT {', '.join(cols)} FROM m"

    def output(self, expr: str) -> str:
        """The name of the output column computing ``expr`` (added once)."""
        if expr not in self.out:
            self.out[expr] = f"o{len(self.out)}"
        return self.out[expr]

    def error_columns(self) -> list[str]:
        """SQL for one error-code column ``e<i>`` per checked field (NULL: fine)."""
        cols = []
        for f in self.fields:
            p = self._parser(f)
            tc, vc = self.tcol[f.i], self.vcol[f.i]
            cases = []
            if f.i in self.maps and f.rule.unmapped == "reject" and f.rule.else_value is None:
                cases.append(f"WHEN u{f.i} THEN 'unmapped'")
            if f.sql_type in ("BIGINT", "INTEGER"):
                # A whole number the type cannot hold (or a DOUBLE not exactly).
                n = parse_number(tc).value
                cases.append(
                    f"WHEN {vc} IS NULL AND {tc} IS NOT NULL AND ({n}) = floor({n}) "
                    "THEN 'out_of_range'"
                )
            if p.error:
                # The value first: the text is only looked at where it is NULL.
                cases.append(f"WHEN {vc} IS NULL AND {tc} IS NOT NULL THEN '{p.error}'")
            cases += self._range_cases(f, vc)
            if f.required:
                cases.append(f"WHEN {self.blank(f, vc)} THEN 'required'")
            allowed = _ALLOWED.get((f.table, f.column))
            if allowed:
                options = ", ".join(sql_str(a) for a in allowed)
                cases.append(f"WHEN {vc} NOT IN ({options}) THEN 'not_allowed'")
            if cases:
                cols.append(f"CASE {' '.join(cases)} END AS e{f.i}")
                self.checked.add(f.i)
        return cols

    def _range_cases(self, f: _Field, vc: str) -> list[str]:
        """Values that parsed but are outside what is accepted: numbers beyond
        :data:`MAX_EXACT` (and infinity, NaN), dates outside the mapping's range."""
        if f.sql_type == "DOUBLE":
            return [f"WHEN {vc} IS NOT NULL AND NOT (abs({vc}) <= {MAX_EXACT}) THEN 'out_of_range'"]
        if f.sql_type not in ("DATE", "TIMESTAMPTZ"):
            return []
        lo, hi = self.date_range()
        if f.sql_type == "DATE":
            low, high = f"DATE '{lo.isoformat()}'", f"DATE '{hi.isoformat()}'"
            outside = f"({vc} < {low} OR {vc} > {high})"
        else:
            low, high = (_local_midnight(d, self.tz) for d in (lo, hi + dt.timedelta(days=1)))
            outside = f"({vc} < TIMESTAMPTZ '{low}' OR {vc} >= TIMESTAMPTZ '{high}')"
        return [f"WHEN {vc} IS NOT NULL AND {outside} THEN 'date_out_of_range'"]

    def date_range(self) -> tuple[dt.date, dt.date]:
        return self.mapping.source.earliest_date, self.mapping.source.latest_date

    def final_layer(self) -> str:
        """Every output column, the duplicate check and ``__bad`` (a row with any
        error), after :meth:`sections`. The error codes themselves are computed
        again for the rejected rows only (:meth:`error_layer`)."""
        errors = self.error_columns()
        dup = "NULL"
        pk = self.main_key()
        if pk and self.dup_check:
            part = ", ".join(self.vcol[f.i] for f in pk)
            notnull = " AND ".join(f"{self.vcol[f.i]} IS NOT NULL" for f in pk)
            dup = (
                f"CASE WHEN {notnull} AND row_number() OVER (PARTITION BY {part} "
                f"ORDER BY __row__) > 1 THEN min(__row__) OVER (PARTITION BY {part}) END"
            )
        bad = [f"e{f.i} IS NOT NULL" for f in self.fields if f.i in self.checked]
        bad.append("dup IS NOT NULL")
        cols = ["__row__", *(f"{expr} AS {name}" for expr, name in self.out.items())]
        # Named so that it cannot clash with an output column.
        cols += ["dup", f"({' OR '.join(bad)}) AS __bad"]
        inner = ", ".join(["*", *errors, f"{dup} AS dup"])
        order = " ORDER BY __row__" if self.dup_check else ""
        return f"SELECT {', '.join(cols)} FROM (SELECT {inner} FROM p){order}"

    def error_layer(self) -> str:
        """The error code columns of the rows kept by ``raw_layer(only_bad=True)``."""
        return f"SELECT {', '.join(['__row__', *self.error_columns()])} FROM p"

    def main_key(self) -> list[_Field]:
        """The fields of the main table's primary key ([] for a history table)."""
        main = self.mapping.tables[0]
        if main.table in HISTORY_TABLES:
            return []
        return [self.by_col[(0, c)] for c in table(main.table).primary_key if (0, c) in self.by_col]

    # -- canonical tables --------------------------------------------------------
    def _attributes(self, tm: TableMapping) -> str | None:
        idx = self.attribute_columns(tm)
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

    def _typed(self, tm: TableMapping, col: str, expr: str) -> str:
        return self.output(f"CAST({expr} AS {_cast(table(tm.table).column(col).type)})")

    def sections(self, ti: int, tm: TableMapping) -> tuple[list[_RowSet | _Entries], list[str]]:
        """The row sets of one mapping section, and the canonical columns they fill."""
        tbl = table(tm.table)
        if tm.table in HISTORY_TABLES:
            id_col = HISTORY_TABLES[tm.table]
            idv = self._typed(tm, id_col, self.vcol[self.by_col[(ti, id_col)].i])
            entries: list[_RowSet | _Entries] = []
            for (tj, stage), f in self.by_stage.items():
                if tj == ti:
                    at = self._typed(tm, "entered_at", self.vcol[f.i])
                    entries.append(_Entries(idv, at, stage_name=stage))
            if (ti, "stage") in self.by_col:
                sv, ev = (
                    self._typed(tm, c, self.vcol[self.by_col[(ti, c)].i])
                    for c in ("stage", "entered_at")
                )
                entries.append(_Entries(idv, ev, stage_col=sv))
            return entries, [id_col, "stage", "entered_at"]
        exprs: dict[str, str] = {}
        for c in tbl.column_names:
            found_field = self.by_col.get((ti, c))
            if found_field is not None:
                exprs[c] = self.vcol[found_field.i]
        if "currency" in tbl.column_names and "currency" not in tm.columns:
            money = [self.by_col[(ti, m)] for m in _MONEY if (ti, m) in self.by_col]
            found = [self.curcol[f.i] for f in money if f.i in self.curcol]
            if found:
                exprs["currency"] = f"coalesce({', '.join(found)}, {exprs.get('currency', 'NULL')})"
        attrs = self._attributes(tm)
        if attrs is not None and "attributes" in tbl.column_names:
            exprs["attributes"] = attrs
        cols = [c for c in tbl.column_names if c in exprs]
        rows = _RowSet({c: self._typed(tm, c, exprs[c]) for c in cols})
        if not tm.main:
            rows.required = [
                rows.cols[c.name] for c in tbl.columns if not c.nullable and c.name in rows.cols
            ]
        return [rows], cols


def _local_midnight(day: dt.date, tz: str) -> str:
    """The UTC instant (ISO text) when ``day`` starts in zone ``tz``."""
    from zoneinfo import ZoneInfo

    start = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))
    return start.astimezone(dt.UTC).isoformat(sep=" ")


def _plain(rule: ColumnRule) -> bool:
    """Whether the field's text is the cell's text (no constant, map or default)."""
    return rule.value is None and rule.value_map is None and rule.default is None


def _cast(sql_type: str) -> str:
    return "VARCHAR" if sql_type == "JSON" else sql_type


def string_array(values: Sequence[str | None]) -> pyarrow.Array:
    """An Arrow string array built from its buffers: ``pa.array(list)`` imports
    pandas (about half a second) to probe the list."""
    import numpy as np
    import pyarrow as pa

    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(e) for e in encoded), np.int64, len(encoded)), out=offsets[1:])
    validity = None
    if any(v is None for v in values):
        bits = np.fromiter((v is not None for v in values), np.bool_, len(values))
        validity = pa.py_buffer(np.packbits(bits, bitorder="little"))
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string(), len(encoded), buffers).cast(pa.string())


def _value_table(con: duckdb.DuckDBPyConnection, name: str, rule: ColumnRule) -> None:
    import pyarrow as pa

    vmap = rule.value_map or {}
    data = pa.table({"k": string_array(list(vmap)), "v": string_array(list(vmap.values()))})
    con.register(f"{name}_src", data)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_src")
    con.unregister(f"{name}_src")


_RANGES = {
    "INTEGER": ("-2,147,483,648", "2,147,483,647"),
    "BIGINT": (f"-{MAX_EXACT:,}", f"{MAX_EXACT:,}"),
    "DOUBLE": (f"-{MAX_EXACT:,}", f"{MAX_EXACT:,}"),
}


def _reason(
    code: str,
    f: _Field | None,
    value: str | None,
    first_row: int | None = None,
    plan: _Plan | None = None,
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
        params["allowed"] = ", ".join(_ALLOWED.get((f.table, f.column), ()))
    if first_row is not None:
        params["first_row"] = first_row
    return Msg(f"data.reject.{code}", params)


def _detect_fast_formats(con: duckdb.DuckDBPyConnection, plan: _Plan) -> None:
    """Choose, per date/timestamp source column, the :data:`FAST_FORMATS` that
    parse its first non-blank cells exactly as the general parser does (one
    query for the samples of every column, one to check the candidates)."""
    wanted: dict[tuple[int, bool], list[_Field]] = {}
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


def apply_mapping(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    path: str,
    tz: str,
) -> MappedBatch:
    """Map table ``raw`` (see :mod:`kpitree.data.readers`) to a :class:`MappedBatch`."""
    plan, parsed, layout, layers = _parse(con, source, mapping, found, tz, dup_check=None)
    if plan.dup_check:
        return _batch(con, plan, parsed, layout, layers, path)
    # Exports rarely repeat an id, so the per-row check (a window over the whole
    # file) runs only when a cheap count after the fact finds a repeat. The count
    # runs on its own cursor while the tables are cut, and they are thrown away
    # in the rare case it does.
    with ThreadPoolExecutor(max_workers=1) as pool:
        repeats = pool.submit(_ids_repeat, con.cursor(), plan, parsed)
        batch = _batch(con, plan, parsed, layout, layers, path)
        if not repeats.result():
            return batch
    plan, parsed, layout, layers = _parse(con, source, mapping, found, tz, dup_check=True)
    return _batch(con, plan, parsed, layout, layers, path)


def _batch(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    parsed: pyarrow.Table,
    layout: _Layout,
    layers: tuple[str, str],
    path: str,
) -> MappedBatch:
    """The canonical tables, rejects and rejected rows of a parsed file."""
    import pyarrow.compute as pc

    bad_mask = parsed.column("__bad")
    any_bad = bool(pc.any(bad_mask).as_py())
    rejects: list[Reject] = []
    rejected_rows: list[dict[str, str]] = []
    if any_bad:
        con.execute("DROP TABLE IF EXISTS bad")
        _bad_table(con, plan, parsed.filter(bad_mask), layers)
        rejects = _rejects(con, plan, path)
        rejected_rows = _rejected_rows(con, plan.source)
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


_Layout = dict[str, tuple[TableMapping, list[tuple[list[_RowSet | _Entries], list[str]]]]]


def _parse(
    con: duckdb.DuckDBPyConnection,
    source: SourceTable,
    mapping: Mapping,
    found: dict[str, int],
    tz: str,
    *,
    dup_check: bool | None,
) -> tuple[_Plan, pyarrow.Table, _Layout, tuple[str, str]]:
    """Run the query: every output column, error code and ``__bad`` per source row,
    as Arrow, with plain text trimmed. ``dup_check=None``: only if needed upfront."""

    plan = _Plan(source, mapping, found, tz)
    plan.dup_check = _keys_need_check(plan) if dup_check is None else dup_check
    _detect_fast_formats(con, plan)
    raw_sql, text_sql = plan.raw_layer(), plan.text_layer()
    parse_sql = plan.parse_layer()
    for i, rule in plan.maps.items():
        _value_table(con, f"vm{i}", rule)
    grouped: dict[str, list[tuple[int, TableMapping]]] = {}
    for ti, tm in enumerate(mapping.tables):
        grouped.setdefault(tm.table, []).append((ti, tm))
    layout: _Layout = {
        name: (sections[0][1], [plan.sections(ti, tm) for ti, tm in sections])
        for name, sections in grouped.items()
    }
    layers = f"WITH s AS ({raw_sql}), m AS ({text_sql}), p AS ({parse_sql})"
    # Chunks of one DuckDB row group each, as the warehouse writes them.
    parsed = con.sql(f"{layers} {plan.final_layer()}").to_arrow_table(ROW_GROUP)
    names = plan.trimmed_outputs()
    if names:
        # Arrow's kernels leave the interpreter free: one thread per column.
        with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
            columns = list(pool.map(_trim, (parsed.column(n) for n in names)))
        for name, column in zip(names, columns, strict=True):
            parsed = parsed.set_column(parsed.schema.get_field_index(name), name, column)
    return plan, parsed, layout, (text_sql, parse_sql)


def _trim(column: pyarrow.ChunkedArray) -> pyarrow.ChunkedArray:
    """Text trimmed as DuckDB's ``trim`` does, blank text as NULL. No Python values
    go into these calls: converting one makes pyarrow import pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim(column, _ZS_TEXT)
    lengths = pc.binary_length(trimmed)
    shortest = pc.min(lengths).as_py()
    if shortest is None or shortest > 0:
        return trimmed
    filled = pc.cast(lengths, pa.bool_())
    return pc.if_else(filled, trimmed, pa.nulls(len(trimmed), trimmed.type))


def _bad_table(
    con: duckdb.DuckDBPyConnection, plan: _Plan, bad: pyarrow.Table, layers: tuple[str, str]
) -> None:
    """Temp table ``bad``: the rejected rows' output columns, error codes and raw
    text. The error codes are computed again, for these rows only."""
    text_sql, parse_sql = layers
    cols = ", ".join(f"c{k}" for k in range(len(plan.source.headers)))
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
        con.unregister("kpitree_bad_rows")


def _table_rows(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    parsed: pyarrow.Table,
    name: str,
    first: TableMapping,
    parts: list[tuple[list[_RowSet | _Entries], list[str]]],
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
        assert isinstance(only, _RowSet)
        data = pa.table({c: parsed.column(only.cols[c]) for c in all_cols})
    elif name in HISTORY_TABLES and _unique_wide(plan, sets):
        data = _wide_history(parsed, HISTORY_TABLES[name], sets)  # type: ignore[arg-type]
    else:
        data = con.sql(_table_sql(name, first, sets, all_cols)).to_arrow_table()
    return pa.Table.from_batches(data.cast(schema).to_batches(), schema)


def _table_sql(
    name: str, first: TableMapping, sets: list[_RowSet | _Entries], all_cols: list[str]
) -> str:
    """SQL over the registered ``parsed`` Arrow table for one canonical table."""
    selects = []
    for s in sets:
        if isinstance(s, _Entries):
            stage = s.stage_col if s.stage_col is not None else sql_str(s.stage_name or "")
            present = [f"{s.id} IS NOT NULL", f"{s.at} IS NOT NULL"]
            if s.stage_col is not None:
                present.append(f"{s.stage_col} IS NOT NULL")
            selects.append(
                f"SELECT __row__, {s.id} AS {all_cols[0]}, {stage} AS stage, "
                f"{s.at} AS entered_at FROM parsed WHERE {' AND '.join(present)}"
            )
        else:
            pad = ", ".join(
                f"{s.cols[c]} AS {c}" if c in s.cols else f"NULL AS {c}" for c in all_cols
            )
            where = " AND ".join(f"{r} IS NOT NULL" for r in s.required) or "true"
            selects.append(f"SELECT __row__, {pad} FROM parsed WHERE {where}")
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


def _unique_wide(plan: _Plan, sets: list[_RowSet | _Entries]) -> bool:
    """Whether a stage history's entries are unique without a check: one column per
    stage, each stage once, all keyed by the main table's id (unique per accepted
    row: repeats are rejected)."""
    pk = plan.main_key()
    if len(pk) != 1:
        return False
    main = plan.mapping.tables[0]
    id_out = plan.out.get(
        f"CAST({plan.vcol[pk[0].i]} AS {_cast(table(main.table).column(pk[0].column).type)})"
    )
    names = [s.stage_name for s in sets if isinstance(s, _Entries)]
    return (
        id_out is not None
        and all(
            isinstance(s, _Entries) and s.stage_name is not None and s.id == id_out for s in sets
        )
        and len(set(names)) == len(names)
    )


def _wide_history(parsed: pyarrow.Table, id_col: str, sets: list[_Entries]) -> pyarrow.Table:
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


def int_array(values: Any, arrow_type: pyarrow.DataType) -> pyarrow.Array:
    """An Arrow array over a numpy buffer (``pa.array(ndarray)`` would import
    pandas, ~0.8 s, to probe it)."""
    import numpy as np
    import pyarrow as pa

    width = 4 if arrow_type == pa.int32() else 8
    data = np.ascontiguousarray(values, dtype=np.int32 if width == 4 else np.int64)
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])


def _rejects(con: duckdb.DuckDBPyConnection, plan: _Plan, path: str) -> list[Reject]:
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
    seen: set[tuple[int, str | None, str]] = set()
    for row, fi, code, value, first in rows:
        f = plan.fields[fi]
        # One source cell may feed several tables; report it once.
        key = (int(row), f.header or f"{f.table}.{f.column}", code)
        if key not in seen:
            seen.add(key)
            why = _reason(code, f, value, first, plan)
            out.append(Reject(path, int(row), f.header, value, why.render(), why))
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


def _keys_need_check(plan: _Plan) -> bool:
    """Whether the main table's ids must be checked for repeats row by row from
    the start: when the ids are not the cells' text, equal ids may come from
    different texts. Otherwise :func:`_ids_repeat` looks after the fact."""
    pk = plan.main_key()
    if not pk:
        return False
    if len(pk) < len(table(plan.mapping.tables[0].table).primary_key):
        return True
    return any(
        f.src is None
        or f.rule.value_map is not None
        or f.rule.default is not None
        or f.sql_type != "VARCHAR"
        for f in pk
    )


def _ids_repeat(con: duckdb.DuckDBPyConnection, plan: _Plan, parsed: pyarrow.Table) -> bool:
    """Whether an id of the main table appears twice in the mapped rows (a count
    of distinct hashes; equal hashes are confirmed on the ids themselves). Runs
    on a cursor of its own, which it closes."""
    pk = plan.main_key()
    if not pk:
        return False
    main = plan.mapping.tables[0]
    cols = [
        plan.out[f"CAST({plan.vcol[f.i]} AS {_cast(table(main.table).column(f.column).type)})"]
        for f in pk
    ]
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
