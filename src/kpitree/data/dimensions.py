"""Custom dimensions: a company's own source columns (代理店, 製品, 業種, …) made
segment dimensions.

A mapping declares them under a top-level ``dimensions:`` key::

    dimensions:
      agency: {table: deals, column: 代理店, label: {ja: 代理店, en: Agency}}

The column is kept in the table's ``attributes`` (JSON) like any unmapped source
column. So that grouping and filtering by it never parses JSON per query, every
write that changes the table (an import, an undo) also rebuilds its values in
the side table ``kpitree_dimension_values`` (``table_name, dimension, record_id,
value``: one row per record with a value), in the writer's transaction;
``kpitree_dimensions`` remembers each dimension's table, the headers it was
read from and its labels. The computation joins the side table on the record id,
as it joins a lead's channel.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from kpitree.data.schema import DIMENSION_REGISTRY_TABLE, DIMENSION_VALUES_TABLE, TABLES, table
from kpitree.source import KeyPath, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import duckdb

    from kpitree.data.mapping import Mapping as MappingFile
    from kpitree.data.mapping_check import Checker
    from kpitree.errors import Span

__all__ = [
    "BUILT_IN_NAMES",
    "REGISTRY_TABLE",
    "SIDE_TABLES",
    "VALUES_TABLE",
    "CustomDimension",
    "DeclaredDimension",
    "declared_dimensions",
    "parse_dimensions",
    "refresh_dimension_values",
    "register_dimensions",
]

VALUES_TABLE = DIMENSION_VALUES_TABLE
REGISTRY_TABLE = DIMENSION_REGISTRY_TABLE
# Their columns (all text), for copying them to another engine.
SIDE_TABLES = {
    REGISTRY_TABLE: ("name", "table_name", "keys", "labels"),
    VALUES_TABLE: ("table_name", "dimension", "record_id", "value"),
}
# A dimension's name is used in --by, --where and target-file headers.
_NAME = re.compile(r"^[^\W\d]\w*$")
# Names a custom dimension may not take: the organisation's and every canonical column.
BUILT_IN_NAMES = frozenset(
    {"rep", "department", "team", "manager", *(c for t in TABLES for c in t.column_names)}
)


class _DimensionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    table: str | None = None
    column: str | list[str]
    label: str | dict[str, str] | None = None


@dataclass(frozen=True)
class CustomDimension:
    """A dimension a mapping declares: a source column of one of its tables."""

    name: str
    table: str
    headers: tuple[str, ...]
    """Alternative source headers (the first present in the file is used)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Language -> label (``ja``, ``en``)."""
    span: Span | None = None


@dataclass(frozen=True)
class DeclaredDimension:
    """A custom dimension as one import read it: the header the file had."""

    name: str
    table: str
    key: str
    """The ``attributes`` key the values are under (the file's header)."""
    labels: Mapping[str, str] = field(default_factory=dict)


def parse_dimensions(
    ck: Checker, raw: Mapping[str, Any], tables: Sequence[str]
) -> tuple[CustomDimension, ...]:
    """The ``dimensions:`` of a mapping; problems recorded on ``ck``, located.
    ``tables`` are the mapping's tables, in order (the first is the default)."""
    out: list[CustomDimension] = []
    for name, body in raw.items():
        path: KeyPath = ("dimensions", name)
        name = str(name)
        if not _NAME.match(name) or name in BUILT_IN_NAMES:
            ck.error("KT860", "data.dimensions.bad_name", ck.doc.key_span(path), name=name)
            continue
        if isinstance(body, str):
            body = {"column": body}
        spec = ck.validate(_DimensionSpec, body, path)
        if spec is None:
            continue
        tname = spec.table or (tables[0] if tables else "")
        where = ck.doc.span((*path, "table")) if spec.table else ck.doc.key_span(path)
        if tname not in tables:
            ck.error(
                "KT861",
                "data.dimensions.unknown_table",
                where,
                name=name,
                table=tname,
                tables=", ".join(dict.fromkeys(tables)),
                hint=did_you_mean(tname, list(tables)),
            )
            continue
        spec_table = table(tname)
        if "attributes" not in spec_table.column_names or len(spec_table.primary_key) != 1:
            ck.error("KT862", "data.dimensions.no_attributes", where, name=name, table=tname)
            continue
        headers = (spec.column,) if isinstance(spec.column, str) else tuple(spec.column)
        if not headers or not all(h.strip() for h in headers):
            ck.error("KT353", "data.mapping.bad_value", ck.doc.span(path), key=name, value=body)
            continue
        label = spec.label
        labels = {"ja": label, "en": label} if isinstance(label, str) else dict(label or {})
        out.append(CustomDimension(name, tname, headers, labels, ck.doc.span(path)))
    return tuple(out)


def declared_dimensions(
    mapping: MappingFile, headers: Sequence[str], found: Mapping[str, int]
) -> tuple[DeclaredDimension, ...]:
    """The mapping's dimensions with the file's own header for each (the
    ``attributes`` key its values are kept under)."""
    out = []
    for d in mapping.dimensions:
        k = next((found[h] for h in d.headers if h in found), None)
        if k is not None:
            out.append(DeclaredDimension(d.name, d.table, headers[k], d.labels))
    return tuple(out)


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    """The two tables (a warehouse migrated before they existed has them by
    migration 0003; this covers databases made otherwise)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {REGISTRY_TABLE} (name VARCHAR PRIMARY KEY, "
        "table_name VARCHAR NOT NULL, keys VARCHAR NOT NULL, labels VARCHAR NOT NULL)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {VALUES_TABLE} (table_name VARCHAR NOT NULL, "
        "dimension VARCHAR NOT NULL, record_id VARCHAR NOT NULL, value VARCHAR)"
    )


def register_dimensions(
    con: duckdb.DuckDBPyConnection, declared: Sequence[DeclaredDimension]
) -> set[str]:
    """Record the dimensions an import declares; the tables whose dimensions
    changed (their values must be rebuilt even if no row of theirs did). The
    headers a dimension was read from accumulate (files may spell it
    differently); a declaration on another table replaces the earlier one."""
    if not declared:
        return set()
    _ensure(con)
    changed: set[str] = set()
    for d in declared:
        row = con.execute(
            f"SELECT table_name, keys, labels FROM {REGISTRY_TABLE} WHERE name = ?", [d.name]
        ).fetchall()
        keys = [d.key]
        if row and row[0][0] == d.table:
            keys = list(dict.fromkeys([*json.loads(row[0][1]), d.key]))
        labels = json.dumps(dict(d.labels), ensure_ascii=False, sort_keys=True)
        new = (d.table, json.dumps(keys, ensure_ascii=False), labels)
        if row and tuple(row[0]) == new:
            continue
        if row:
            changed.add(str(row[0][0]))
        changed.add(d.table)
        con.execute(f"DELETE FROM {REGISTRY_TABLE} WHERE name = ?", [d.name])
        con.execute(f"INSERT INTO {REGISTRY_TABLE} VALUES (?, ?, ?, ?)", [d.name, *new])
    return changed


def _path(key: str) -> str:
    """A JSON path naming one key exactly (dots and quotes in it included)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def refresh_dimension_values(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> bool:
    """Rebuild the values of every dimension declared on ``tables`` from their
    ``attributes``; whether any table has dimensions. A value is the cell's text
    trimmed; a blank or missing cell gives no row (the record has no value)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [REGISTRY_TABLE]
    ).fetchall()[0][0]
    if not exists or not tables:
        return False
    rows = con.execute(
        f"SELECT name, table_name, keys FROM {REGISTRY_TABLE} WHERE table_name IN "
        f"({', '.join('?' for _ in tables)}) ORDER BY name",
        list(tables),
    ).fetchall()
    touched = sorted({str(r[1]) for r in rows})
    for tname in touched:
        con.execute(f"DELETE FROM {VALUES_TABLE} WHERE table_name = ?", [tname])
    for name, tname, keys in rows:
        key_col = table(tname).primary_key[0]
        cells = ["json_extract_string(attributes, ?)" for _ in json.loads(keys)]
        value = f"NULLIF(trim(coalesce({', '.join(cells)})), '')"
        con.execute(
            f"INSERT INTO {VALUES_TABLE} SELECT ?, ?, CAST({key_col} AS VARCHAR), v FROM "
            f"(SELECT {key_col}, {value} AS v FROM {tname}) WHERE v IS NOT NULL",
            [tname, name, *(_path(k) for k in json.loads(keys))],
        ).fetchall()
    return bool(touched)
