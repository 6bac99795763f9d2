"""What a reader hands to the warehouse: one source file mapped onto canonical tables.

A :class:`MappedBatch` is the whole contract between reading/mapping a file and
storing it: the warehouse never looks at the source file again, it only needs the
typed canonical rows, the rejected cells (with where they were) and the original
text of the rejected rows (to write them back out for fixing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpitree.errors import Diagnostic
from kpitree.i18n import Msg

if TYPE_CHECKING:
    import pyarrow

    from kpitree.data.dimensions import DeclaredDimension

__all__ = ["MappedBatch", "Reject", "SqlRows"]


@dataclass(frozen=True)
class SqlRows:
    """Rows of a canonical table that stay inside the warehouse's own DuckDB
    connection (a file read and parsed there, see :mod:`kpitree.data.inplace`):
    a ``SELECT`` the warehouse inserts from, instead of an Arrow table."""

    sql: str
    """A query over the connection's attached read database, typed as the schema
    says (up to a cast)."""
    column_names: tuple[str, ...]
    rows: int | None
    """How many rows the query gives; ``None``: not counted (the writer counts
    them only if it needs to)."""


@dataclass(frozen=True)
class Reject:
    """One bad cell (or row) of a source file."""

    file: str
    """Path of the source file as the user gave it."""
    row: int
    """Row number as the user sees it in Excel (header = 1, first data row = 2)."""
    column: str | None
    """Source column name, or ``None`` when the whole row is wrong."""
    value: str | None
    """The raw cell text."""
    reason: str
    """Human message, already rendered in the current language."""
    message: Msg | None = None
    """The same message, to render in another language (:meth:`text`)."""

    def text(self, lang: str | None = None) -> str:
        """The reason in ``lang`` (the web preview speaks the browser's language)."""
        return self.reason if self.message is None else self.message.render(lang)


@dataclass
class MappedBatch:
    """One source file read and mapped onto the canonical model."""

    source_file: str
    file_hash: str
    """sha256 hex digest of the file bytes."""
    mapping_name: str
    """Mapping file path or preset name."""
    rows_read: int
    tables: dict[str, pyarrow.Table]
    """Canonical table name -> rows. Columns are a subset of the schema's columns that
    includes the whole primary key, typed as the schema says."""
    rejects: list[Reject]
    rejected_rows: list[dict[str, str]]
    """The original source rows (header -> raw text) that were rejected, in the order
    of their first reject; each has the key ``"__row__"`` with its row number."""
    validated: bool = False
    """Whether every table's primary key is known to be unique and its required
    columns filled (the reader made it so), which spares the warehouse its own
    checks."""
    warnings: list[Diagnostic] = field(default_factory=list)
    """Located warnings about the file that do not stop the import (e.g. ``?``
    where a Shift_JIS export lost characters)."""
    dimensions: tuple[DeclaredDimension, ...] = ()
    """The mapping's custom dimensions, with the header each was read from."""
    mapping_hash: str | None = None
    """What the file was read with (:func:`kpitree.data.mapping.mapping_fingerprint`),
    kept in the import log so that the same file read the same way again is
    recognised."""
    kept: dict[str, SqlRows] | None = None
    """Canonical table name -> rows, when the file was read inside the
    warehouse's connection (:mod:`kpitree.data.inplace`; ``tables`` is then
    empty): readable only while that connection is open."""
    owner_counts: dict[str, dict[str, int]] | None = None
    """Canonical table -> owner id -> rows naming it, counted where the tables
    are :class:`SqlRows` (``None``: count them from ``tables``)."""
