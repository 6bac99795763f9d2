"""Where a fact falls: the rows and instants of an entity's events, the local
day of an instant, a metric's ``where`` filter, and the period of a day.

These are the building blocks of the metric queries (:mod:`kpitree.compute.compile`)
and of the checks that look at the same facts (:mod:`kpitree.compute.quality`).
Time: a fact's day is the local calendar day of its event in the engine's session
time zone (see :class:`kpitree.engines.Engine`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.entities import Entity

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = [
    "AT",
    "ID",
    "NEAR_DAYS",
    "US_PER_HOUR",
    "condition_of",
    "event_column",
    "event_times",
    "filtered",
    "fixed_offset",
    "grouped_by_period",
    "in_window",
    "is_date_type",
    "local_day",
    "period_index",
    "stage_firsts",
    "window_day",
    "with_period",
]

ID = "__id"
AT = "__at"


US_PER_HOUR = 3_600_000_000.0


def is_date_type(expr: ir.Value) -> bool:
    return bool(expr.type().is_date())


def local_day(expr: ir.Value) -> ir.DateValue:
    """The local calendar day of an instant (dates stay as they are)."""
    return expr if is_date_type(expr) else expr.date()


# How far around a window of days a zone's UTC offset must not change for
# :func:`window_day` to take the fast path: an instant outside it is placed at
# most one day off, so it still falls outside the window.
_MARGIN = dt.timedelta(days=2)


@functools.lru_cache(maxsize=256)
def fixed_offset(zone: str, first: dt.date, last: dt.date) -> int | None:
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


def window_day(engine: Engine, expr: ir.Value, periods: Sequence[Period]) -> ir.DateValue:
    """The local day of ``expr`` for facts that are then kept only within the
    periods' window (:func:`in_window`).

    On DuckDB, in a zone whose UTC offset does not change around the window
    (Asia/Tokyo, UTC), the day is that of the instant's epoch plus the offset:
    exact within the window and four to five times faster than converting every
    fact's instant through the time-zone library. Elsewhere it is :func:`local_day`."""
    kind = expr.type()
    if engine.name != "duckdb" or not kind.is_timestamp() or kind.timezone is None:
        return local_day(expr)
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    offset = fixed_offset(engine.timezone, first, last)
    if offset is None:
        return local_day(expr)
    import ibis

    epoch_us, make_timestamp = _duckdb_epoch_functions()
    local = make_timestamp(epoch_us(expr) + ibis.literal(offset, "int64"))
    return local.date()


def event_column(ent: Entity, event: str) -> tuple[str, str | None] | None:
    """The column of ``base`` that holds ``event`` and the status its rows
    must have (closing events such as ``won``), or ``None`` for a stage,
    which is in the stage history."""
    if event in ent.closes:
        return ent.closes[event]
    name = event.removeprefix("stage:")
    if event in ent.columns() or (ent.name == "leads" and name == "lead"):
        return ("created_at" if name == "lead" and event not in ent.columns() else event), None
    return None


NEAR_DAYS = 186
"""The longest window whose entrants :func:`stage_firsts` looks up first."""


def _span_days(periods: Sequence[Period]) -> int:
    return (max(p.end for p in periods) - min(p.start for p in periods)).days + 1


