"""The names people go by. Facts name their rep by the source's owner id
(``R0016``, a HubSpot owner number); people read the name the ``reps`` table
gives (``森 沙織``). Two reps with the same name keep their id beside it, so
a name never stands for two people."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.engines import Engine

__all__ = ["rep_label", "rep_names", "rep_names_query"]


_NAMES = "rep names"


def _names_query(engine: Engine) -> Any:
    return engine.table("reps").select("rep_id", "name")


def rep_names_query(engine: Engine) -> tuple[str, Callable[[], Any]] | None:
    """:func:`rep_names`' query as a ``(key, build)`` pair for a batch of queries
    (``None``: the engine keeps no compiled SQL)."""
    cache = engine.sql_cache
    if cache is None:
        return None
    return cache.fingerprint(engine, "lookup", _NAMES, owners=False), partial(_names_query, engine)


def rep_names(engine: Engine) -> dict[str, str]:
    """rep id -> display name, for every rep with a name (none without a
    ``reps`` table). A name shared by several reps is followed by the id."""
    from kpitree.compute.querycache import lookup

    try:
        rows = lookup(engine, _NAMES, partial(_names_query, engine)).to_pylist()
    except UserError:  # a database without the reps table
        return {}
    names = {
        str(r["rep_id"]): str(r["name"]).strip()
        for r in rows
        if r["rep_id"] is not None and r["name"] is not None and str(r["name"]).strip()
    }
    shared = Counter(names.values())
    return {rid: f"{name} ({rid})" if shared[name] > 1 else name for rid, name in names.items()}


def rep_label(rep_id: str, names: Mapping[str, str]) -> str:
    """The rep's name, or the id when the organisation gives none."""
    return names.get(rep_id, rep_id)
