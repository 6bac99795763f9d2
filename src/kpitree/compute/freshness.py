"""What the data can say about a period: when each metric's source last had a
fact (``no_data``), how much of a scheduled metric was due by a day (pace by
schedule), and facts that a rate's numerator counts without a link to its
denominator (``unlinked_facts``).

*Scheduled* metrics count facts that fall due on a known day: contract terms
ending (renewals, churn, the ARR up for renewal), placed by the contract's
``end_date``. Their days are known in advance, so their pace follows the
schedule, not the business days: on the 6th of a month whose contracts all end
on the 30th, nothing was due yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.account_columns import uses_abm
from kpitree.compute.entities import ENTITIES
from kpitree.compute.events import local_day
from kpitree.compute.metrics import Catalogue, Metric

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.querycache import QueryCache
    from kpitree.engines import Engine

__all__ = [
    "is_scheduled",
    "latest_facts",
    "latest_query",
    "schedule_query",
    "schedule_shares",
    "unlinked_deals",
]

_SCHEDULE_ENTITIES = ("renewals", "contracts")


def is_scheduled(metric: Metric | None) -> bool:
    """Whether ``metric`` counts facts placed by a contract term's end date."""
    if metric is None or metric.entity is None or metric.entity.name not in _SCHEDULE_ENTITIES:
        return False
    if metric.type in ("conversion", "duration") or metric.spec.snapshot:
        return False
    return (metric.spec.time or metric.entity.time) == "end_date"


def _fact_days(engine: Engine, entity: str, as_of: dt.date) -> Any:
    """A one-row query: the latest day up to ``as_of`` on which the entity's
    table has a fact (created, staged, closed, occurred, ...)."""
    import ibis

    ent = ENTITIES[entity]
    base = engine.table(ent.table)
    columns = dict.fromkeys([ent.time, *(column for column, _ in ent.closes.values())])
    parts = [_latest_days(base, base[column], as_of) for column in columns]
    if ent.stages is not None:
        hist = engine.table(ent.stages)
        parts.extend(_latest_days(hist, hist.entered_at, as_of))
    flat = [p for part in parts for p in (part if isinstance(part, list) else [part])]
    union = flat[0] if len(flat) == 1 else ibis.union(*flat)
    return union.aggregate(latest=union.__d.max())


# Any instant this long before the as-of day's midnight in UTC falls on an
# earlier local day in every time zone (offsets are within 26 hours of UTC).
_MARGIN = dt.timedelta(days=2)


def _latest_days(t: Any, column: Any, as_of: dt.date) -> Any:
    """``(__d)`` rows whose maximum is the latest local day of ``column`` up to
    ``as_of``, converting few instants to their local day (the conversion,
    per fact, was most of the cost): those around the as-of day, and those
    within a day of the latest instant before them (a day back, for zones
    whose clock goes back over midnight)."""
    import ibis

    name = column.get_name()
    # The one column read: each subquery of the statement (the maximum before
    # the margin among them) would otherwise list every column of the table.
    t = t.select(name)
    if column.type().is_date():
        kept = t.filter(t[name] <= ibis.literal(as_of))
        return kept.select(__d=kept[name])
    lo = ibis.literal(dt.datetime.combine(as_of - _MARGIN, dt.time(), dt.UTC))
    hi = ibis.literal(dt.datetime.combine(as_of + _MARGIN, dt.time(), dt.UTC))
    near = t.filter((t[name] >= lo) & (t[name] < hi))
    near = near.select(__d=local_day(near[name]))
    near = near.filter(near.__d <= ibis.literal(as_of))
    before = t.filter(t[name] < lo)
    last = before[name].max().as_scalar()
    far = before.filter(before[name] >= last - ibis.interval(days=1))
    return [near, far.select(__d=local_day(far[name]))]


def _sources(catalogue: Catalogue, metric_ids: Sequence[str]) -> dict[str, str]:
    """metric -> what its latest fact is read from (an entity, ``schedule`` or
    ``abm``), for the metrics whose source can be asked."""
    sources: dict[str, str] = {}
    for mid in catalogue.closure(list(metric_ids)):
        metric = catalogue[mid]
        if metric.entity is None or metric.sla_rule is not None:
            continue
        sources[mid] = "schedule" if is_scheduled(metric) else metric.entity.name
        if metric.entity.name == "accounts" and uses_abm(metric):
            sources[mid] = "abm"
    return sources


def latest_query(
    engine: Engine,
    catalogue: Catalogue,
    metric_ids: Sequence[str],
    as_of: dt.date,
    cache: QueryCache,
) -> tuple[list[str], tuple[str, Callable[[], Any]] | None]:
    """The sources :func:`latest_facts` asks about, and its query as a ``(key,
    build)`` pair (``None``: nothing to ask)."""
    return _latest_query(engine, _sources(catalogue, metric_ids), as_of, cache)


