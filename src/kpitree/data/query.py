"""The layered parse query that maps a loaded source table (see
:mod:`kpitree.data.transform` for the layers): a :class:`Plan` per file and
mapping, which writes the SQL of each layer, the error codes per field and the
output columns of every canonical table."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from kpitree.data.fields import (
    ALLOWED_VALUES,
    MONEY_COLUMNS,
    Entries,
    Field,
    RowSet,
    cast_type,
    is_plain,
    local_midnight,
    pick_header,
    starts_with_space,
)
from kpitree.data.mapping import HISTORY_TABLES, ColumnRule, Mapping, TableMapping
from kpitree.data.schema import table
from kpitree.data.values import (
    MAX_EXACT,
    ParsedExpr,
    fast_strptime,
    parse_date,
    parse_integer,
    parse_number,
    parse_text,
    parse_timestamp,
    sql_str,
)
from kpitree.errors import InternalError

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.readers import SourceTable


class Plan:
    """The parse query of one source table under one mapping: its fields, the SQL
    of each layer and the output columns of every canonical table."""

    def __init__(self, source: SourceTable, mapping: Mapping, found: dict[str, int], tz: str):
        self.source = source
        self.mapping = mapping
        self.found = found
        self.tz = tz
        self.fields: list[Field] = []
        self.maps: dict[int, ColumnRule] = {}
        # (table mapping index, canonical column) -> field, and stage fields.
        self.by_col: dict[tuple[int, str], Field] = {}
        self.by_stage: dict[tuple[int, str], Field] = {}
        self.checked: set[int] = set()  # fields with an error column
        self.as_is: set[int] = set()  # source columns kept untrimmed (raw_text_columns)
        self.untrimmed: set[int] = set()  # source columns trimmed in Arrow
        self.dup_check = False  # whether the main table's ids may repeat
        # Columns shared by fields that read the same text the same way.
        self.tcol: dict[int, str] = {}
        self.vcol: dict[int, str] = {}
        self.curcol: dict[int, str] = {}
        # (text, format) -> column of the parse layer's input holding its strptime
        self.strp: dict[tuple[str, str], str] = {}
        # Output columns of the query: SQL expression -> name.
        self.out: dict[str, str] = {}
        # Source columns read typed (a timestamp read with this format), not as text.
        self.typed: dict[int, str] = {}
        # SQL over the source row that makes it bad (None: nothing more than the fields).
        self.guard: str | None = None
        for ti, tm in enumerate(mapping.tables):
            self._add_table(ti, tm)

    def _field(self, table_name: str, column: str, rule: ColumnRule, sql_type: str) -> Field:
        src, header = pick_header(rule, self.found)
        f = Field(len(self.fields), table_name, column, rule, sql_type, src, header)
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

    def _serial(self, f: Field) -> bool:
        if f.rule.excel_serial is not None:
            return f.rule.excel_serial
        return self.mapping.source.excel_serial_dates or self.source.is_xlsx

    def attribute_columns(self, tm: TableMapping) -> list[int]:
        if tm.attributes == "none":
            out = []
        elif tm.attributes == "rest":
            mapped = {f.src for f in self.fields if f.src is not None}
            out = [k for k in range(len(self.source.headers)) if k not in mapped]
        else:
            out = [self.found[h] for h in tm.attributes if h in self.found]
        # A custom dimension's column is kept in its table's attributes even
        # when the mapping reads it into a canonical column too.
        if tm is next(t for t in self.mapping.tables if t.table == tm.table):
            for d in self.mapping.dimensions:
                k = next((self.found[h] for h in d.headers if h in self.found), None)
                if d.table == tm.table and k is not None and k not in out:
                    out.append(k)
        return out

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
            if f.src is not None and not (f.fast and is_plain(f.rule)):
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
                is_plain(f.rule)
                and f.sql_type == "VARCHAR"
                and (f.table, f.column) not in ALLOWED_VALUES
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

    def blank(self, f: Field, vc: str) -> str:
        """SQL: the field's value is blank (NULL, or only spaces while untrimmed)."""
        if f.src not in self.untrimmed:
            return f"{vc} IS NULL"
        return f"({vc} IS NULL OR {vc} = '' OR ({starts_with_space(vc)} AND trim({vc}) = ''))"

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
        if self.guard is not None:
            inner.append(f"{self.guard} AS __guard")
            outer.append("__guard")
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
                # Computed where needed, for the cells the fast parser leaves (a
                # typed column has none: its every cell was read with the format).
                text = self.clean(f.src, f"w{f.src}")
                if f.src in self.typed:
                    text = f"CAST(w{f.src} AS VARCHAR)"
                seen[x] = self.tcol[f.i] = text
                continue
            seen[x] = self.tcol[f.i] = f"t{f.i}"
            cols.append(f"{x} AS t{f.i}")
        return f"SELECT {', '.join(cols)} FROM s {' '.join(joins)}"

    def _parser(self, f: Field) -> ParsedExpr:
        x = self.tcol[f.i]
        serial = self._serial(f)
        raw = f"w{f.src}" if f.src in self.as_is else None
        first = None
        if f.fast and f.sql_type in ("TIMESTAMPTZ", "DATE"):
            # The first fast format's strptime, once per row (see parse_layer).
            first = self.strp.setdefault((raw or x, f.fast[0]), f"z{len(self.strp)}")
        if f.sql_type == "TIMESTAMPTZ":
            return parse_timestamp(
                x, self.tz, f.rule.formats, excel_serial=serial, fast=f.fast, fast_x=raw,
                first_parsed=first,
            )  # fmt: skip
        if f.sql_type == "DATE":
            return parse_date(
                x, self.tz, f.rule.formats, excel_serial=serial, fast=f.fast, fast_x=raw,
                first_parsed=first,
            )  # fmt: skip
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
            if (f.table, f.column) in ALLOWED_VALUES:
                value = f"lower({value})"
            if value in seen:
                self.vcol[f.i] = seen[value]
            else:
                seen[value] = self.vcol[f.i] = f"v{f.i}"
                cols.append(f"{value} AS v{f.i}")
            if f.column in MONEY_COLUMNS and p.currency and f.src is not None:
                if p.currency in seen:
                    self.curcol[f.i] = seen[p.currency]
                else:
                    seen[p.currency] = self.curcol[f.i] = f"cur{f.i}"
                    cols.append(f"{p.currency} AS cur{f.i}")
        # The fast formats' strptime in a projection of its own: the parsers read
        # it up to three times, and common subexpressions are not eliminated.
        strp = "".join(f", {self._strptime(x, fmt)} AS {z}" for (x, fmt), z in self.strp.items())
        source = f"(SELECT *{strp} FROM m) AS m" if strp else "m"
        return f"SELECT {', '.join(cols)} FROM {source}"

    def _strptime(self, x: str, fmt: str) -> str:
        """``fast_strptime(x, fmt)``, or ``x`` itself where the reader already
        parsed that column with that format."""
        typed = {f"w{k}": f for k, f in self.typed.items()}
        return x if typed.get(x) == fmt else fast_strptime(x, fmt)

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
            allowed = ALLOWED_VALUES.get((f.table, f.column))
            if allowed:
                options = ", ".join(sql_str(a) for a in allowed)
                cases.append(f"WHEN {vc} NOT IN ({options}) THEN 'not_allowed'")
            if cases:
                cols.append(f"CASE {' '.join(cases)} END AS e{f.i}")
                self.checked.add(f.i)
        return cols

    def _range_cases(self, f: Field, vc: str) -> list[str]:
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
            low, high = (local_midnight(d, self.tz) for d in (lo, hi + dt.timedelta(days=1)))
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
        if self.guard is not None:
            bad.append("__guard")
        cols = ["__row__", *(f"{expr} AS {name}" for expr, name in self.out.items())]
        # Named so that it cannot clash with an output column.
        cols += ["dup", f"({' OR '.join(bad)}) AS __bad"]
        inner = ", ".join(["*", *errors, f"{dup} AS dup"])
        order = " ORDER BY __row__" if self.dup_check else ""
        return f"SELECT {', '.join(cols)} FROM (SELECT {inner} FROM p){order}"

    def error_layer(self) -> str:
        """The error code columns of the rows kept by ``raw_layer(only_bad=True)``."""
        return f"SELECT {', '.join(['__row__', *self.error_columns()])} FROM p"

    def main_key(self) -> list[Field]:
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
        return self.output(f"CAST({expr} AS {cast_type(table(tm.table).column(col).type)})")

    def sections(self, ti: int, tm: TableMapping) -> tuple[list[RowSet | Entries], list[str]]:
        """The row sets of one mapping section, and the canonical columns they fill."""
        tbl = table(tm.table)
        if tm.table in HISTORY_TABLES:
            id_col = HISTORY_TABLES[tm.table]
            idv = self._typed(tm, id_col, self.vcol[self.by_col[(ti, id_col)].i])
            entries: list[RowSet | Entries] = []
            for (tj, stage), f in self.by_stage.items():
                if tj == ti:
                    at = self._typed(tm, "entered_at", self.vcol[f.i])
                    entries.append(Entries(idv, at, stage_name=stage))
            if (ti, "stage") in self.by_col:
                sv, ev = (
                    self._typed(tm, c, self.vcol[self.by_col[(ti, c)].i])
                    for c in ("stage", "entered_at")
                )
                entries.append(Entries(idv, ev, stage_col=sv))
            return entries, [id_col, "stage", "entered_at"]
        exprs: dict[str, str] = {}
        for c in tbl.column_names:
            found_field = self.by_col.get((ti, c))
            if found_field is not None:
                exprs[c] = self.vcol[found_field.i]
        if "currency" in tbl.column_names and "currency" not in tm.columns:
            money = [self.by_col[(ti, m)] for m in MONEY_COLUMNS if (ti, m) in self.by_col]
            found = [self.curcol[f.i] for f in money if f.i in self.curcol]
            if found:
                exprs["currency"] = f"coalesce({', '.join(found)}, {exprs.get('currency', 'NULL')})"
        attrs = self._attributes(tm)
        if attrs is not None and "attributes" in tbl.column_names:
            exprs["attributes"] = attrs
        cols = [c for c in tbl.column_names if c in exprs]
        rows = RowSet({c: self._typed(tm, c, exprs[c]) for c in cols})
        if not tm.main:
            rows.required = [
                rows.cols[c.name] for c in tbl.columns if not c.nullable and c.name in rows.cols
            ]
        return [rows], cols


def value_table(con: duckdb.DuckDBPyConnection, name: str, rule: ColumnRule) -> None:
    # Literal rows, not an Arrow table: a value map is small, and the import
    # path then does not load pyarrow for it.
    vmap = rule.value_map or {}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (k VARCHAR, v VARCHAR)")
    if vmap:
        rows = ", ".join(
            f"({sql_str(k)}, {'NULL' if v is None else sql_str(v)})" for k, v in vmap.items()
        )
        con.execute(f"INSERT INTO {name} VALUES {rows}")


def keys_need_check(plan: Plan) -> bool:
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
