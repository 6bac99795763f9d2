"""A DuckDB statement's result as Arrow, read from the statement itself."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["duckdb_arrow"]

# DuckDB warns that a statement's result read as Arrow is copied once more
# than a relation's; kpitree's statements give small results (one row per
# period and segment), and a relation parses and binds its text twice (once
# to describe it, once to run it): about a third of a small company's query time.
warnings.filterwarnings(
    "ignore",
    message="Arrow output on a DB-API result makes an extra copy",
    category=UserWarning,
    module=__name__,
)


def duckdb_arrow(con: Any, sql: str) -> pa.Table:
    """The result of ``sql`` on a DuckDB connection or cursor as an Arrow
    table, the statement parsed, bound and planned once."""
    result: pa.Table = con.execute(sql).to_arrow_table()
    return result
