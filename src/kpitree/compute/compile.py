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
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.entities import Entity
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

_ID = "__id"
_AT = "__at"


_US_PER_HOUR = 3_600_000_000.0


def _is_date_type(expr: ir.Value) -> bool:
    return bool(expr.type().is_date())


def _day(expr: ir.Value) -> ir.DateValue:
    """The local calendar day of an instant (dates stay as they are)."""
    return expr if _is_date_type(expr) else expr.date()


# How far around a window of days a zone's UTC offset must not change for
# :func:`_window_day` to take the fast path: an instant outside it is placed at
# most one day off, so it still falls outside the window.
_MARGIN = dt.timedelta(days=2)


@functools.lru_cache(maxsize=256)
def _fixed_offset(zone: str, first: dt.date, last: dt.date) -> int | None:
    """The UTC offset of ``zone`` in microseconds when it is the same from two
    days before ``first`` to two days after ``last`` (checked every six hours;
    no zone changes its offset twice within that), else ``None``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    at = dt.datetime.combine(first - _MARGIN, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(last + _MARGIN, dt.time(), tzinfo=dt.UTC)
    offset = at.astimezone(tz).utcoffset()
    while at <= end:
        if at.astimezone(tz).utcoffset() != offset:
            return None
        at += dt.timedelta(hours=6)
    assert offset is not None
    return int(offset // dt.timedelta(microseconds=1))


@functools.cache
def _duckdb_epoch_functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """DuckDB's ``epoch_us`` and ``make_timestamp`` as Ibis functions."""
    import ibis
    import ibis.expr.datatypes as dtypes

    def epoch_us(x: Any) -> Any:
        """Microseconds since 1970-01-01 UTC."""

    def make_timestamp(x: Any) -> Any:
        """The timestamp (no zone) so many microseconds after 1970-01-01."""

    # Annotations as objects: this module's own are strings (postponed).
    epoch_us.__annotations__ = {"x": dtypes.Timestamp(timezone="UTC"), "return": dtypes.int64}
    make_timestamp.__annotations__ = {"x": dtypes.int64, "return": dtypes.timestamp}
    builtin = ibis.udf.scalar.builtin
    return builtin(epoch_us, name="epoch_us"), builtin(make_timestamp, name="make_timestamp")


def _window_day(engine: Engine, expr: ir.Value, periods: Sequence[Period]) -> ir.DateValue:
    """The local day of ``expr`` for facts that are then kept only within the
    periods' window (:func:`_in_window`).

    On DuckDB, in a zone whose UTC offset does not change around the window
    (Asia/Tokyo, UTC), the day is that of the instant's epoch plus the offset:
    exact within the window and four to five times faster than converting every
    fact's instant through the time-zone library. Elsewhere it is :func:`_day`."""
    kind = expr.type()
    if engine.name != "duckdb" or not kind.is_timestamp() or kind.timezone is None:
        return _day(expr)
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    offset = _fixed_offset(engine.timezone, first, last)
    if offset is None:
        return _day(expr)
    import ibis

    epoch_us, make_timestamp = _duckdb_epoch_functions()
    local = make_timestamp(epoch_us(expr) + ibis.literal(offset, "int64"))
    return local.date()


def _event_column(ent: Entity, event: str) -> tuple[str, str | None] | None:
    """The column of ``base`` that holds ``event`` and the status its rows
    must have (closing events such as ``won``), or ``None`` for a stage,
    which is in the stage history."""
    if event in ent.closes:
        return ent.closes[event]
    name = event.removeprefix("stage:")
    if event in ent.columns() or (ent.name == "leads" and name == "lead"):
        return ("created_at" if name == "lead" and event not in ent.columns() else event), None
    return None


