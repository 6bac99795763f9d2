"""What report exports need before mapping: their footer rows left out, and ids
made from identifying columns when the report has no id column.

Both work on the ``raw`` table a reader loaded (see :mod:`kpitree.data.readers`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from kpitree.data.fit import closest_header, norm
from kpitree.data.mapping import Mapping
from kpitree.data.values import sql_str
from kpitree.errors import DataError, Diagnostic, Severity, Span
from kpitree.i18n import Msg

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.readers import SourceTable

__all__ = ["FOOTER_SCAN_ROWS", "SYNTHETIC_PREFIX", "add_synthetic_ids", "drop_footer"]

# A footer is a handful of rows; only this many trailing rows are looked at.
FOOTER_SCAN_ROWS = 200
SYNTHETIC_PREFIX = "h:"


def drop_footer(
    con: duckdb.DuckDBPyConnection, source: SourceTable, patterns: tuple[str, ...], shown: str
) -> SourceTable:
    """Leave out the trailing rows that are blank or whose first non-blank cell
    fully matches one of ``patterns`` (case-insensitive), when at least one of them
    matches; rows before the last other row are never touched. A located warning
    (KT395) names the rows left out."""
    if not patterns or source.rows == 0:
        return source
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    cols = ", ".join(f"c{k}" for k in range(len(source.headers)))
    tail = con.sql(
        f"SELECT {source.row_sql} AS r, {cols} FROM raw ORDER BY r DESC LIMIT {FOOTER_SCAN_ROWS}"
    ).fetchall()
    first: int | None = None
    texts: list[str] = []
    for row in tail:
        cells = [c.strip() for c in row[1:] if c is not None and c.strip()]
        if cells and not any(p.fullmatch(cells[0]) for p in compiled):
            break
        if cells:
            texts.insert(0, cells[0])
        first = int(row[0])
    if first is None or not texts:
        return source
    # Row numbers are the sheet's, which count empty lines DuckDB did not load.
    dropped = sum(1 for row in tail if int(row[0]) >= first)
    con.execute(f"DELETE FROM raw WHERE {source.row_sql} >= {first}")
    warning = Diagnostic(
        Severity.WARNING,
        "KT395",
        "data.file.footer_skipped",
        {"path": shown, "rows": len(texts), "texts": " / ".join(t[:80] for t in texts)},
        Span(shown, first, 1),
    )
    return dataclasses.replace(
        source, rows=source.rows - dropped, warnings=(*source.warnings, warning)
    )


# How like the id column a header must be for a missing id to be reported as that
# column (with the header as the closest) rather than as the identifying columns.
OWN_ID_CUTOFF = 0.7


def add_synthetic_ids(
    con: duckdb.DuckDBPyConnection, source: SourceTable, mapping: Mapping, shown: str
) -> SourceTable:
    """Add a column for each ``id_from`` rule of the mapping whose own id column is
    not in the file: ``h:`` and the first
    16 hex digits of the SHA-256 of the identifying cells' trimmed text joined by
    U+001F (NULL when they are all blank). Missing identifying columns are KT371
    errors, like any missing header; each rule gives a KT394 warning that a
    re-export with one of those cells changed makes a new record."""
    index: dict[str, int] = {}
    for i, h in enumerate(source.headers):
        index.setdefault(h, i)
    for i, h in enumerate(source.headers):
        index.setdefault(norm(h), i)
    rules = {}
    for tbl, col, rule in mapping.rules():
        if not rule.id_from or rule.headers[-1] in rules:
            continue
        if any(h in index or norm(h) in index for h in rule.headers[:-1]):
            continue  # the file has the id column itself
        rules[rule.headers[-1]] = (f"{tbl}.{col}", rule)
    if not rules:
        return source
    headers = list(source.headers)
    diags: list[Diagnostic] = []
    warnings = list(source.warnings)
    for name, (target, rule) in rules.items():
        found: list[tuple[int, str]] = []
        absent: list[tuple[str, ...]] = []
        for alternatives in rule.id_from:
            hits = (index.get(h, index.get(norm(h))) for h in alternatives)
            hit = next((x for x in hits if x is not None), None)
            if hit is None:
                absent.append(alternatives)
            else:
                found.append((hit, source.headers[hit]))
        if absent and rule.optional:
            continue
        own = closest_header(rule.headers[:-1], source.headers, cutoff=OWN_ID_CUTOFF)
        if absent and own is not None:
            # A header very like the id column itself: the file most likely has
            # the id under another label, which is the better fix to name.
            absent = [rule.headers[:-1]]
        for alternatives in absent:
            closest = closest_header(alternatives, source.headers)
            hint = Msg("data.file.closest_header", {"name": closest}) if closest else ""
            diags.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT371",
                    "data.file.missing_header",
                    {"path": shown, "header": alternatives[0], "target": target, "hint": hint},
                    rule.span or Span(shown, 1, 1),
                )
            )
        if diags:
            continue
        cells = [f"coalesce(trim(c{k}), '')" for k, _ in found]
        k = len(headers)
        con.execute(f"ALTER TABLE raw ADD COLUMN c{k} VARCHAR")
        con.execute(
            f"UPDATE raw SET c{k} = CASE WHEN {' || '.join(cells)} = '' THEN NULL "
            f"ELSE {sql_str(SYNTHETIC_PREFIX)} || "
            f"left(sha256(concat_ws(chr(31), {', '.join(cells)})), 16) END"
        )
        headers.append(name)
        warnings.append(
            Diagnostic(
                Severity.WARNING,
                "KT394",
                "data.file.synthetic_id",
                {"path": shown, "target": target, "columns": ", ".join(h for _, h in found)},
                Span(shown, 1, 1),
            )
        )
    if diags:
        raise DataError(diags)
    return dataclasses.replace(
        source,
        headers=tuple(headers),
        source_columns=source.source_columns or len(source.headers),
        warnings=tuple(warnings),
    )
