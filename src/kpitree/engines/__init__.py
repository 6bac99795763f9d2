"""The SQL seam: where canonical tables are read and metrics computed.

One :class:`Engine` wraps one Ibis backend: the project's DuckDB warehouse by
default, or PostgreSQL, Spark (``pyspark://local[2]``, ``sc://host:15002``) or any
Ibis backend given a URL, or a connection the caller has (:func:`attach_engine`).
Computations are Ibis expressions over :meth:`Engine.table`, so they run
unchanged on every engine; the engine sets the backend's session time zone so
local calendar days agree.

Errors (all :class:`~kpitree.errors.UserError`)::

    KT510  unknown canonical table, or missing from the database
    KT511  kpitree query: not one read-only query
    KT512  kpitree query: the database reports an error in the query
    KT513  engine driver not installed, or unknown URL scheme
    KT514  the database cannot be opened or reached
    KT515  unknown time zone, or one the backend cannot be set to
    KT516  load_canonical refused (read-only engine, a warehouse, bad columns)
    KT517  the database failed while loading

Nothing heavy (ibis, duckdb, pyarrow) is imported until an engine is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.engines.engine import Engine
from kpitree.engines.opening import attach_engine, open_engine, supported_schemes

if TYPE_CHECKING:
    from kpitree.engines.load import canonical_ddl, copy_warehouse, load_canonical


def __getattr__(name: str) -> Any:
    # Loading and copying are imported when used: reading a warehouse needs neither.
    if name in ("canonical_ddl", "copy_warehouse", "load_canonical"):
        from kpitree.engines import load

        return getattr(load, name)
    raise AttributeError(f"module 'kpitree.engines' has no attribute {name!r}")


__all__ = [
    "Engine",
    "attach_engine",
    "canonical_ddl",
    "copy_warehouse",
    "load_canonical",
    "open_engine",
    "supported_schemes",
]