def _event(
    engine: Engine,
    ent: Entity,
    base: ir.Table,
    event: str,
    only: ir.Column | None = None,
    within: Sequence[Period] | None = None,
) -> ir.Table:
    """``(__id, __at)``: when each entity had ``event`` (first time for stages);
    with ``only``, for those entities only (kept out before the first-time
    grouping, which otherwise runs over every entity's history). ``within``:
    the caller keeps only events in these periods' window, so a stage's first
    entry is looked for only among entities with an entry of it around the
    window (a day's margin on each side: no time-zone conversion needed). It
    pays for a short window (a cohort's month), not for a year of history."""
    import ibis

    found = _event_column(ent, event)
    if found is not None:
        column, status = found
        rows = base if status is None else base.filter(base.status == status)
        if only is not None:
            rows = rows.filter(rows[ent.id].isin(only))
        return rows.select(**{_ID: rows[ent.id], _AT: rows[column]}).filter(ibis._[_AT].notnull())
    assert ent.stages is not None
    hist = engine.table(ent.stages)
    key = ent.id
    name = event.removeprefix("stage:")
    rows = hist.filter(hist.stage == name)
    if only is not None:
        rows = rows.filter(rows[key].isin(only))
    if within is not None:
        margin = dt.timedelta(days=1)
        lo = dt.datetime.combine(min(p.start for p in within) - margin, dt.time(), dt.UTC)
        hi = dt.datetime.combine(max(p.end for p in within) + 2 * margin, dt.time(), dt.UTC)
        near = hist.filter((hist.stage == name) & (hist.entered_at >= lo) & (hist.entered_at < hi))
        rows = rows.filter(rows[key].isin(near[key]))
    return rows.group_by(**{_ID: rows[key]}).aggregate(**{_AT: rows.entered_at.min()})


def _condition(t: ir.Table, where: Mapping[str, Any]) -> ir.BooleanValue | None:
    """The metric's ``where`` as one boolean expression (``None``: no filter)."""
    import ibis

    preds: list[ir.BooleanValue] = []
    for column, cond in where.items():
        col = t[column]
        if isinstance(cond, list):
            preds.append(col.isin(cond))
        elif isinstance(cond, dict):
            for op, value in cond.items():
                if op == "is_null":
                    preds.append(col.isnull() if value else col.notnull())
                elif op in ("in", "not_in"):
                    values = value if isinstance(value, list) else [value]
                    preds.append(col.isin(values) if op == "in" else ~col.isin(values))
                else:
                    lit = ibis.literal(value)
                    preds.append(
                        {
                            "eq": col == lit,
                            "ne": col != lit,
                            "lt": col < lit,
                            "le": col <= lit,
                            "gt": col > lit,
                            "ge": col >= lit,
                        }[op]
                    )
        elif cond is None:
            preds.append(col.isnull())
        else:
            preds.append(col == cond)
    if not preds:
        return None
    out = preds[0]
    for p in preds[1:]:
        out = out & p
    return out


def _where(t: ir.Table, where: Mapping[str, Any]) -> ir.Table:
    cond = _condition(t, where)
    return t if cond is None else t.filter(cond)


def _period_index(day: ir.DateValue, periods: Sequence[Period]) -> ir.IntegerValue:
    import ibis

    return ibis.cases(
        *[((day >= p.start) & (day <= p.end), i) for i, p in enumerate(periods)],
        else_=ibis.null("int64"),
    )


def _grouped(
    t: ir.Table,
    periods: Sequence[Period],
    dims: Sequence[str],
    aggs: Callable[[ir.Table], dict[str, Any]],
    additive: bool = True,
) -> ir.Table:
    """Aggregate facts with a ``__day`` per period and dimensions.

    Additive parts are first summed per day and then per period: the day of an
    instant is a time-zone conversion, and a CASE over the periods would repeat
    it in every branch for every fact; after the first grouping it runs once
    per distinct day."""
    keys = [f"dim__{d}" for d in dims]
    if not additive:
        placed = _place(t, periods)
        return placed.group_by(["period", *keys]).aggregate(**aggs(placed))
    first = aggs(t)
    daily = t.group_by(["__day", *keys]).aggregate(**first)
    # Days in the window but in no period keep a NULL period (dropped by the
    # caller): a filter here would be pushed below the grouping, back onto
    # every fact.
    placed = daily.mutate(period=_period_index(daily.__day, periods))
    return placed.group_by(["period", *keys]).aggregate(
        **{name: placed[name].sum() for name in first}
    )


def _place(t: ir.Table, periods: Sequence[Period]) -> ir.Table:
    """Add the period index of each fact's day; drop facts in none of them."""
    t = t.mutate(period=_period_index(t.__day, periods))
    return t.filter(t.period.notnull())


