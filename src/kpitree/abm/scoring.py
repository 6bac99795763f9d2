"""Account scores for an as-of day, as one Ibis query: every account's points
per criterion (and per engagement signal), its score and its tier.

The rules are those of docs/abm.md: a firmographic criterion reads one account
field (the first band holding the value, or the value's points); an engagement
criterion adds up its signals' events of the window ending on the as-of day
(a lead's or deal's stage entries count for the account the cross-source
links give the record, else the one it names; an activity for its own
account, else for its lead's),
each worth its points times its decay, each signal held to its cap and the
criterion to its maximum points. Nothing after the as-of day counts (events,
accounts created later), so a past day is recomputed exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.compute.events import local_day
from kpitree.compute.links import activity_account, linked_reference
from kpitree.definition import jsic
from kpitree.definition.spec_abm import AbmSpec, CriterionSpec, SignalSpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = [
    "ACCOUNT_FIELDS",
    "AccountScore",
    "Scores",
    "score_accounts",
    "score_query",
    "scores_query",
    "tier_of",
]


@dataclass(frozen=True, slots=True)
class AccountScore:
    """One account's score on an as-of day, with its breakdown."""

    account_id: str
    name: str | None
    score: float
    tier: str | None
    points: Mapping[str, float]  # criterion id -> points
    missing: frozenset[str]  # firmographic criteria whose field the account lacks
    signals: Mapping[str, tuple[float, ...]]  # engagement criterion -> points per signal
    fields: Mapping[str, Any] = field(default_factory=dict)  # industry, region, ... as stored

    def engagement(self, abm: AbmSpec) -> float:
        """Points of the engagement criteria."""
        return sum(self.points[c] for c, spec in abm.criteria.items() if spec.signals is not None)


@dataclass(frozen=True, slots=True)
class Scores:
    as_of: dt.date
    accounts: tuple[AccountScore, ...]

    def by_id(self) -> dict[str, AccountScore]:
        return {a.account_id: a for a in self.accounts}


def tier_of(abm: AbmSpec, score: float) -> str | None:
    """The highest tier whose threshold ``score`` reaches."""
    for name, threshold in sorted(abm.tiers.items(), key=lambda kv: -kv[1]):
        if score >= threshold:
            return name
    return None


ACCOUNT_FIELDS = ("industry", "region", "segment", "employees", "annual_revenue", "owner_id")


def _real(value: float) -> ir.FloatingValue:
    """A double-precision constant on every engine: PostgreSQL reads a bare
    ``30.0`` as ``numeric``, and a CASE of such constants gives decimals, which
    Ibis (and every other engine) takes for floats (a cast of a float literal
    to float64 is dropped, of a text it is not)."""
    import ibis

    return ibis.literal(repr(float(value))).cast("float64")


def _field(acc: ir.Table, name: str, numeric: bool) -> ir.Value:
    """The account's value of ``name`` (an account column or ``attributes.<key>``)."""
    import ibis

    if name.startswith("attributes."):
        value = acc.attributes[name.removeprefix("attributes.")]
        if numeric:  # a JSON number, or a text that reads as one
            return ibis.coalesce(value.float, value.str.try_cast("float64"))
        return ibis.coalesce(value.str, value.int.cast("string"), value.float.cast("string"))
    value = acc[name]
    return value.cast("float64") if numeric else value.cast("string")


def _firmographic(
    engine: Engine, acc: ir.Table, spec: CriterionSpec
) -> tuple[ir.Value, ir.BooleanValue]:
    """(points, missing) of a firmographic criterion."""
    import ibis

    assert spec.field is not None
    if spec.bands is not None:
        value = _field(acc, spec.field, numeric=True)
        cases = []
        for band in spec.bands:
            cond = value.notnull()
            if band.min is not None:
                cond = cond & (value >= band.min)
            if band.max is not None:
                cond = cond & (value < band.max)
            cases.append((cond, _real(band.points)))
        return ibis.cases(*cases, else_=_real(0.0)), value.isnull()
    text = _field(acc, spec.field, numeric=False).strip()
    missing = text.isnull() | (text == "")
    values = spec.values or {}
    if spec.match == "jsic":
        values = _jsic_points(engine, acc, text, values)
    if not values:
        return _real(0.0), missing
    cases = [(text == key, _real(p)) for key, p in values.items()]
    return ibis.cases(*cases, else_=_real(0.0)), missing