def stage_firsts(
    engine: Engine,
    ent: Entity,
    names: Sequence[str],
    within: Sequence[Period] | None = None,
    placing: int = 1,
) -> ir.Table:
    """``(__id, __first0, __first1, ...)``: each entity's first entry of each of
    the stages ``names`` (``None``: never entered), from one pass over the stage
    history (a ``min`` per stage with a filter), not a pass per stage. With
    ``within``, only entities with an entry of the first stage (of one of the
    first ``placing`` stages) around those periods' window (see
    :func:`event_times`), when it spans at most :data:`NEAR_DAYS`: that
    look-up is a second pass over the history, which pays for a month or a
    quarter but not for a year (measured at 1M leads with 3 years of history:
    0.14 s against 0.26 s for a month, 0.49 s against 0.40 s for a year and the
    year before).

    A lead's stage that linked deals give (:mod:`kpitree.compute.links`) is
    its own first entry, else the first linked one, as :func:`event_times`
    reads it: the linked entries (a few, one per linked deal) are grouped on
    their own and joined to the history's grouping (a full outer join: a lead
    may have only linked entries), which keeps the grouping of the whole
    history to one plain ``min`` per stage."""
    import ibis

    assert ent.stages is not None
    if within is not None and _span_days(within) > NEAR_DAYS:
        within = None
    hist = engine.table(ent.stages)
    key = ent.id
    rows = hist.filter(hist.stage.isin(list(names)))
    found = _linked_entries(engine, ent, names, rows.select(key, "stage", "entered_at"))
    linked, stages = found if found is not None else (None, [])
    if within is not None:
        placed = list(names[:placing])
        near = _near(hist, placed, within).select(key)
        if linked is not None:
            # A lead whose first entry is a linked one is near by that entry.
            lo, hi = _window_bounds(within)
            given = linked.filter(
                linked.stage.isin(placed) & (linked.entered_at >= lo) & (linked.entered_at < hi)
            )
            near = near.union(given.select(key))
            linked = linked.filter(linked[key].isin(near[key]))
        rows = rows.filter(rows[key].isin(near[key]))
    own = rows.group_by(**{ID: rows[key]}).aggregate(
        **{
            f"__first{i}": rows.entered_at.min(where=rows.stage == name)
            for i, name in enumerate(names)
        }
    )
    if linked is None:
        return own
    given = linked.group_by(__lid=linked[key]).aggregate(
        **{
            f"__given{names.index(name)}": linked.entered_at.min(where=linked.stage == name)
            for name in stages
        }
    )
    j = own.outer_join(given, own[ID] == given.__lid)
    firsts = {
        f"__first{i}": ibis.coalesce(j[f"__first{i}"], j[f"__given{i}"])
        if name in stages
        else j[f"__first{i}"]
        for i, name in enumerate(names)
    }
    return j.select(**{ID: ibis.coalesce(j[ID], j.__lid)}, **firsts)


def _linked_entries(
    engine: Engine, ent: Entity, names: Sequence[str], rows: ir.Table
) -> tuple[ir.Table, list[str]] | None:
    """The entries linked deals give of the lead stages among ``names``, in the
    shape of ``rows`` (key, stage, entered_at), and those stages; or ``None``."""
    if ent.name != "leads":
        return None
    import ibis

    from kpitree.compute.links import linked_stage_entries

    parts, stages = [], []
    for name in names:
        given = linked_stage_entries(engine, name)
        if given is not None:
            stages.append(name)
            parts.append(
                given.select(
                    **{ent.id: given.__lid}, stage=ibis.literal(name), entered_at=given.__lat
                ).cast(rows.schema())
            )
    if not parts:
        return None
    return (parts[0] if len(parts) == 1 else ibis.union(*parts)), stages


def _window_bounds(within: Sequence[Period]) -> tuple[dt.datetime, dt.datetime]:
    """The instants around the periods' window, a day's margin on each side
    (no time-zone conversion needed)."""
    margin = dt.timedelta(days=1)
    lo = dt.datetime.combine(min(p.start for p in within) - margin, dt.time(), dt.UTC)
    hi = dt.datetime.combine(max(p.end for p in within) + 2 * margin, dt.time(), dt.UTC)
    return lo, hi


def _near(hist: ir.Table, name: str | list[str], within: Sequence[Period]) -> ir.Table:
    """Entries of stage ``name`` (of any of the stages) around the periods'
    window (a day's margin on each side: no time-zone conversion needed)."""
    lo, hi = _window_bounds(within)
    stage = hist.stage.isin(name) if isinstance(name, list) else hist.stage == name
    return hist.filter(stage & (hist.entered_at >= lo) & (hist.entered_at < hi))