def _in_window(day: ir.DateValue, periods: Sequence[Period]) -> ir.BooleanValue:
    return (day >= min(p.start for p in periods)) & (day <= max(p.end for p in periods))


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
    base = _where(ent.base(engine), spec.where)
    if metric.type == "conversion":
        return _conversion(engine, metric, ent, base, periods, dims, all_dims, filters, as_of)
    if metric.type == "duration":
        return _duration(engine, metric, ent, base, periods, dims, all_dims, filters, as_of)
    if spec.snapshot:
        return _snapshot(engine, metric, ent, base, periods, dims, all_dims, filters)
    t = _facts(engine, ent, base, spec.time or ent.time, periods, all_dims, filters)
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
    base = _where(ent.base(engine), spec.where)
    periods = [period]
    if metric.type == "conversion":
        found = _conversion_facts(engine, metric, ent, base, periods, all_dims, filters, as_of)
        if "converted" not in found:
            t = found["entrants"]
            found["converted"] = t.filter(t.__conv == 1)
        return found
    if metric.type == "duration":
        t = _duration_facts(engine, metric, ent, base, periods, all_dims, filters, as_of)
        return {"facts": t.filter(t.__dur >= 0)}
    if spec.snapshot:
        return {"facts": _snapshot_facts(engine, metric, ent, base, periods, all_dims, filters)[0]}
    return {"facts": _facts(engine, ent, base, spec.time or ent.time, periods, all_dims, filters)}


