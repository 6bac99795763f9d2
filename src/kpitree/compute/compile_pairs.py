"""Metrics between two events of one record: conversions (of the entrants of a
period, those who reach the second event within the window) and durations
(the time from the first event to the second), queried and as facts, for
:mod:`kpitree.compute.compile`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.account_columns import (
    AccountJoin,
)
from kpitree.compute.entities import Entity
from kpitree.compute.events import (
    AT,
    ID,
    US_PER_HOUR,
    event_column,
    event_times,
    grouped_by_period,
    in_window,
    is_date_type,
    local_day,
    stage_firsts,
    window_day,
)
from kpitree.compute.metrics import Metric
from kpitree.compute.placing import place_on_day, segment_facts

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = ["conversion_facts", "conversion_query", "duration_facts", "duration_query"]


def _two_events(
    engine: Engine,
    metric: Metric,
    ent: Entity,
    base: ir.Table,
    as_of: dt.date | None,
    cohort_of: Sequence[Period] | None = None,
) -> tuple[ir.Table, ir.Table | None]:
    """The ``from`` events ``(__id, __at)`` and the ``to`` events ``(__bid, __bat)``
    of a conversion or duration; second events after ``as_of`` are not known yet.
    With ``cohort_of``, first events are looked for around those periods'
    window only, and second events only of the entities whose first event
    falls in it (a cohort needs no others).

    When both events are stages and the second counts only beside the first
    (a cohort, a duration), the second events are ``None`` and the first carry
    their second event as ``__bat`` (``NULL``: not reached by ``as_of``): both
    from one grouping of the stage history, which nothing joins twice (DuckDB
    materialises a relation used twice in full)."""
    spec = metric.spec
    assert spec.from_ and spec.to
    stages = [e for e in (spec.from_, spec.to) if event_column(ent, e) is None]
    if len(stages) == 2 and spec.to != "first_activity":
        # Both events are stages: their first entries from one pass over the
        # history, with the entries linked deals give a lead (a cohort's
        # second events are kept to its entrants by the join).
        names = [e.removeprefix("stage:") for e in stages]
        firsts = stage_firsts(engine, ent, names, within=cohort_of)
        if _pairs_entrants(metric, cohort_of):
            t = firsts.filter(firsts.__first0.notnull())
            second = t.__first1
            if as_of is not None:
                import ibis

                unknown = ibis.null(second.type().copy(nullable=True))
                second = ibis.ifelse(local_day(second) <= as_of, second, unknown)
            return t.select(**{ID: t[ID], AT: t.__first0, "__bat": second}), None
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


def _pairs_entrants(metric: Metric, cohort_of: Sequence[Period] | None) -> bool:
    """Whether second events count only joined to first ones (a duration, a
    cohort), not on their own (a conversion counted by period)."""
    return metric.type == "duration" or cohort_of is not None


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
        return place_on_day(engine, a, a[AT], periods)[ID]
    column, status = found
    rows = base if status is None else base.filter(base.status == status)
    rows = rows.filter(rows[column].notnull())
    return place_on_day(engine, rows, rows[column], periods)[ent.id]


def conversion_query(
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
    facts = conversion_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
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


def conversion_facts(
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
        assert b is not None  # counted on their own
        out = {}
        for name, ev, at in (("entrants", a, AT), ("converted", b, "__bat")):
            idcol = ID if name == "entrants" else "__bid"
            t = base.inner_join(ev, base[ent.id] == ev[idcol])
            out[name] = segment_facts(
                engine, ent, place_on_day(engine, t, t[at], periods), all_dims, filters, acct
            )
        return out
    t = base.inner_join(a, base[ent.id] == a[ID])
    t = place_on_day(engine, t, t[AT], periods)
    if b is not None:
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
    return {"entrants": segment_facts(engine, ent, t, all_dims, filters, acct)}


def _first_activity(engine: Engine, ent: Entity, a: ir.Table) -> ir.Table:
    """``(__bid, __bat)``: first activity on the entity at or after its start event."""
    acts = engine.table("activities")
    link = "lead_id" if ent.name == "leads" else "deal_id"
    acts = acts.select(__aid=acts[link], __occ=acts.occurred_at).filter(acts[link].notnull())
    j = a.inner_join(acts, [a[ID] == acts.__aid, acts.__occ >= a[AT]])
    return j.group_by(__bid=j[ID]).aggregate(__bat=j.__occ.min())


def duration_query(
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
    t = duration_facts(engine, metric, ent, base, periods, all_dims, filters, as_of, acct)
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


def duration_facts(
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
    t = t.filter(t.__bat.notnull()) if b is None else t.inner_join(b, t[ent.id] == b.__bid)
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
    return segment_facts(engine, ent, t, all_dims, filters, acct)