def _jsic_points(
    engine: Engine, acc: ir.Table, text: ir.StringValue, codes: Mapping[str, float]
) -> dict[str, float]:
    """The points of every distinct industry value the accounts hold: the most
    specific code of ``codes`` that the value falls under (see
    :mod:`kpitree.definition.jsic`)."""
    found = engine.execute(acc.select(v=text).filter(text.notnull()).distinct())
    out: dict[str, float] = {}
    ranked = sorted(codes.items(), key=lambda kv: -jsic.specificity(kv[0]))
    for value in found.column("v").to_pylist():
        division, digits = jsic.normalise(str(value))
        for code, points in ranked:
            hit = code == division if code.isalpha() else digits.startswith(code)
            if hit:
                out[str(value)] = float(points)
                break
    return out


def _activity_events(engine: Engine, signals: Sequence[SignalSpec]) -> ir.Table:
    """``(__acc, __day, __type, __outcome, __stage)`` of the activities any of
    ``signals`` counts, every activity once (``__stage`` null): its own account,
    else its lead's (a marketing tool's activities name only the lead): the
    account the links give the lead, else the one it names. Attributed once
    for all the signals, however many read activities."""
    import ibis

    a = engine.table("activities")
    a = a.filter(a.type.isin(sorted({s.activity for s in signals if s.activity is not None})))
    a, acc = activity_account(engine, a)
    a = a.filter(a[acc].notnull())
    return a.select(
        __acc=a[acc],
        __day=local_day(a.occurred_at),
        __type=a.type.cast("string"),
        __outcome=a.outcome.cast("string"),
        __stage=ibis.null("int64"),
    )


def _stage_events(engine: Engine, signal: SignalSpec, index: int) -> ir.Table:
    """``(__acc, __day, __type, __outcome, __stage)`` of a lead or deal stage
    signal's events (its first entry of the stage per record; ``__stage`` is
    ``index``): the account the cross-source links give the record, else the
    one it names."""
    import ibis

    kind, stage = (
        ("leads", signal.lead_stage) if signal.lead_stage else ("deals", signal.deal_stage)
    )
    key = "lead_id" if kind == "leads" else "deal_id"
    hist = engine.table(f"{kind[:-1]}_stage_history")
    hist = hist.filter(hist.stage == stage)
    first = hist.group_by(__rid=hist[key]).aggregate(__at=hist.entered_at.min())
    records, account = linked_reference(engine, kind, key, engine.table(kind), "account_id")
    records = records.filter(records[account].notnull()).select(
        __rid2=records[key], __acc=records[account].cast("string")
    )
    j = first.inner_join(records, first.__rid == records.__rid2)
    return j.select(
        __acc=j.__acc,
        __day=local_day(j.__at),
        __type=ibis.null("string"),
        __outcome=ibis.null("string"),
        __stage=ibis.literal(index, "int64"),
    )


def _counts(events: ir.Table, signal: SignalSpec, index: int) -> ir.BooleanValue:
    """Whether an event row of :func:`_activity_events` or :func:`_stage_events`
    is one of ``signal``'s."""
    if signal.activity is None:
        return events.__stage == index
    hit = events.__type == signal.activity
    if signal.outcome is not None:
        hit = hit & (events.__outcome == signal.outcome)
    return hit.fill_null(False)


def _days(days: Sequence[dt.date], window: int | None = None) -> ir.Table:
    """The days asked, as a table: ``__d`` (and with ``window``, ``__f``: the
    first day of the window ending on ``__d``)."""
    import ibis
    import pyarrow as pa

    chosen = sorted(set(days))
    cols = {"__d": pa.array(chosen, pa.date32())}
    if window is not None:
        first = [d - dt.timedelta(days=window - 1) for d in chosen]
        cols["__f"] = pa.array(first, pa.date32())
    return ibis.memtable(pa.table(cols))