def _latest_query(
    engine: Engine, sources: dict[str, str], as_of: dt.date, cache: QueryCache
) -> tuple[list[str], tuple[str, Callable[[], Any]] | None]:
    # Accounts as ABM sees them (scores, target accounts) are those of the
    # as-of day: known up to it, however long ago an account was created.
    names = sorted(set(sources.values()) - {"abm"})
    if not names:
        return names, None

    def build() -> Any:
        import ibis

        parts = []
        for i, name in enumerate(names):
            if name == "schedule":
                c = engine.table("contracts").select("end_date")
                one = c.aggregate(latest=c.end_date.max())
            else:
                one = _fact_days(engine, name, as_of)
            parts.append(one.select(k=ibis.literal(i), latest=one.latest.cast("date")))
        return parts[0] if len(parts) == 1 else ibis.union(*parts)

    return names, (cache.fingerprint(engine, "latest", tuple(names), str(as_of)), build)


def latest_facts(
    engine: Engine,
    catalogue: Catalogue,
    metric_ids: Sequence[str],
    as_of: dt.date,
    cache: QueryCache,
) -> dict[str, dt.date | None]:
    """For each metric, the day of the latest fact of its source (the table of
    its entity) up to ``as_of`` (``None``: no fact at all). A scheduled metric
    takes the latest contract end date (its schedule reaches into the future);
    a ratio or derived metric the latest of the metrics it is computed from.
    Metrics whose source cannot be asked this way (SLA metrics) are left out."""
    sources = _sources(catalogue, metric_ids)
    names, query = _latest_query(engine, sources, as_of, cache)
    found: dict[str, dt.date | None] = {"abm": as_of}
    if query is not None:
        table = cache.run(engine, *query)
        for i, latest in zip(table["k"].to_pylist(), table["latest"].to_pylist(), strict=True):
            found[names[int(i)]] = latest
    out: dict[str, dt.date | None] = {mid: found.get(src) for mid, src in sources.items()}
    for mid in catalogue.closure(list(metric_ids)):
        used = [u for u in catalogue.closure([mid]) if u in sources and u != mid]
        if catalogue[mid].expr is not None and used:
            known = [d for u in used if (d := out[u]) is not None]
            out[mid] = max(known) if known else None
    return {mid: out[mid] for mid in metric_ids if mid in out}


def schedule_query(
    engine: Engine, periods: Sequence[Period], as_of: dt.date, cache: QueryCache
) -> tuple[str, Callable[[], Any]]:
    """:func:`schedule_shares`' query as a ``(key, build)`` pair."""

    def build() -> Any:
        import ibis

        c = engine.table("contracts")
        aggs: dict[str, Any] = {}
        for i, p in enumerate(periods):
            due = c.end_date.between(p.start, p.end)
            by = c.end_date.between(p.start, min(p.end, as_of))
            aggs[f"all{i}"] = ibis.ifelse(due, 1, 0).sum()
            aggs[f"by{i}"] = ibis.ifelse(by, 1, 0).sum()
        lo, hi = min(p.start for p in periods), max(p.end for p in periods)
        return c.filter(c.end_date.between(lo, hi)).aggregate(**aggs)

    spans = tuple((str(p.start), str(p.end)) for p in periods)
    return cache.fingerprint(engine, "schedule", spans, str(as_of)), build


def schedule_shares(
    engine: Engine, periods: Sequence[Period], as_of: dt.date, cache: QueryCache
) -> list[float | None]:
    """Per period, the share of the contract terms ending in it that end by
    ``as_of`` (1 once the period is over; ``None`` when none ends in it)."""
    if not periods:
        return []
    table = cache.run(engine, *schedule_query(engine, periods, as_of, cache))
    row = table.to_pylist()[0]
    out: list[float | None] = []
    for i, p in enumerate(periods):
        total = row[f"all{i}"] or 0
        if p.is_complete(as_of):
            out.append(1.0)
        elif as_of < p.start:
            out.append(0.0)
        else:
            out.append(None if total == 0 else (row[f"by{i}"] or 0) / total)
    return out


def unlinked_deals(
    engine: Engine, period: Period, as_of: dt.date, cache: QueryCache
) -> tuple[int, int]:
    """Of the deals created in ``period`` up to ``as_of``: how many have no
    originating lead (none named, or one not in the leads), and how many in all."""
    end = min(period.end, as_of)

    def build() -> Any:
        import ibis

        d = engine.table("deals")
        leads = engine.table("leads")
        d = d.mutate(__d=local_day(d.created_at))
        d = d.filter((d.__d >= ibis.literal(period.start)) & (d.__d <= ibis.literal(end)))
        loose = d.lead_id.isnull() | ~d.lead_id.isin(leads.lead_id)
        return d.aggregate(total=d.count(), unlinked=ibis.ifelse(loose, 1, 0).sum())

    key = cache.fingerprint(engine, "unlinked_deals", str(period.start), str(end))
    row = cache.run(engine, key, build).to_pylist()[0]
    return int(row["unlinked"] or 0), int(row["total"] or 0)
