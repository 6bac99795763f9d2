"""The fields of a parse query (see :mod:`kpitree.data.query`): one per
canonical column or stage a mapping fills, with the source column it reads; the
closed value sets, money columns and space characters that decide their checks;
and what the canonical tables are cut from, the row sets of a mapping section
and the stage entries of a history table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kpitree.data.mapping import ColumnRule

ALLOWED_VALUES = {
    ("deals", "status"): ("open", "won", "lost"),
    ("contracts", "status"): ("active", "renewed", "churned", "ended"),
    # Sales touches, and the marketing ones that engagement scores read (docs/abm.md).
    ("activities", "type"): ("call", "email", "meeting", "web_visit", "form_fill", "other"),
}


MONEY_COLUMNS = ("amount", "mrr", "arr")
# What DuckDB's trim() removes: the Unicode space separators (Zs), e.g. U+3000.
ZS = (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)
ZS_CODES = ", ".join(str(c) for c in ZS)
ZS_TEXT = "".join(chr(c) for c in ZS)


def _runs(codes: tuple[int, ...]) -> list[tuple[int, int]]:
    """``codes`` (ascending) as runs of consecutive code points, first and last."""
    runs: list[tuple[int, int]] = []
    for c in codes:
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return runs


def starts_with_space(x: str, *, ascii_space: bool = True) -> str:
    """SQL: the text ``x`` starts with a space character (:data:`ZS`; without
    U+0020 when not ``ascii_space``), by string comparisons alone. Strings
    compare by their UTF-8 bytes, which order as the code points do, so a text
    starts with a character from ``a`` to ``b`` exactly when it lies from
    ``chr(a)`` (included) to ``chr(b + 1)`` (excluded).

    Neither ``ord`` nor an ``IN`` list (nor ``list_contains``): DuckDB turns a
    list of more than a few constants into a join, which looks up every row,
    not only the rows the cheaper tests before it let through (on 4M rows, a
    tenth of the parse). A text starting with ``!`` to U+009F or after U+3000
    (most cells: digits, Latin letters, Japanese) is settled by two or three
    comparisons."""
    (a0, b0), *rest = _runs(ZS)

    def lit(c: int) -> str:
        return f"'{chr(c)}'"

    each = " OR ".join(f"({x} >= {lit(a)} AND {x} < {lit(b + 1)})" for a, b in rest)
    lo, hi = rest[0][0], rest[-1][1]
    # The upper bound first: a Japanese character (after U+3000) fails it at
    # once, and ``x`` may be costly to compute (the last character of a text).
    wide = f"({x} < {lit(hi + 1)} AND {x} >= {lit(lo)} AND ({each}))"
    if not ascii_space:
        return wide
    return f"(({x} < {lit(b0 + 1)} AND {x} >= {lit(a0)}) OR {wide})"


@dataclass
class Field:
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
class RowSet:
    """Rows of a non-history table from one mapping section: canonical column ->
    output column of the query."""

    cols: dict[str, str]
    required: list[str] = field(default_factory=list)
    """Output columns that must be present (rows of other tables without a key)."""


@dataclass
class Entries:
    """Stage entries of a history table: the id, the stage (a constant name for a
    "wide" stage column, else an output column) and when it was entered."""

    id: str
    at: str
    stage_name: str | None = None
    stage_col: str | None = None


def pick_header(rule: ColumnRule, found: dict[str, int]) -> tuple[int | None, str | None]:
    for h in rule.headers:
        if h in found:
            return found[h], h
    return None, None


def local_midnight(day: dt.date, tz: str) -> str:
    """The UTC instant (ISO text) when ``day`` starts in zone ``tz``."""
    from zoneinfo import ZoneInfo

    start = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))
    return start.astimezone(dt.UTC).isoformat(sep=" ")


def is_plain(rule: ColumnRule) -> bool:
    """Whether the field's text is the cell's text (no constant, map or default)."""
    return rule.value is None and rule.value_map is None and rule.default is None


def cast_type(sql_type: str) -> str:
    return "VARCHAR" if sql_type == "JSON" else sql_type
