"""Rule results of the data-quality check kept across writes that leave their
tables alone.

The dashboard checks the data again after every import (every page warns on
the nodes a finding touches). On a large warehouse most of that is rules over
tables the import did not write: a file of seven deals leaves the activities'
dangling references and the lead stage history's skips as they were. Within a
process, a rule's result (its count and first ids) is used again when

- the same SQL asks it (the rule, its thresholds and the as-of day are in the
  text) of the same warehouse file, in the same time zone,
- every table it reads is a canonical table whose write version
  (``kpitree_table_versions``, bumped by every import, bulk load and undo) is
  the one it was counted on,
- and the file is in the same state, or kpitree wrote it since (some table's
  version moved): a file changed with no version moving was written by another
  tool, and nothing counted before is used. (A change by another tool that a
  kpitree write follows before the next check is not told apart, as for the
  account scores kept across writes, :mod:`kpitree.abm.daily`.)

Only a kpitree warehouse file read through a read-only engine has versions
(:meth:`kpitree.engines.engine.Engine.data_state`); elsewhere every rule is
counted every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = ["kept_count", "used_again"]

Counted = tuple[int, tuple[str, ...]]
_MAX_ENTRIES = 512
# (where, time zone, SQL) -> (versions read, file stamp, every version, result)
_KEPT: dict[tuple[str, str, str], tuple[tuple[tuple[str, int], ...], str, dict[str, int], Counted]]
_KEPT = {}
_LOCK = threading.Lock()
_USED = [0]


def used_again() -> int:
    """How many rule results this process has used again so far."""
    return _USED[0]


def kept_count(engine: Engine, ids: ir.Table, count: Callable[[], Counted]) -> Counted:
    """``count()`` (how many ids and the first of them), or the same rule's
    result counted on an earlier state of the file that holds for this one
    (see the module)."""
    state = engine.data_state()
    read = None if state is None else _tables_read(ids)
    if state is None or read is None:
        return count()
    stamp, versions = state
    if not set(read) <= set(versions):
        return count()
    key = (engine.where, engine.timezone, engine.compile(ids))
    mine = tuple((name, versions[name]) for name in read)
    with _LOCK:
        found = _KEPT.get(key)
    if found is not None:
        kept_versions, kept_stamp, kept_all, result = found
        if kept_versions == mine and (kept_stamp == stamp or kept_all != versions):
            with _LOCK:
                _USED[0] += 1
                # It holds for this state now: a later change by another
                # tool is told from this state, not from the one it was counted on.
                _KEPT[key] = (mine, stamp, dict(versions), result)
            return result
    result = count()
    with _LOCK:
        if len(_KEPT) >= _MAX_ENTRIES:
            _KEPT.clear()
        _KEPT[key] = (mine, stamp, dict(versions), result)
    return result


def _tables_read(ids: ir.Table) -> list[str] | None:
    """The canonical tables ``ids`` reads, sorted; ``None`` when it reads any
    other table or values held in Python (never kept)."""
    import ibis.expr.operations as ops

    from kpitree.data.schema import TABLES

    op = ids.op()
    if op.find(ops.InMemoryTable):
        return None
    names = {t.name for t in op.find(ops.DatabaseTable)}
    if not names or not names <= {t.name for t in TABLES}:
        return None
    return sorted(names)
