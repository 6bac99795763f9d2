"""The columns of an entity's rows that a group of metrics reads, so that a
query carries only those through its layers (:mod:`kpitree.compute.compile`,
:mod:`kpitree.compute.compile_stages`).

Each layer of a compiled query lists every column it passes on: a query that
starts from every column of a wide table (a lead's twelve, its JSON
attributes among them) repeats them in each of its nested selects, and the
database parses and binds all of them before it prunes them. Starting from
the columns the metrics, the segment dimensions and the crediting read gives
the same rows and numbers in a shorter statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kpitree.compute.entities import Entity
from kpitree.compute.metrics import Metric

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["narrowed"]


def _entity_columns(ent: Entity) -> Iterable[str | None]:
    """What any fact of ``ent`` may read: its id, default event, owner,
    links to leads and accounts, closing events and crediting column."""
    yield from (ent.id, ent.time, ent.owner, ent.lead_column, ent.account_column)
    for column, _ in ent.closes.values():
        yield column
    if ent.closes:
        yield "status"
    credit = ent.credit
    if credit is not None and credit.startswith("attributes."):
        yield "attributes"
    elif credit not in (None, "owner", "lead_owner"):
        yield credit


def _metric_columns(metric: Metric) -> Iterable[str | None]:
    spec = metric.spec
    yield from spec.where
    yield from (spec.measure, spec.time, spec.from_, spec.to, spec.closed_by)


def narrowed(
    ent: Entity, base: ir.Table, metrics: Sequence[Metric], dims: Iterable[str]
) -> ir.Table:
    """``base`` (the entity's rows) with only the columns ``metrics`` and the
    dimensions ``dims`` (the groups' and the filters') may read, in its order."""
    used = {*_entity_columns(ent), *dims}
    for metric in metrics:
        used.update(_metric_columns(metric))
    kept = [c for c in base.columns if c in used]
    return base if len(kept) == len(base.columns) else base.select(*kept)
