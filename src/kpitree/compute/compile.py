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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.account_columns import (
    ACCOUNT_COLUMNS,
    AccountJoin,
    account_join,
    split_where,
)
from kpitree.compute.entities import Entity
from kpitree.compute.events import (
    AT,
    ID,
    US_PER_HOUR,
    condition_of,
    event_column,
    event_times,
    filtered,
    grouped_by_period,
    in_window,
    is_date_type,
    local_day,
    stage_firsts,
    window_day,
)
from kpitree.compute.links import follows_links
from kpitree.compute.metrics import Metric
from kpitree.compute.segments import (
    add_dimensions,
    check_dimensions,
    custom_dimensions,
    dimensions_of,
    segment_filters,
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
    ent = metric.entity
    assert ent is not None, metric.id
    filters = filters or {}
    all_dims = list(dict.fromkeys([*dims, *filters]))
    check_dimensions(ent, all_dims, metric.id, custom_dimensions(engine))
    if metric.sla_rule is not None:
        from kpitree.compute.sla import sla_query

        return sla_query(engine, metric, periods, dims, filters, as_of)
    spec = metric.spec
    base, acct = _base(engine, metric, all_dims, periods, as_of)
    if metric.type == "conversion":
        return _conversion(engine, metric, ent, base, periods, dims, all_dims, filters, as_of, acct)
    if metric.type == "duration":
        return _duration(engine, metric, ent, base, periods, dims, all_dims, filters, as_of, acct)
    if spec.snapshot:
        return _snapshot(engine, metric, ent, base, periods, dims, all_dims, filters, acct)
    t = _facts(engine, ent, base, spec.time or ent.time, periods, all_dims, filters, acct)
    return _aggregate(t, metric, periods, dims)


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
    ent = metric.entity
    assert ent is not None, metric.id
    filters = filters or {}
    all_dims = list(dict.fromkeys([*dims, *filters]))
    check_dimensions(ent, all_dims, metric.id)
    if metric.sla_rule is not None:
        return {}
    spec = metric.spec
    periods = [period]
    base, acct = _base(engine, metric, all_dims, periods, as_of)
    if metric.type == "conversion":
        found = _conversion_facts(
            engine, metric, ent, base, periods, all_dims, filters, as_of, acct
        )
        if "converted" not in found:
            t = found["entrants"]
            found["converted"] = t.filter(t.__conv == 1)
        return found
    if metric.type == "duration":
        t = _duration_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
        return {"facts": t.filter(t.__dur >= 0)}
    if spec.snapshot:
        snaps = _snapshot_facts(engine, metric, ent, base, periods, all_dims, filters, acct)
        return {"facts": snaps[0]}
    event = spec.time or ent.time
    return {"facts": _facts(engine, ent, base, event, periods, all_dims, filters, acct)}


def _base(
    engine: Engine,
    metric: Metric,
    dims: Sequence[str],
    periods: Sequence[Period],
    as_of: dt.date | None,
) -> tuple[ir.Table, AccountJoin | None]:
    """The entity's rows kept by the metric's conditions on its own columns,
    and how its facts gain the ABM account columns the metric uses (and are
    kept by its conditions on them) once placed on their day."""
    ent = metric.entity
    assert ent is not None
    spec = metric.spec
    own, on_accounts = split_where(spec.where)
    used = [*spec.where, *dims, spec.measure or ""]
    acct = account_join(engine, ent, used, on_accounts, periods, as_of)
    return filtered(ent.base(engine), own), acct


def _facts(
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
    return _segmented(engine, ent, _on_day(engine, t, at, periods), all_dims, filters, acct)


def _segmented(
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


def _on_day(engine: Engine, t: ir.Table, at: ir.Value, periods: Sequence[Period]) -> ir.Table:
    """Facts placed on the local day of ``at``, within the periods' window."""
    t = t.mutate(__day=window_day(engine, at, periods))
    return t.filter(in_window(t.__day, periods))


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
    ent = metrics[0].entity
    assert ent is not None
    filters = filters or {}
    all_dims = list(dict.fromkeys([*dims, *filters]))
    for m in metrics:
        check_dimensions(ent, all_dims, m.id, custom_dimensions(engine))
    event = metrics[0].spec.time or ent.time
    base = ent.base(engine)
    conditions = [condition_of(base, m.spec.where) for m in metrics]
    found = [c for c in conditions if c is not None]
    if len(found) == len(conditions):
        # Every metric filters: scan only the rows some metric keeps.
        keep = found[0]
        for c in found[1:]:
            keep = keep | c
        base = base.filter(keep)
    t = _facts(engine, ent, base, event, periods, all_dims, filters)

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


def _aggregate(
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


def _two_events(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    as_of: dt.date | None,
    cohort_of: Sequence[Period] | None = None,
) -> tuple[ir.Table, ir.Table]:
    """The ``from`` events ``(__id, __at)`` and the ``to`` events ``(__bid, __bat)``
    of a conversion or duration; second events after ``as_of`` are not known yet.
    With ``cohort_of``, first events are looked for around those periods'
    window only, and second events only of the entities whose first event
    falls in it (a cohort needs no others)."""
    spec = metric.spec
    assert spec.from_ and spec.to
    stages = [e for e in (spec.from_, spec.to) if event_column(ent, e) is None]
    if (
        len(stages) == 2
        and spec.to != "first_activity"
        and not follows_links(engine, ent.name, stages)
    ):
        # Both events are stages: their first entries from one pass over the
        # history (a cohort's second events are kept to its entrants by the join).
        names = [e.removeprefix("stage:") for e in stages]
        firsts = stage_firsts(engine, ent, names, within=cohort_of)
        a = firsts.filter(firsts.__first0.notnull()).select(**{ID: firsts[ID], AT: firsts.__first0})
        b = firsts.filter(firsts.__first1.notnull()).select(__bid=firsts[ID], __bat=firsts.__first1)
        if as_of is not None:
            b = b.filter(local_day(b.__bat) <= as_of)
        return a, b
    a = event_times(engine, ent, base, spec.from_, within=cohort_of)
    if spec.to == "first_activity":
        b = _first_activity(engine, ent, a)
    else:
        only = None
        if cohort_of is not None:
            only = _started_in(engine, ent, base, spec.from_, a, cohort_of)
        b = event_times(engine, ent, base, spec.to, only)
        b = b.select(__bid=b[ID], __bat=b[AT])
    if as_of is not None:
        b = b.filter(local_day(b.__bat) <= as_of)
    return a, b


def _started_in(
    engine: Engine,
    ent: Entity,
    base: ir.Table,
    event: str,
    a: ir.Table,
    periods: Sequence[Period],
) -> ir.Column:
    """Ids of the entities whose ``event`` (their events ``a``) falls in the
    periods' window. An event that is a column of ``base`` is read from
    ``base`` again: written on ``a``, the query would use ``a`` twice, and
    DuckDB materialises such a shared subquery in full (every lead, to keep
    the few of one month)."""
    found = event_column(ent, event)
    if found is None:  # a stage: its first entries, computed once and shared
        return _on_day(engine, a, a[AT], periods)[ID]
    column, status = found
    rows = base if status is None else base.filter(base.status == status)
    rows = rows.filter(rows[column].notnull())
    return _on_day(engine, rows, rows[column], periods)[ent.id]


def _conversion(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    dims: Sequence[str],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
    acct: AccountJoin | None = None,
) -> ir.Table:
    import ibis

    keys = ["period", *[f"dim__{d}" for d in dims]]
    facts = _conversion_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
    if "converted" in facts:
        # Events of each kind in the period, each entity at most once per kind.
        parts = []
        for name, t in (("den", facts["entrants"]), ("num", facts["converted"])):
            agg = grouped_by_period(t, periods, dims, lambda x: {"c": x.count()})
            zero = ibis.literal(0, "int64")
            parts.append(
                agg.mutate(
                    num=agg.c if name == "num" else zero, den=agg.c if name == "den" else zero
                ).drop("c")
            )
        u = ibis.union(*parts)
        return u.group_by(keys).aggregate(num=u.num.sum(), den=u.den.sum())
    t = facts["entrants"]
    return grouped_by_period(t, periods, dims, lambda x: {"num": x.__conv.sum(), "den": x.count()})


def _conversion_facts(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
    acct: AccountJoin | None = None,
) -> dict[str, ir.Table]:
    """A conversion's facts: ``entrants`` (a cohort's, with ``__conv`` 1 for
    those converted in time) or, counted by period, ``entrants`` and
    ``converted`` (the first and the second events in the period)."""
    import ibis

    spec = metric.spec
    cohort = spec.mode != "period"
    a, b = _two_events(engine, metric, ent, base, as_of, periods if cohort else None)
    if spec.mode == "period":
        out = {}
        for name, ev, at in (("entrants", a, AT), ("converted", b, "__bat")):
            idcol = ID if name == "entrants" else "__bid"
            t = base.inner_join(ev, base[ent.id] == ev[idcol])
            out[name] = _segmented(
                engine, ent, _on_day(engine, t, t[at], periods), all_dims, filters, acct
            )
        return out
    t = base.inner_join(a, base[ent.id] == a[ID])
    t = _on_day(engine, t, t[AT], periods)
    t = t.left_join(b, t[ent.id] == b.__bid)
    a_day, b_day = t.__day, local_day(t.__bat)
    # Day-precise when either event is a date; otherwise the instant.
    dated = is_date_type(t[AT]) or is_date_type(t.__bat)
    after = (b_day >= a_day) if dated else (t.__bat >= t[AT])
    assert spec.window_days is not None
    within = b_day <= a_day + ibis.interval(days=spec.window_days)
    # CASE, not a cast: PostgreSQL cannot cast a boolean to an integer.
    converted = ibis.ifelse(t.__bat.notnull() & after & within, 1, 0)
    t = t.mutate(__conv=converted)
    return {"entrants": _segmented(engine, ent, t, all_dims, filters, acct)}


def _first_activity(engine: Engine, ent: Entity, a: ir.Table) -> ir.Table:
    """``(__bid, __bat)``: first activity on the entity at or after its start event."""
    acts = engine.table("activities")
    link = "lead_id" if ent.name == "leads" else "deal_id"
    acts = acts.select(__aid=acts[link], __occ=acts.occurred_at).filter(acts[link].notnull())
    j = a.inner_join(acts, [a[ID] == acts.__aid, acts.__occ >= a[AT]])
    return j.group_by(__bid=j[ID]).aggregate(__bat=j.__occ.min())


def _duration(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    dims: Sequence[str],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
    acct: AccountJoin | None = None,
) -> ir.Table:
    t = _duration_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
    # A negative duration (a deal won before its lead's first contact, a
    # record created after the fact) is left out of the value and counted
    # (``q``), so the status can say how many were.
    if metric.spec.stat == "median":

        def median(x: ir.Table) -> dict[str, Any]:
            import ibis

            kept = x.__dur >= 0
            # Not median(where=...): Ibis compiles that to a percentile whose
            # fraction is a CASE expression, which Spark rejects. Median skips NULLs.
            return {
                "v": ibis.ifelse(kept, x.__dur, None).median(),
                "n": x.count(where=kept),
                "q": x.count(where=~kept),
            }

        return grouped_by_period(t, periods, dims, median, additive=False)

    def mean(x: ir.Table) -> dict[str, Any]:
        kept = x.__dur >= 0
        return {
            "s": x.__dur.sum(where=kept),
            "n": x.count(where=kept),
            "q": x.count(where=~kept),
        }

    return grouped_by_period(t, periods, dims, mean)


def _duration_facts(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
    acct: AccountJoin | None = None,
) -> ir.Table:
    """A duration's facts, each with its duration ``__dur``."""
    spec = metric.spec
    a, b = _two_events(engine, metric, ent, base, as_of)
    t = base.inner_join(a, base[ent.id] == a[ID])
    t = t.inner_join(b, t[ent.id] == b.__bid)
    a_at, b_at = t[AT], t.__bat
    if spec.duration_unit == "days":
        dur = local_day(b_at).delta(local_day(a_at), unit="day").cast("float64")
    else:
        if is_date_type(a_at) or is_date_type(b_at):
            dur = local_day(b_at).delta(local_day(a_at), unit="day").cast("float64") * 24.0
        else:
            # Elapsed microseconds, the instants' precision: a difference in
            # seconds counts second boundaries crossed on DuckDB but whole
            # seconds elapsed on Spark.
            dur = b_at.delta(a_at, unit="microsecond").cast("float64") / US_PER_HOUR
    place = a_at if spec.place_by == "from" else b_at
    t = t.mutate(__dur=dur, __day=window_day(engine, place, periods))
    t = t.filter(in_window(t.__day, periods))
    return _segmented(engine, ent, t, all_dims, filters, acct)


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
        _aggregate(t, metric, [p], dims).mutate(period=ibis.literal(i, "int64"))
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
        parts.append(_segmented(engine, ent, t, all_dims, filters, acct))
    return parts
