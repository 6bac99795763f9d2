"""The resolved form of a mapping file (loaded and checked by
:mod:`kpitree.data.mapping`): how to read the source file, and per canonical
table the rule giving each column's text. Only this form travels on to the
readers and the parse query."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from kpitree.data.dimensions import CustomDimension
from kpitree.errors import Span

__all__ = [
    "HISTORY_TABLES",
    "ColumnRule",
    "Mapping",
    "SourceOptions",
    "TableMapping",
    "mapping_fingerprint",
]

# History tables: the id column plus stage entries, given "wide" (``stages``: one
# source column per stage) and/or "long" (a ``stage`` and an ``entered_at`` column).
HISTORY_TABLES = {"lead_stage_history": "lead_id", "deal_stage_history": "deal_id"}


class SourceOptions(BaseModel):
    """How to read the source file (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str | None = None
    delimiter: Literal[",", "\t", ";", "|"] | None = None
    encoding: str | None = None
    timezone: str | None = None
    excel_serial_dates: bool = False
    null_values: tuple[str, ...] = ()
    earliest_date: dt.date = dt.date(1900, 1, 1)
    """Dates and timestamps before this day (project time zone) are refused."""
    latest_date: dt.date = dt.date(2100, 12, 31)
    """... and after this day."""
    footer: tuple[str, ...] = ()
    """Regular expressions for the first non-blank cell of a report's footer rows:
    the trailing rows that are blank or match are left out (see ``docs/data.md``)."""

    @model_validator(mode="after")
    def _dates_in_order(self) -> SourceOptions:
        if self.earliest_date > self.latest_date:
            raise ValueError("earliest_date is after latest_date")
        return self

    @field_validator("footer")
    @classmethod
    def _footer_compiles(cls, footer: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in footer:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r}: {exc}") from None
        return footer


@dataclass(frozen=True)
class ColumnRule:
    """Where one canonical column's text comes from, resolved from the mapping file."""

    headers: tuple[str, ...] = ()
    """Alternative source headers (the first present in the file is used)."""
    value: str | None = None
    """Constant text (instead of a header)."""
    map_name: str | None = None
    value_map: MappingABC[str, str | None] | None = None
    """Lower-cased source text -> canonical text."""
    else_value: str | None = None
    unmapped: str = "keep"
    default: str | None = None
    formats: tuple[str, ...] = ()
    excel_serial: bool | None = None
    optional: bool = False
    span: Span | None = None
    id_from: tuple[tuple[str, ...], ...] = ()
    """Columns (each with alternative headers) whose cells make a synthetic id
    when none of the rule's own headers is in the file; the last of ``headers``
    is then the name of the column the reader adds for it."""


@dataclass(frozen=True)
class TableMapping:
    """The rules for one canonical table."""

    table: str
    columns: MappingABC[str, ColumnRule]
    stages: MappingABC[str, ColumnRule] = field(default_factory=dict)
    attributes: str | tuple[str, ...] = "none"
    """``rest`` (unmapped source columns), ``none`` or a tuple of headers."""
    main: bool = False


@dataclass(frozen=True)
class Mapping:
    """A validated mapping, ready to apply to a file."""

    name: str
    path: str | None
    source: SourceOptions
    defaults: MappingABC[str, str]
    tables: tuple[TableMapping, ...]
    description: str | None = None
    dimensions: tuple[CustomDimension, ...] = ()
    """Source columns declared as segment dimensions (:mod:`kpitree.data.dimensions`)."""

    def rules(self) -> list[tuple[str, str, ColumnRule]]:
        """Every rule as (table, canonical column or ``stage:<name>``, rule)."""
        out = []
        for tm in self.tables:
            out += [(tm.table, c, r) for c, r in tm.columns.items()]
            out += [(tm.table, f"stage:{s}", r) for s, r in tm.stages.items()]
        return out


def mapping_fingerprint(mapping: Mapping, **options: str | None) -> str:
    """A text that changes whenever reading a file with ``mapping`` and the
    reader's ``options`` (sheet, encoding, zone) could give other rows: every
    rule and value map as loaded, the source options, and the kpitree version
    (a newer reader may parse differently)."""
    import hashlib

    from kpitree import __version__

    text = repr((mapping, sorted(options.items()), __version__))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
