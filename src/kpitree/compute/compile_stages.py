"""Metrics placed on first stage entries, from one reading of the stage history.

The MQL and SQL counts (``time: stage:mql``), the cohort rates between two
stages (商談化率, ``mql_to_opportunity_rate``) and the mean durations between two
stages all start from each lead's first
entry of a few stages. Queried one metric at a time, every one of them groups
the whole stage history again (at a million leads about 0.3 s each). Here they
share one *first-entries relation* (:func:`kpitree.compute.events.stage_firsts`:
per entity, the first entry of every stage the metrics use, a lead's linked
deals standing in for a missing entry, as for one metric), joined to the
entity's rows and to the rep assignment of the day once; each metric is then a
conditional aggregate over it, with the same expressions as its own query
(:mod:`kpitree.compute.compile_pairs`, :mod:`kpitree.compute.placing`).

A fact is placed on the day of its metric's *placing stage* (a count's stage,
a cohort's first stage, a duration's ``place_by`` stage). When the metrics place
facts on several stages (MQLs and SQLs), each entity's row is repeated once per
placing stage (an ``unnest`` of their numbers), still from the one reading of
the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.account_columns import ACCOUNT_COLUMNS
from kpitree.compute.compile_columns import narrowed
from kpitree.compute.events import (
    ID,
    US_PER_HOUR,
    condition_of,
    event_column,
    grouped_by_period,
    is_date_type,
    local_day,
    stage_firsts,
)
from kpitree.compute.metrics import Metric
from kpitree.compute.placing import place_on_day, segment_facts
from kpitree.compute.segments import checked_group

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = ["STAGE_GROUP", "stage_fusable", "stage_query", "stages_of"]

STAGE_GROUP = "stage:*"
"""The event part of the fusion key of metrics placed on first stage entries."""


def _is_stage(ent: Any, event: str | None) -> bool:
    return event is not None and event != "first_activity" and event_column(ent, event) is None


def stage_fusable(metric: Metric) -> tuple[str, str, str] | None:
    """The key metrics share a first-entries relation under (entity,
    :data:`STAGE_GROUP`, credit), or ``None``: counts, sums and averages placed
    on a stage, and cohort conversions from a stage to a stage."""
    ent = metric.entity
    spec = metric.spec
    if ent is None or ent.stages is None or metric.sla_rule is not None or spec.snapshot:
        return None
    if any(c in ACCOUNT_COLUMNS for c in (*spec.where, spec.measure)):
        return None  # joined per metric (kpitree.compute.account_columns)
    if metric.type in ("count", "sum", "average"):
        ok = _is_stage(ent, spec.time or ent.time)
    elif metric.type == "conversion":
        ok = spec.mode != "period" and _is_stage(ent, spec.from_) and _is_stage(ent, spec.to)
    elif metric.type == "duration":  # a mean adds up; a median does not
        ok = spec.stat != "median" and _is_stage(ent, spec.from_) and _is_stage(ent, spec.to)
    else:
        ok = False
    return (ent.name, STAGE_GROUP, ent.credit or "owner") if ok else None


def _placing(metric: Metric) -> str:
    """The stage whose first entry places the metric's facts."""
    spec = metric.spec
    if metric.type == "duration":
        event = spec.to if spec.place_by == "to" else spec.from_
    else:
        event = spec.from_ if metric.type == "conversion" else spec.time
    assert event is not None
    return event.removeprefix("stage:")


def _other(metric: Metric) -> str | None:
    """The second stage a cohort or a duration reads besides its placing one."""
    spec = metric.spec
    if metric.type == "conversion":
        assert spec.to is not None
        return spec.to.removeprefix("stage:")
    if metric.type == "duration":
        assert spec.from_ is not None and spec.to is not None
        pair = {spec.from_.removeprefix("stage:"), spec.to.removeprefix("stage:")}
        rest = pair - {_placing(metric)}
        return rest.pop() if rest else _placing(metric)
    return None


def stages_of(metrics: Sequence[Metric]) -> tuple[list[str], list[str]]:
    """The placing stages of ``metrics`` and every stage they read (the placing
    ones first), in the order the metrics name them."""
    placing = list(dict.fromkeys(_placing(m) for m in metrics))
    seconds = [o for o in (_other(m) for m in metrics) if o is not None]
    return placing, list(dict.fromkeys([*placing, *seconds]))