def _facts(
    engine: Engine,
    ent: Entity,
    base: ir.Table,
    event: str,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
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
        ev = _event(engine, ent, base, event)
        t = base.inner_join(ev, base[ent.id] == ev[_ID])
        at = t[_AT]
    return _segmented(engine, ent, _on_day(engine, t, at, periods), all_dims, filters)


def _segmented(
    engine: Engine,
    ent: Entity,
    t: ir.Table,
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
) -> ir.Table:
    """Facts with a ``__day``, given their dimensions and the segment filters."""
    t = add_dimensions(engine, ent, t, all_dims, "__day")
    return segment_filters(t, filters)


def _on_day(engine: Engine, t: ir.Table, at: ir.Value, periods: Sequence[Period]) -> ir.Table:
    """Facts placed on the local day of ``at``, within the periods' window."""
    t = t.mutate(__day=_window_day(engine, at, periods))
    return t.filter(_in_window(t.__day, periods))


def fusable(metric: Metric) -> tuple[str, str, str] | None:
    """Metrics with the same key can share one scan (count / sum / average over
    the same entity and event credited alike, each with its own filter)."""
    ent = metric.entity
    if ent is None or metric.type not in ("count", "sum", "average") or metric.spec.snapshot:
        return None
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
    conditions = [_condition(base, m.spec.where) for m in metrics]
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
            cond = _condition(x, m.spec.where)
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

    return _grouped(t, periods, dims, aggs)


def _aggregate(
    t: ir.Table, metric: Metric, periods: Sequence[Period], dims: Sequence[str]
) -> ir.Table:
    spec = metric.spec
    kind = metric.type
    if kind == "count":
        return _grouped(t, periods, dims, lambda x: {"n": x.count()})
    assert spec.measure is not None
    measure = spec.measure
    if kind in ("sum", "average"):
        return _grouped(
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
    return _grouped(
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
    a = _event(engine, ent, base, spec.from_, within=cohort_of)
    if spec.to == "first_activity":
        b = _first_activity(engine, ent, a)
    else:
        only = None
        if cohort_of is not None:
            only = _started_in(engine, ent, base, spec.from_, a, cohort_of)
        b = _event(engine, ent, base, spec.to, only)
        b = b.select(__bid=b[_ID], __bat=b[_AT])
    if as_of is not None:
        b = b.filter(_day(b.__bat) <= as_of)
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
    found = _event_column(ent, event)
    if found is None:  # a stage: its first entries, computed once and shared
        return _on_day(engine, a, a[_AT], periods)[_ID]
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
) -> ir.Table:
    import ibis

    keys = ["period", *[f"dim__{d}" for d in dims]]
    facts = _conversion_facts(engine, metric, ent, base, periods, all_dims, filters, as_of)
    if "converted" in facts:
        # Events of each kind in the period, each entity at most once per kind.
        parts = []
        for name, t in (("den", facts["entrants"]), ("num", facts["converted"])):
            agg = _grouped(t, periods, dims, lambda x: {"c": x.count()})
            zero = ibis.literal(0, "int64")
            parts.append(
                agg.mutate(
                    num=agg.c if name == "num" else zero, den=agg.c if name == "den" else zero
                ).drop("c")
            )
        u = ibis.union(*parts)
        return u.group_by(keys).aggregate(num=u.num.sum(), den=u.den.sum())
    t = facts["entrants"]
    return _grouped(t, periods, dims, lambda x: {"num": x.__conv.sum(), "den": x.count()})


def _conversion_facts(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
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
        for name, ev, at in (("entrants", a, _AT), ("converted", b, "__bat")):
            idcol = _ID if name == "entrants" else "__bid"
            t = base.inner_join(ev, base[ent.id] == ev[idcol])
            out[name] = _segmented(
                engine, ent, _on_day(engine, t, t[at], periods), all_dims, filters
            )
        return out
    t = base.inner_join(a, base[ent.id] == a[_ID])
    t = _on_day(engine, t, t[_AT], periods)
    t = t.left_join(b, t[ent.id] == b.__bid)
    a_day, b_day = t.__day, _day(t.__bat)
    # Day-precise when either event is a date; otherwise the instant.
    dated = _is_date_type(t[_AT]) or _is_date_type(t.__bat)
    after = (b_day >= a_day) if dated else (t.__bat >= t[_AT])
    assert spec.window_days is not None
    within = b_day <= a_day + ibis.interval(days=spec.window_days)
    # CASE, not a cast: PostgreSQL cannot cast a boolean to an integer.
    converted = ibis.ifelse(t.__bat.notnull() & after & within, 1, 0)
    t = t.mutate(__conv=converted)
    return {"entrants": _segmented(engine, ent, t, all_dims, filters)}


def _first_activity(engine: Engine, ent: Entity, a: ir.Table) -> ir.Table:
    """``(__bid, __bat)``: first activity on the entity at or after its start event."""
    acts = engine.table("activities")
    link = "lead_id" if ent.name == "leads" else "deal_id"
    acts = acts.select(__aid=acts[link], __occ=acts.occurred_at).filter(acts[link].notnull())
    j = a.inner_join(acts, [a[_ID] == acts.__aid, acts.__occ >= a[_AT]])
    return j.group_by(__bid=j[_ID]).aggregate(__bat=j.__occ.min())


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
) -> ir.Table:
    t = _duration_facts(engine, metric, ent, base, periods, all_dims, filters, as_of)
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

        return _grouped(t, periods, dims, median, additive=False)

    def mean(x: ir.Table) -> dict[str, Any]:
        kept = x.__dur >= 0
        return {
            "s": x.__dur.sum(where=kept),
            "n": x.count(where=kept),
            "q": x.count(where=~kept),
        }

    return _grouped(t, periods, dims, mean)


def _duration_facts(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
    as_of: dt.date | None,
) -> ir.Table:
    """A duration's facts, each with its duration ``__dur``."""
    spec = metric.spec
    a, b = _two_events(engine, metric, ent, base, as_of)
    t = base.inner_join(a, base[ent.id] == a[_ID])
    t = t.inner_join(b, t[ent.id] == b.__bid)
    a_at, b_at = t[_AT], t.__bat
    if spec.duration_unit == "days":
        dur = _day(b_at).delta(_day(a_at), unit="day").cast("float64")
    else:
        if _is_date_type(a_at) or _is_date_type(b_at):
            dur = _day(b_at).delta(_day(a_at), unit="day").cast("float64") * 24.0
        else:
            # Elapsed microseconds, the instants' precision: a difference in
            # seconds counts second boundaries crossed on DuckDB but whole
            # seconds elapsed on Spark.
            dur = b_at.delta(a_at, unit="microsecond").cast("float64") / _US_PER_HOUR
    place = a_at if spec.place_by == "from" else b_at
    t = t.mutate(__dur=dur, __day=_window_day(engine, place, periods))
    t = t.filter(_in_window(t.__day, periods))
    return _segmented(engine, ent, t, all_dims, filters)


def _snapshot(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    periods: Sequence[Period],
    dims: Sequence[str],
    all_dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]],
) -> ir.Table:
    """Facts open on the last day of each period: opened on or before it and not
    closed by then (deals: still open, or closed after that day)."""
    import ibis

    facts = _snapshot_facts(engine, metric, ent, base, periods, all_dims, filters)
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
) -> list[ir.Table]:
    """Per period, the facts open on its last day."""
    import ibis

    spec = metric.spec
    opened = _day(base[spec.time or ent.time])
    closed_col = base[spec.closed_by] if spec.closed_by else None
    if closed_col is not None and ent.closes:
        closed = ibis.ifelse(base.status.isin(["won", "lost"]), _day(closed_col), None)
    elif closed_col is not None:
        closed = _day(closed_col)
    else:
        closed = ibis.null("date")
    t0 = base.mutate(__open=opened, __closed=closed)
    parts = []
    for p in periods:
        t = t0.filter((t0.__open <= p.end) & (t0.__closed.isnull() | (t0.__closed > p.end)))
        t = t.mutate(__day=ibis.literal(p.end))
        parts.append(_segmented(engine, ent, t, all_dims, filters))
    return parts
