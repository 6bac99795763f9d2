"""Facts placed on their local day within the periods' window, given their
segment dimensions and the ABM columns of that day, and aggregated into the
parts a metric's value is made from (:mod:`kpitree.compute.compile`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.account_columns import (
    AccountJoin,
)
from kpitree.compute.entities import Entity
from kpitree.compute.events import (
    AT,
    ID,
    event_times,
    grouped_by_period,
    in_window,
    window_day,
)
from kpitree.compute.metrics import Metric
from kpitree.compute.segments import (
    add_dimensions,
    segment_filters,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = ["aggregate_parts", "place_facts", "place_on_day", "segment_facts"]


def place_facts(
    engine: Engine,
    ent: Entity,
    base: ir.Table,
    event: str,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    acct: AccountJoin | None = None,
) -> ir.Table:
    """Rows of ``base`` placed by ``event``: with ``__day``, dimensions and period."""
    if event in ent.closes:
        column, status = ent.closes[event]
        t = base.filter(base.status == status)
        at = t[column]
    elif event in ent.columns():
        t = base
        at = t[event]
    else:
        ev = event_times(engine, ent, base, event)
        t = base.inner_join(ev, base[ent.id] == ev[ID])
        at = t[AT]
    return segment_facts(engine, ent, place_on_day(engine, t, at, periods), all_dims, filters, acct)


def segment_facts(
    engine: Engine,
    ent: Entity,
    t: ir.Table,
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    acct: AccountJoin | None = None,
) -> ir.Table:
    """Facts with a ``__day``, given the ABM columns of that day (``acct``),
    their dimensions and the segment filters."""
    if acct is not None:
        t = acct(t)
    t = add_dimensions(engine, ent, t, all_dims, "__day")
    return segment_filters(t, filters)


def place_on_day(engine: Engine, t: ir.Table, at: ir.Value, periods: Sequence[Period]) -> ir.Table:
    """Facts placed on the local day of ``at``, within the periods' window."""
    t = t.mutate(__day=window_day(engine, at, periods))
    return t.filter(in_window(t.__day, periods))


def aggregate_parts(
    t: ir.Table, metric: Metric, periods: Sequence[Period], dims: Sequence[str]
) -> ir.Table:
    spec = metric.spec
    kind = metric.type
    if kind == "count":
        return grouped_by_period(t, periods, dims, lambda x: {"n": x.count()})
    assert spec.measure is not None
    measure = spec.measure
    if kind in ("sum", "average"):
        return grouped_by_period(
            t,
            periods,
            dims,
            lambda x: {
                "s": x[measure].sum(),
                "n": x[measure].count(),
                "q": x.count(where=x[measure].isnull()),
            },
        )
    reducers: dict[str, Callable[[Any], Any]] = {
        "count_distinct": lambda c: c.nunique(),
        "median": lambda c: c.median(),
        "min": lambda c: c.min(),
        "max": lambda c: c.max(),
    }
    reduce = reducers[kind]
    return grouped_by_period(
        t,
        periods,
        dims,
        lambda x: {"v": reduce(x[measure]), "n": x[measure].count()},
        additive=False,
    )
