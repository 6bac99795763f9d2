"""Metrics as Ibis expressions: one query per metric gives every period and
segment at once.

Each query returns a period index ``period`` (position in the requested list of
periods), one column per segment dimension, and the metric's *parts*: counts
and sums that add up over disjoint segments (``n``, ``s``, ``num``, ``den``), or
for order statistics and distinct counts the value itself (``v``). Values are
made from parts afterwards (:mod:`kpitree.compute.measure`), which is what lets
a team's number be the sum of its reps' without a second scan.

Time: a fact's day is the local calendar day of its event in the engine's
session time zone (see :class:`kpitree.engines.Engine`); periods are inclusive
day ranges, so a period truncated to date simply ends earlier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.account_columns import (
    ACCOUNT_COLUMNS,
    AccountJoin,
    account_join,
    split_where,
)
from kpitree.compute.compile_columns import narrowed
from kpitree.compute.compile_pairs import (
    conversion_facts,
    conversion_query,
    duration_facts,
    duration_query,
)
from kpitree.compute.entities import Entity
from kpitree.compute.events import (
    condition_of,
    filtered,
    grouped_by_period,
    local_day,
)
from kpitree.compute.metrics import Metric
from kpitree.compute.placing import aggregate_parts, place_facts, segment_facts
from kpitree.compute.segments import (
    checked_group,
    dimensions_of,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = ["dimensions_of", "fusable", "fused_query", "metric_facts", "metric_query"]


def metric_query(
    engine: Engine,
    metric: Metric,
    periods: Sequence[Period],
    dims: Sequence[str] = (),
    filters: Mapping[str, Sequence[str | None]] | None = None,
    as_of: dt.date | None = None,
) -> ir.Table:
    """The Ibis query of one entity-based metric over ``periods``, grouped by
    period index and ``dims`` (columns ``dim__<name>``), with its parts.
    Second events (conversions, durations) after ``as_of`` are not counted."""
    ent, filters, all_dims = checked_group(engine, [metric], dims, filters)
    if metric.sla_rule is not None:
        from kpitree.compute.sla import sla_query

        return sla_query(engine, metric, periods, dims, filters, as_of)
    spec = metric.spec
    base, acct = _base(engine, metric, all_dims, periods, as_of, narrow=True)
    if metric.type == "conversion":
        return conversion_query(
            engine, metric, ent, base, periods, dims, all_dims, filters, as_of, acct
        )
    if metric.type == "duration":
        return duration_query(
            engine, metric, ent, base, periods, dims, all_dims, filters, as_of, acct
        )
    if spec.snapshot:
        return _snapshot(engine, metric, ent, base, periods, dims, all_dims, filters, acct)
    t = place_facts(engine, ent, base, spec.time or ent.time, periods, all_dims, filters, acct)
    return aggregate_parts(t, metric, periods, dims)


def metric_facts(
    engine: Engine,
    metric: Metric,
    period: Period,
    dims: Sequence[str] = (),
    filters: Mapping[str, Sequence[str | None]] | None = None,
    as_of: dt.date | None = None,
) -> dict[str, ir.Table]:
    """The facts one period's value of an entity-based metric is aggregated
    from, by the same expressions as :func:`metric_query` (one row per fact,
    with ``__day``, ``dim__<d>`` for ``dims`` and filters): ``facts`` (counts,
    sums, averages, snapshots; durations with ``__dur``, the negative ones
    left out as the value leaves them out) or, for a conversion, ``entrants``
    and ``converted``. SLA metrics have no facts here (``{}``)."""
    ent, filters, all_dims = checked_group(engine, [metric], dims, filters)
    if metric.sla_rule is not None:
        return {}
    spec = metric.spec
    periods = [period]
    base, acct = _base(engine, metric, all_dims, periods, as_of)
    if metric.type == "conversion":
        found = conversion_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
        if "converted" not in found:
            t = found["entrants"]
            found["converted"] = t.filter(t.__conv == 1)
        return found
    if metric.type == "duration":
        t = duration_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
        return {"facts": t.filter(t.__dur >= 0)}
    if spec.snapshot:
        snaps = _snapshot_facts(engine, metric, ent, base, periods, all_dims, filters, acct)
        return {"facts": snaps[0]}
    event = spec.time or ent.time
    return {"facts": place_facts(engine, ent, base, event, periods, all_dims, filters, acct)}


def _base(
    engine: Engine,
    metric: Metric,
    dims: Sequence[str],
    periods: Sequence[Period],
    as_of: dt.date | None,
    *,
    narrow: bool = False,
) -> tuple[ir.Table, AccountJoin | None]:
    """The entity's rows kept by the metric's conditions on its own columns,
    and how its facts gain the ABM account columns the metric uses (and are
    kept by its conditions on them) once placed on their day. ``narrow``: only
    the columns the metric and the dimensions read (a query's, not the facts
    shown to a user)."""
    ent = metric.entity
    assert ent is not None
    spec = metric.spec
    own, on_accounts = split_where(spec.where)
    used = [*spec.where, *dims, spec.measure or ""]
    acct = account_join(engine, ent, used, on_accounts, periods, as_of)
    base = ent.base(engine)
    if narrow:
        base = narrowed(ent, base, [metric], dims)
    return filtered(base, own), acct


def fusable(metric: Metric) -> tuple[str, str, str] | None:
    """Metrics with the same key can share one scan (count / sum / average over
    the same entity and event credited alike, each with its own filter)."""
    ent = metric.entity
    if ent is None or metric.type not in ("count", "sum", "average") or metric.spec.snapshot:
        return None
    if any(c in ACCOUNT_COLUMNS for c in (*metric.spec.where, metric.spec.measure)):
        return None  # joined per metric (kpitree.compute.account_columns)
    return ent.name, metric.spec.time or ent.time, ent.credit or "owner"


def fused_query(
    engine: Engine,
    metrics: Sequence[Metric],
    periods: Sequence[Period],
    dims: Sequence[str] = (),
    filters: Mapping[str, Sequence[str | None]] | None = None,
) -> ir.Table:
    """One query for several fusable metrics: columns ``<metric>__n`` and
    ``<metric>__s`` (conditional aggregates, one per metric's filter)."""
    keys_seen = {fusable(m) for m in metrics}
    assert len(keys_seen) == 1 and None not in keys_seen
    ent, filters, all_dims = checked_group(engine, metrics, dims, filters)
    event = metrics[0].spec.time or ent.time
    base = narrowed(ent, ent.base(engine), metrics, [*all_dims, *filters])
    conditions = [condition_of(base, m.spec.where) for m in metrics]
    found = [c for c in conditions if c is not None]
    if len(found) == len(conditions):
        # Every metric filters: scan only the rows some metric keeps.
        keep = found[0]
        for c in found[1:]:
            keep = keep | c
        base = base.filter(keep)
    t = place_facts(engine, ent, base, event, periods, all_dims, filters)

    def aggs(x: ir.Table) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in metrics:
            cond = condition_of(x, m.spec.where)
            if m.type == "count":
                out[f"{m.id}__n"] = x.count(where=cond)
            else:
                assert m.spec.measure is not None
                col = x[m.spec.measure]
                out[f"{m.id}__s"] = col.sum(where=cond)
                out[f"{m.id}__n"] = col.count(where=cond)
                # Facts without a value (a won deal without an amount): counted
                # by a count metric, left out of this sum or average; said so.
                empty = col.isnull() if cond is None else cond & col.isnull()
                out[f"{m.id}__q"] = x.count(where=empty)
        return out

    return grouped_by_period(t, periods, dims, aggs)


def _snapshot(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    dims: Sequence[str],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    acct: AccountJoin | None = None,
) -> ir.Table:
    """Facts open on the last day of each period: opened on or before it and not
    closed by then (deals: still open, or closed after that day)."""
    import ibis

    facts = _snapshot_facts(engine, metric, ent, base, periods, all_dims, filters, acct)
    parts = [
        aggregate_parts(t, metric, [p], dims).mutate(period=ibis.literal(i, "int64"))
        for i, (p, t) in enumerate(zip(periods, facts, strict=True))
    ]
    return ibis.union(*parts)


def _snapshot_facts(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    acct: AccountJoin | None = None,
) -> list[ir.Table]:
    """Per period, the facts open on its last day."""
    import ibis

    spec = metric.spec
    opened = local_day(base[spec.time or ent.time])
    closed_col = base[spec.closed_by] if spec.closed_by else None
    if closed_col is not None and ent.closes:
        closed = ibis.ifelse(base.status.isin(["won", "lost"]), local_day(closed_col), None)
    elif closed_col is not None:
        closed = local_day(closed_col)
    else:
        closed = ibis.null("date")
    t0 = base.mutate(__open=opened, __closed=closed)
    parts = []
    for p in periods:
        t = t0.filter((t0.__open <= p.end) & (t0.__closed.isnull() | (t0.__closed > p.end)))
        t = t.mutate(__day=ibis.literal(p.end))
        parts.append(segment_facts(engine, ent, t, all_dims, filters, acct))
    return parts
