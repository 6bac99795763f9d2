"""Mapping files: how a source export's columns and values become canonical rows.

A mapping is YAML, validated like the tree definition: every problem is reported at
once, located ``file:line:col``, with "did you mean" for misspelt names. The format
(see ``docs/data.md``)::

    mapping: 1
    name: hubspot-contacts          # optional; defaults to the file name
    source:                         # optional reading hints
      sheet: Leads                  # XLSX sheet (default: the first)
      delimiter: ","                # default: detected
      encoding: cp932               # default: detected (UTF-8, BOM, Shift_JIS)
      timezone: Asia/Tokyo          # zone of timestamps without one (default: project's)
      excel_serial_dates: false     # numbers in date columns are Excel serials
      null_values: ["-", "N/A"]     # extra cell texts meaning "blank"
      earliest_date: 1900-01-01     # dates outside these days are refused (defaults)
      latest_date: 2100-12-31
    defaults: {currency: JPY}       # constant for any mapped table's unmapped column
    values:                         # value maps, by name (matching ignores case)
      lifecycle: {subscriber: lead, marketingqualifiedlead: mql, 商談化: opportunity}
      teams: {file: teams.csv, key: Owner, value: Team}   # lookup from a CSV
    tables:                         # first table: one row per source row
      leads:
        lead_id: "Record ID"        # canonical column: source header
        created_at: {column: "Create Date", format: "%m/%d/%Y %H:%M"}
        current_stage: {column: "Lifecycle Stage", map: lifecycle, unmapped: reject}
        team: {column: "Contact owner", map: teams, unmapped: "null"}
        attributes: rest            # unmapped source columns -> JSON (default here)
      lead_stage_history:
        lead_id: "Record ID"
        stages: {mql: "Became a Marketing Qualified Lead Date"}

Column rules: a string is a source header; an object may have ``column`` (header,
or a list of alternative headers: the first present is used), ``value`` (a
constant), ``map`` (value map name or inline map), ``else`` (value for non-blank
text missing from the map), ``unmapped`` (``keep``, ``null`` or ``reject``),
``default`` (value for blank cells), ``format`` (``strptime`` format or list),
``excel_serial``, ``optional`` (the header may be absent from the file) and
``id_from`` (columns whose cells make a synthetic id when the file has none of
``column``; see :mod:`kpitree.data.report`).

This module reads and checks the file; what it resolves to (:class:`Mapping`
and its rules) is defined in :mod:`kpitree.data.mapping_model`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping as MappingABC
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kpitree.data.dimensions import parse_dimensions
from kpitree.data.mapping_check import Checker as _Checker
from kpitree.data.mapping_model import (
    HISTORY_TABLES,
    ColumnRule,
    Mapping,
    SourceOptions,
    TableMapping,
    mapping_fingerprint,
)
from kpitree.data.schema import TABLES, table
from kpitree.errors import DataError, Diagnostic, Severity, Span
from kpitree.source import Document, KeyPath, did_you_mean, load_yaml, parse_yaml

__all__ = [
    "HISTORY_TABLES",
    "ColumnRule",
    "Mapping",
    "SourceOptions",
    "TableMapping",
    "load_mapping",
    "mapping_fingerprint",
    "preset_names",
    "preset_text",
    "synthetic_header",
]

_RESERVED = ("stages", "attributes")
Scalar = str | int | float | bool


class _ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: str | list[str] | None = None
    value: Scalar | None = None
    map: str | dict[str, Scalar | None] | None = None
    else_: Scalar | None = Field(default=None, alias="else")
    unmapped: Literal["keep", "null", "reject"] = "keep"
    default: Scalar | None = None
    format: str | list[str] | None = None
    excel_serial: bool | None = None
    optional: bool = False
    id_from: list[str | list[str]] | None = None


class _LookupFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    key: str
    value: str


class _Top(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: Literal[1]
    name: str | None = None
    description: str | None = None
    source: dict[str, Any] = {}
    defaults: dict[str, Scalar] = {}
    values: dict[str, Any] = {}
    tables: dict[str, Any]
    dimensions: dict[str, Any] = {}


def _text(v: Scalar | None) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _column_rule(
    ck: _Checker, raw: Any, path: KeyPath, value_maps: dict[str, dict[str, str | None]]
) -> ColumnRule | None:
    span = ck.doc.span(path)
    if isinstance(raw, str):
        return ColumnRule(headers=(raw,), span=span)
    spec = ck.validate(_ColumnSpec, raw, path)
    if spec is None:
        return None
    if spec.id_from is not None:
        parts = tuple((p,) if isinstance(p, str) else tuple(p) for p in spec.id_from)
        if spec.value is not None or spec.map is not None or not parts or not all(parts):
            ck.error("KT365", "data.mapping.id_from", span, target=".".join(map(str, path)))
            return None
        columns = (spec.column,) if isinstance(spec.column, str) else tuple(spec.column or ())
        return ColumnRule(
            headers=(*columns, synthetic_header(parts)),
            span=span,
            id_from=parts,
            optional=spec.optional,
        )
    if (spec.column is None) == (spec.value is None):
        ck.error("KT354", "data.mapping.column_or_value", span, target=".".join(map(str, path)))
        return None
    vmap: dict[str, str | None] | None = None
    map_name: str | None = None
    if isinstance(spec.map, str):
        map_name = spec.map
        if spec.map not in value_maps:
            ck.error(
                "KT355",
                "data.mapping.unknown_map",
                ck.doc.span((*path, "map")),
                name=spec.map,
                hint=did_you_mean(spec.map, value_maps),
            )
        vmap = value_maps.get(spec.map, {})
    elif spec.map is not None:
        map_name = ".".join(map(str, path))
        vmap = {str(k).strip().lower(): _text(v) for k, v in spec.map.items()}
    headers = (spec.column,) if isinstance(spec.column, str) else tuple(spec.column or ())
    formats = (spec.format,) if isinstance(spec.format, str) else tuple(spec.format or ())
    return ColumnRule(
        headers=headers,
        value=_text(spec.value),
        map_name=map_name,
        value_map=vmap,
        else_value=_text(spec.else_),
        unmapped=spec.unmapped,
        default=_text(spec.default),
        formats=formats,
        excel_serial=spec.excel_serial,
        optional=spec.optional,
        span=span,
    )


def synthetic_header(parts: tuple[tuple[str, ...], ...]) -> str:
    """The name of the column a reader adds for an ``id_from`` rule."""
    return "id_from(" + " + ".join(p[0] for p in parts) + ")"


def _value_maps(ck: _Checker, raw: dict[str, Any], base: Path) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for name, body in raw.items():
        path: KeyPath = ("values", name)
        if isinstance(body, dict) and set(body) == {"file", "key", "value"}:
            lookup = ck.validate(_LookupFile, body, path)
            if lookup is not None:
                from kpitree.data.textfile import read_lookup

                try:
                    out[name] = read_lookup(base / lookup.file, lookup.key, lookup.value)
                except DataError as exc:
                    span = ck.doc.span((*path, "file"))
                    ck.diags += [
                        Diagnostic(d.severity, d.code, d.key, d.params, span)
                        for d in exc.diagnostics
                    ]
            continue
        if not isinstance(body, dict):
            ck.error("KT353", "data.mapping.bad_value", ck.doc.span(path), key=name, value=body)
            continue
        out[name] = {str(k).strip().lower(): _text(v) for k, v in body.items()}
    return out


def _table(
    ck: _Checker,
    name: str,
    raw: Any,
    path: KeyPath,
    main: bool,
    maps: dict[str, dict[str, str | None]],
    defaults: MappingABC[str, str],
) -> TableMapping | None:
    if not isinstance(raw, dict):
        ck.error("KT353", "data.mapping.bad_value", ck.doc.span(path), key=name, value=raw)
        return None
    tbl = table(name)
    history = name in HISTORY_TABLES
    columns: dict[str, ColumnRule] = {}
    stages: dict[str, ColumnRule] = {}
    attributes: str | tuple[str, ...] = (
        "rest" if main and "attributes" in tbl.column_names else "none"
    )
    for key, body in raw.items():
        kpath = (*path, key)
        if key == "stages":
            if not history:
                ck.error("KT356", "data.mapping.stages_not_history", ck.doc.key_span(kpath))
            elif not isinstance(body, dict):
                ck.error("KT353", "data.mapping.bad_value", ck.doc.span(kpath), key=key, value=body)
            else:
                for stage, sbody in body.items():
                    rule = _column_rule(ck, sbody, (*kpath, stage), maps)
                    if rule is not None:
                        stages[str(stage)] = rule
        elif key == "attributes":
            if "attributes" not in tbl.column_names:
                ck.error("KT357", "data.mapping.no_attributes", ck.doc.key_span(kpath), table=name)
            elif body in ("rest", "none"):
                attributes = str(body)
            elif isinstance(body, list) and all(isinstance(b, str) for b in body):
                attributes = tuple(body)
            else:
                ck.error("KT353", "data.mapping.bad_value", ck.doc.span(kpath), key=key, value=body)
        elif key not in tbl.column_names:
            ck.error(
                "KT358",
                "data.mapping.unknown_column",
                ck.doc.key_span(kpath),
                table=name,
                name=key,
                hint=did_you_mean(key, [*tbl.column_names, *_RESERVED]),
            )
        else:
            rule = _column_rule(ck, body, kpath, maps)
            if rule is not None:
                columns[key] = rule
    if history:
        id_col = HISTORY_TABLES[name]
        long_form = "stage" in columns or "entered_at" in columns
        if (not stages and not long_form) or (
            long_form and not {"stage", "entered_at"} <= set(columns)
        ):
            ck.error("KT359", "data.mapping.no_stages", ck.doc.key_span(path), table=name)
        required = [id_col]
    else:
        required = [c.name for c in tbl.columns if not c.nullable]
    for col in required:
        if col not in columns and col not in defaults:
            ck.error(
                "KT360",
                "data.mapping.required_column",
                ck.doc.key_span(path),
                table=name,
                column=col,
            )
    return TableMapping(name, columns, stages, attributes, main)


def _resolve(doc: Document, name: str | None) -> Mapping:
    ck = _Checker(doc)
    for key_path, first, _second in doc.duplicates:
        ck.error(
            "KT350", "data.mapping.duplicate_key", _second, key=str(key_path[-1]), line=first.line
        )
    if not isinstance(doc.data, dict):
        ck.error("KT352", "data.mapping.missing_key", doc.span(()), key="mapping")
        raise DataError(ck.diags)
    top = ck.validate(_Top, doc.data, ())
    if top is None:
        raise DataError(ck.diags)
    source = ck.validate(SourceOptions, top.source, ("source",)) or SourceOptions()
    if source.timezone:
        try:
            zoneinfo.ZoneInfo(source.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            ck.error(
                "KT361",
                "data.mapping.bad_timezone",
                doc.span(("source", "timezone")),
                tz=source.timezone,
            )
    base = Path(doc.path).parent
    maps = _value_maps(ck, top.values, base)
    defaults = {k: _text(v) or "" for k, v in top.defaults.items()}
    all_columns = {c for t in TABLES for c in t.column_names}
    for k in defaults:
        if k not in all_columns:
            ck.error(
                "KT358",
                "data.mapping.unknown_column",
                doc.key_span(("defaults", k)),
                table="*",
                name=k,
                hint=did_you_mean(k, all_columns),
            )
    tables: list[TableMapping] = []
    names = [t.name for t in TABLES]
    if not top.tables:
        ck.error("KT362", "data.mapping.no_tables", doc.span(("tables",)))
    for i, (tname, body) in enumerate(top.tables.items()):
        if tname not in names:
            ck.error(
                "KT363",
                "data.mapping.unknown_table",
                doc.key_span(("tables", tname)),
                name=tname,
                hint=did_you_mean(tname, names),
            )
            continue
        sections = body if isinstance(body, list) else [body]
        for j, section in enumerate(sections):
            path: KeyPath = ("tables", tname, j) if isinstance(body, list) else ("tables", tname)
            tm = _table(ck, tname, section, path, i == 0 and j == 0, maps, defaults)
            if tm is not None:
                tables.append(tm)
    dimensions = parse_dimensions(ck, top.dimensions, [t.table for t in tables])
    if ck.diags:
        raise DataError(ck.diags)
    return Mapping(
        name=name or top.name or Path(doc.path).stem,
        path=doc.path,
        source=source,
        defaults=defaults,
        tables=tuple(tables),
        description=top.description,
        dimensions=dimensions,
    )


def preset_names() -> list[str]:
    """Names of the built-in presets (``hubspot-contacts``, ...)."""
    folder = resources.files("kpitree.data") / "presets"
    return sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """The YAML text of a built-in preset, as shipped (comments included)."""
    entry = resources.files("kpitree.data") / "presets" / f"{name}.yaml"
    return entry.read_text(encoding="utf-8")


def load_mapping(path_or_preset: str | Path) -> Mapping:
    """Load and validate a mapping file, or a built-in preset by name.

    Raises :class:`~kpitree.errors.DataError` listing every problem, each located.

    >>> load_mapping("hubspot-contacts").tables[0].table
    'leads'
    """
    p = Path(path_or_preset)
    if p.suffix in {".yaml", ".yml"} or p.exists():
        return _resolve(load_yaml(p), str(path_or_preset))
    name = str(path_or_preset)
    if name in preset_names():
        doc = parse_yaml(preset_text(name), f"<preset {name}>")
        return _resolve(doc, name)
    raise DataError(
        Diagnostic(
            Severity.ERROR,
            "KT364",
            "data.mapping.unknown_preset",
            {
                "name": name,
                "presets": ", ".join(preset_names()),
                "hint": did_you_mean(name, preset_names()),
            },
            Span(name, 1, 1),
        )
    )