def event_times(
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

    found = event_column(ent, event)
    if found is not None:
        column, status = found
        rows = base if status is None else base.filter(base.status == status)
        if only is not None:
            rows = rows.filter(rows[ent.id].isin(only))
        return rows.select(**{ID: rows[ent.id], AT: rows[column]}).filter(ibis._[AT].notnull())
    assert ent.stages is not None
    hist = engine.table(ent.stages)
    key = ent.id
    name = event.removeprefix("stage:")
    rows = hist.filter(hist.stage == name)
    if only is not None:
        rows = rows.filter(rows[key].isin(only))
    if within is not None:
        near = _near(hist, name, within)
        rows = rows.filter(rows[key].isin(near[key]))
    rows = rows.select(**{ID: rows[key], AT: rows.entered_at})
    if ent.name == "leads":
        rows = _with_linked_entries(engine, rows, hist, name, only, within)
    return rows.group_by(ID).aggregate(**{AT: rows[AT].min()})


def _with_linked_entries(
    engine: Engine,
    rows: ir.Table,
    hist: ir.Table,
    stage: str,
    only: ir.Column | None,
    within: Sequence[Period] | None,
) -> ir.Table:
    """``rows`` (``__id, __at`` entries of a lead stage) with the entries linked
    deals give leads whose own history has none of that stage
    (:mod:`kpitree.compute.links`)."""
    from kpitree.compute.links import linked_stage_entries

    linked = linked_stage_entries(engine, stage)
    if linked is None:
        return rows
    own = hist.filter(hist.stage == stage).lead_id
    linked = linked.filter(~linked.__lid.isin(own))
    if only is not None:
        linked = linked.filter(linked.__lid.isin(only))
    if within is not None:
        lo, hi = _window_bounds(within)
        near = linked.filter((linked.__lat >= lo) & (linked.__lat < hi)).__lid
        linked = linked.filter(linked.__lid.isin(near))
    extra = linked.select(**{ID: linked.__lid, AT: linked.__lat}).cast(rows.schema())
    return rows.union(extra)


def condition_of(t: ir.Table, where: Mapping[str, Any]) -> ir.BooleanValue | None:
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


def filtered(t: ir.Table, where: Mapping[str, Any]) -> ir.Table:
    cond = condition_of(t, where)
    return t if cond is None else t.filter(cond)


def period_index(day: ir.DateValue, periods: Sequence[Period]) -> ir.IntegerValue:
    import ibis

    return ibis.cases(
        *[((day >= p.start) & (day <= p.end), i) for i, p in enumerate(periods)],
        else_=ibis.null("int64"),
    )


# Up to how many periods counts are grouped by period directly (a CASE of as
# many branches per fact): beyond, per day first.
_DIRECT_PERIODS = 4


def grouped_by_period(
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
    per distinct day. Counts over a few periods (a fiscal year and the one
    before) are grouped by period at once: the CASE is short, the groups per
    day and segment cost more than it, and a count is the same whatever the
    grouping (a sum of fractions would round differently)."""
    keys = [f"dim__{d}" for d in dims]
    first = aggs(t) if additive else {}
    if not additive or (
        len(periods) <= _DIRECT_PERIODS and all(v.type().is_integer() for v in first.values())
    ):
        rows = with_period(t, periods)
        return rows.group_by(["period", *keys]).aggregate(**aggs(rows))
    daily = t.group_by(["__day", *keys]).aggregate(**first)
    # Days in the window but in no period keep a NULL period (dropped by the
    # caller): a filter here would be pushed below the grouping, back onto
    # every fact.
    placed = daily.mutate(period=period_index(daily.__day, periods))
    return placed.group_by(["period", *keys]).aggregate(
        **{name: placed[name].sum() for name in first}
    )


def with_period(t: ir.Table, periods: Sequence[Period]) -> ir.Table:
    """Add the period index of each fact's day; drop facts in none of them."""
    t = t.mutate(period=period_index(t.__day, periods))
    if _without_gaps(periods):
        # In no period is outside the window then: two comparisons (the facts'
        # own window filter, which the database merges with this one) instead
        # of the period's CASE written out a second time.
        return t.filter(in_window(t.__day, periods))
    return t.filter(t.period.notnull())


def _without_gaps(periods: Sequence[Period]) -> bool:
    """Whether every day from the first period's start to the last one's end
    is in some period."""
    spans = sorted((p.start, p.end) for p in periods)
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start > reach + dt.timedelta(days=1):
            return False
        reach = max(reach, end)
    return True


def in_window(day: ir.DateValue, periods: Sequence[Period]) -> ir.BooleanValue:
    return (day >= min(p.start for p in periods)) & (day <= max(p.end for p in periods))