def _engagement(
    engine: Engine, spec: CriterionSpec, days: Sequence[dt.date], prefix: str
) -> ir.Table:
    """``(__acc, __gd, <prefix>s<i>...)``: on each day ``__gd``, each signal's
    decayed points over the window ending that day, capped."""
    import ibis

    assert spec.signals is not None and spec.window_days is not None
    window = spec.window_days
    # Every event once, whichever signals count it, joined once to the days
    # whose window holds it; each signal then sums the points of its own rows
    # (the same terms as a join per signal).
    parts = []
    if any(s.activity is not None for s in spec.signals):
        parts.append(_activity_events(engine, spec.signals))
    parts += [_stage_events(engine, s, i) for i, s in enumerate(spec.signals) if s.activity is None]
    ev = parts[0] if len(parts) == 1 else ibis.union(*parts)
    d = _days(days, window)
    j = d.inner_join(ev, (ev.__day <= d.__d) & (ev.__day >= d.__f))
    age = j.__d.delta(j.__day, unit="day").cast("float64")
    if spec.decay == "linear":
        weight = 1.0 - age / float(window)
    elif spec.decay == "half_life":
        assert spec.half_life_days is not None
        weight = ibis.literal(0.5) ** (age / float(spec.half_life_days))
    else:
        weight = _real(1.0)
    j = j.mutate(__w=weight)
    sums = {
        f"{prefix}s{i}": (j.__w * signal.points).sum(where=_counts(j, signal, i))
        for i, signal in enumerate(spec.signals)
    }
    g = j.group_by(__acc=j.__acc, __gd=j.__d).aggregate(**sums)
    capped = {}
    for i, signal in enumerate(spec.signals):
        col = g[f"{prefix}s{i}"].fill_null(0.0)
        held = col if signal.cap is None else ibis.least(col, signal.cap)
        capped[f"{prefix}s{i}"] = held.cast("float64")
    return g.mutate(**capped)


def score_query(engine: Engine, abm: AbmSpec, as_of: dt.date) -> ir.Table:
    """One row per account existing on ``as_of``: ``account_id``, ``name``, the
    account fields, ``c<i>`` (points of the i-th criterion), ``m<i>`` (its field
    missing), ``c<i>s<j>`` (engagement: the j-th signal's points), ``score``
    and ``day`` (``as_of``)."""
    return scores_query(engine, abm, [as_of])


def scores_query(engine: Engine, abm: AbmSpec, days: Sequence[dt.date]) -> ir.Table:
    """:func:`score_query` of several days at once: one row per day (``day``)
    and account existing on it. Every day is computed by the same expressions,
    whichever other days are asked with it."""
    import ibis

    from kpitree.abm.master import enriched_accounts

    acc = enriched_accounts(engine)
    cols: dict[str, Any] = {}
    for i, spec in enumerate(abm.criteria.values()):
        if spec.signals is None:
            points, missing = _firmographic(engine, acc, spec)
            cols[f"c{i}"] = points
            cols[f"m{i}"] = missing
    t = acc.mutate(**cols) if cols else acc
    d = _days(days)
    t = t.cross_join(d)
    t = t.filter(t.created_at.isnull() | (local_day(t.created_at) <= t.__d))
    t = t.rename(day="__d")
    total: Any = ibis.literal(0.0)
    for i, spec in enumerate(abm.criteria.values()):
        if spec.signals is None:
            total = total + t[f"c{i}"]
            continue
        g = _engagement(engine, spec, days, f"c{i}")
        j = t.left_join(g, (t.account_id == g.__acc) & (t.day == g.__gd)).drop("__acc", "__gd")
        signals = [j[f"c{i}s{k}"].fill_null(0.0) for k in range(len(spec.signals))]
        summed: Any = signals[0]
        for s in signals[1:]:
            summed = summed + s
        t = j.mutate(
            **{f"c{i}s{k}": s for k, s in enumerate(signals)},
            **{
                f"c{i}": ibis.least(summed, spec.max_points).cast("float64"),
                f"m{i}": ibis.literal(False),
            },
        )
        total = total + t[f"c{i}"]
    return t.mutate(score=total.cast("float64")).drop("attributes", "created_at", "country")


def account_score(abm: AbmSpec, r: dict[str, Any]) -> AccountScore:
    """One account's :class:`AccountScore` from its row of a score query
    (points per criterion ``c<i>``, missing flags ``m<i>``, signals ``c<i>s<k>``)."""
    ids = list(abm.criteria)
    score = float(r["score"])
    return AccountScore(
        account_id=str(r["account_id"]),
        name=r["name"],
        score=score,
        tier=tier_of(abm, score),
        points={cid: float(r[f"c{i}"]) for i, cid in enumerate(ids)},
        missing=frozenset(cid for i, cid in enumerate(ids) if r[f"m{i}"]),
        signals={
            cid: tuple(float(r[f"c{i}s{k}"]) for k in range(len(spec.signals)))
            for i, (cid, spec) in enumerate(abm.criteria.items())
            if spec.signals is not None
        },
        fields={k: r[k] for k in ACCOUNT_FIELDS},
    )


def score_accounts(engine: Engine, abm: AbmSpec, as_of: dt.date) -> Scores:
    """Every account's score on ``as_of``, ordered by score (highest first) then id."""
    rows = engine.execute(score_query(engine, abm, as_of)).to_pylist()
    out = [account_score(abm, r) for r in rows]
    out.sort(key=lambda a: (-a.score, a.account_id))
    return Scores(as_of, tuple(out))
