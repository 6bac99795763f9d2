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