def stage_query(
    engine: Engine,
    metrics: Sequence[Metric],
    periods: Sequence[Period],
    dims: Sequence[str] = (),
    filters: Mapping[str, Sequence[str | None]] | None = None,
    as_of: dt.date | None = None,
) -> ir.Table:
    """One query for metrics of one :func:`stage_fusable` key: columns
    ``<metric>__n`` (and ``__s``, ``__q`` for sums and averages) or, for a
    cohort, ``<metric>__num`` and ``<metric>__den``, per period and ``dims``."""
    import ibis

    keys_seen = {stage_fusable(m) for m in metrics}
    assert len(keys_seen) == 1 and None not in keys_seen
    ent, filters, all_dims = checked_group(engine, metrics, dims, filters)
    placing, names = stages_of(metrics)
    # Only entities entering a placing stage around a short window are looked
    # at (as a cohort of one month is).
    firsts = stage_firsts(engine, ent, names, within=periods, placing=len(placing))
    first = {name: f"__first{i}" for i, name in enumerate(names)}
    if len(placing) == 1:
        rows = firsts.mutate(__k=ibis.literal(0, "int8"), __pat=firsts[first[placing[0]]])
    else:
        numbers = ibis.literal(list(range(len(placing))), type="array<int8>")
        rows = firsts.mutate(__k=numbers.unnest())
        rows = rows.mutate(
            __pat=ibis.cases(*[(rows.__k == k, rows[first[p]]) for k, p in enumerate(placing)])
        )
    rows = rows.filter(rows.__pat.notnull())
    base = narrowed(ent, ent.base(engine), metrics, [*all_dims, *filters])
    conditions = [condition_of(base, m.spec.where) for m in metrics]
    found = [c for c in conditions if c is not None]
    if len(found) == len(conditions):
        keep = found[0]
        for c in found[1:]:
            keep = keep | c
        base = base.filter(keep)
    t = base.inner_join(rows, base[ent.id] == rows[ID])
    t = segment_facts(engine, ent, place_on_day(engine, t, t.__pat, periods), all_dims, filters)

    def aggs(x: ir.Table) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in metrics:
            placed = x.__k == placing.index(_placing(m))
            cond = condition_of(x, m.spec.where)
            sel = placed if cond is None else placed & cond
            if m.type == "count":
                out[f"{m.id}__n"] = x.count(where=sel)
            elif m.type == "conversion":
                out[f"{m.id}__num"] = x.count(where=sel & _converted(x, m, first, as_of))
                out[f"{m.id}__den"] = x.count(where=sel)
            elif m.type == "duration":
                known, dur = _duration(x, m, first, as_of)
                sel = sel & known
                # A negative duration is left out of the value and counted (q).
                out[f"{m.id}__s"] = dur.sum(where=sel & (dur >= 0))
                out[f"{m.id}__n"] = x.count(where=sel & (dur >= 0))
                out[f"{m.id}__q"] = x.count(where=sel & (dur < 0))
            else:
                assert m.spec.measure is not None
                col = x[m.spec.measure]
                out[f"{m.id}__s"] = col.sum(where=sel)
                out[f"{m.id}__n"] = col.count(where=sel)
                out[f"{m.id}__q"] = x.count(where=sel & col.isnull())
        return out

    return grouped_by_period(t, periods, dims, aggs)


def _converted(
    x: ir.Table, metric: Metric, first: Mapping[str, str], as_of: dt.date | None
) -> ir.BooleanValue:
    """Whether an entrant reached the cohort's second stage at or after its
    first, within the window and by ``as_of`` (as
    :func:`kpitree.compute.compile_pairs.conversion_facts` decides it)."""
    import ibis

    spec = metric.spec
    assert spec.to is not None and spec.window_days is not None
    second = x[first[spec.to.removeprefix("stage:")]]
    b_day = local_day(second)
    # Day-precise when either entry is a date; otherwise the instant.
    dated = is_date_type(x.__pat) or is_date_type(second)
    reached = second.notnull() & ((b_day >= x.__day) if dated else (second >= x.__pat))
    if as_of is not None:
        reached = reached & (b_day <= as_of)
    return reached & (b_day <= x.__day + ibis.interval(days=spec.window_days))


def _duration(
    x: ir.Table, metric: Metric, first: Mapping[str, str], as_of: dt.date | None
) -> tuple[ir.BooleanValue, ir.FloatingValue]:
    """Whether an entity has both stages' first entries (the second by
    ``as_of``), and the time between them, as
    :func:`kpitree.compute.compile_pairs.duration_facts` computes it."""
    spec = metric.spec
    assert spec.from_ is not None and spec.to is not None
    a_at = x[first[spec.from_.removeprefix("stage:")]]
    b_at = x[first[spec.to.removeprefix("stage:")]]
    known = a_at.notnull() & b_at.notnull()
    if as_of is not None:
        known = known & (local_day(b_at) <= as_of)
    if spec.duration_unit == "days":
        dur = local_day(b_at).delta(local_day(a_at), unit="day").cast("float64")
    elif is_date_type(a_at) or is_date_type(b_at):
        dur = local_day(b_at).delta(local_day(a_at), unit="day").cast("float64") * 24.0
    else:
        dur = b_at.delta(a_at, unit="microsecond").cast("float64") / US_PER_HOUR
    return known, dur
