"""Hand-off SLAs per case: from a start event (an MQL) to the response (the
first activity), measured on a business-hour or calendar clock.

The start and response events are found with Ibis on the engine; the clock
arithmetic (open hours, weekends, Japanese holidays, closed days) is done in
Python with :mod:`kpitree.business_hours`, because it is not expressible as
portable SQL. A case is placed in the period of its start's local day.

Per case: ``met`` (responded by the due time), ``breached`` (responded late,
or not yet responded after the due time) or ``open`` (not responded, not yet
due). Compliance is met / (met + breached): open cases are undecided.
Response-time percentiles are over responded cases, in hours of the clock,
with linear interpolation between ranks (numpy's default).

SLA metrics (``type: sla_compliance`` ...) make these numbers tree nodes:
:func:`sla_query` gives :mod:`kpitree.compute.measure` their values per
period and segment.
"""

from __future__ import annotations

import datetime as dt
import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kpitree.business_hours import BusinessCalendar, calendar_hours_between
from kpitree.errors import UserError
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.metrics import Metric
    from kpitree.compute.periods import Period
    from kpitree.definition.spec_alerts import SlaSpec
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = [
    "SLA_METRIC_TYPES",
    "SlaCase",
    "SlaRule",
    "SlaSummary",
    "percentile",
    "sla_cases",
    "sla_query",
    "sla_rule",
    "summarize",
]

SLA_METRIC_TYPES = (
    "sla_compliance",
    "sla_breaches",
    "sla_open",
    "sla_response_p50",
    "sla_response_p95",
)
ORG = ("department", "team", "manager")
_LEAD_DIMS = ("channel", "campaign", "segment", "industry", "region")
_DEAL_DIMS = ("region", "segment", "product", "pipeline")
_UTC = dt.UTC


@dataclass(frozen=True)
class SlaRule:
    """A resolved SLA: its definition, the clock's calendar and time zone."""

    id: str
    spec: SlaSpec
    timezone: str
    calendar: BusinessCalendar | None  # None: calendar hours

    @property
    def within_hours(self) -> float:
        return self.spec.within_hours

    @property
    def warn_hours(self) -> float:
        return self.spec.warn_hours or self.spec.within_hours / 4

    def due(self, start: dt.datetime) -> dt.datetime:
        if self.calendar is None:
            return start + dt.timedelta(hours=self.within_hours)
        return self.calendar.add_hours(start, self.within_hours)

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> float:
        if self.calendar is None:
            return max(0.0, calendar_hours_between(start, end))
        return self.calendar.hours_between(start, end)


def sla_rule(tree: Tree, sla_id: str) -> SlaRule:
    """The SLA ``sla_id`` of the tree, resolved (KT750 when there is none)."""
    if sla_id not in tree.sla:
        raise UserError.of(
            "KT750", "sla.def.unknown", None, name=sla_id, hint=did_you_mean(sla_id, tree.sla)
        )
    spec = tree.sla[sla_id]
    zone = spec.timezone or tree.timezone
    if spec.clock == "calendar":
        return SlaRule(sla_id, spec, zone, None)
    country = spec.holidays or tree.plan.holidays
    closed = [dt.date.fromisoformat(d) for d in (*tree.plan.closed_days, *spec.closed_days)]
    holidays = None if country.lower() == "none" else country.upper()
    if spec.business_hours is None:
        cal = BusinessCalendar.default(zone, country=holidays, closed_days=closed)
    else:
        cal = BusinessCalendar.from_text(
            zone, spec.business_hours, country=holidays, closed_days=closed
        )
    return SlaRule(sla_id, spec, zone, cal)


@dataclass(frozen=True)
class SlaCase:
    """One hand-off: a lead (or deal) from its start event to its response."""

    sla: str
    id: str
    owner: str | None
    start: dt.datetime
    due: dt.datetime
    response: dt.datetime | None
    status: str  # met | breached | open
    elapsed_hours: float  # clock hours from start to the response (or to now)
    remaining_hours: float | None  # open: clock hours left until due
    about_to_breach: bool
    segment: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def day(self) -> dt.date:
        return self.start.date()

    def to_json(self) -> dict[str, Any]:
        return {
            "sla": self.sla,
            "id": self.id,
            "owner": self.owner,
            "start": self.start.isoformat(),
            "due": self.due.isoformat(),
            "response": None if self.response is None else self.response.isoformat(),
            "status": self.status,
            "elapsed_hours": round(self.elapsed_hours, 4),
            "remaining_hours": None
            if self.remaining_hours is None
            else round(self.remaining_hours, 4),
            "about_to_breach": self.about_to_breach,
            "segment": dict(self.segment),
        }


@dataclass(frozen=True)
class SlaSummary:
    cases: int
    met: int
    breached: int
    open: int
    about_to_breach: int
    compliance: float | None
    p50_hours: float | None
    p95_hours: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "met": self.met,
            "breached": self.breached,
            "open": self.open,
            "about_to_breach": self.about_to_breach,
            "compliance": self.compliance,
            "p50_hours": self.p50_hours,
            "p95_hours": self.p95_hours,
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), linear between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(cases: Sequence[SlaCase]) -> SlaSummary:
    met = sum(1 for c in cases if c.status == "met")
    breached = sum(1 for c in cases if c.status == "breached")
    responded = [c.elapsed_hours for c in cases if c.response is not None]
    decided = met + breached
    return SlaSummary(
        cases=len(cases),
        met=met,
        breached=breached,
        open=sum(1 for c in cases if c.status == "open"),
        about_to_breach=sum(1 for c in cases if c.about_to_breach),
        compliance=met / decided if decided else None,
        p50_hours=percentile(responded, 50),
        p95_hours=percentile(responded, 95),
    )


def sla_cases(
    engine: Engine,
    rule: SlaRule,
    first_day: dt.date,
    last_day: dt.date,
    now: dt.datetime,
) -> list[SlaCase]:
    """Every case whose start's local day is in ``[first_day, last_day]`` and
    not after ``now``, with its status at ``now`` (later responses are not
    known yet; :mod:`kpitree.compute.sla_cases` reads them)."""
    from kpitree.compute.sla_cases import cases_at, sla_facts

    return cases_at(sla_facts(engine, rule, first_day, last_day), now)


# --- SLA metrics as tree nodes ---------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, list[SlaCase]]] = weakref.WeakKeyDictionary()


def status_now(as_of: dt.date | None, zone: str) -> dt.datetime:
    """The moment a status "as of" a day sees: the end of that day, or the
    present when that is earlier (responses of later today are not known)."""
    real = dt.datetime.now(_UTC)
    if as_of is None:
        return real
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(zone))
    return min(end.astimezone(_UTC), real)


def _cached_cases(
    engine: Engine, rule: SlaRule, first: dt.date, last: dt.date, now: dt.datetime
) -> list[SlaCase]:
    per_engine = _CACHE.setdefault(engine, {})
    key = (rule.id, rule.spec.model_dump_json(), rule.timezone, first, last, now)
    if key not in per_engine:
        per_engine[key] = sla_cases(engine, rule, first, last, now)
    return per_engine[key]


def metric_value(kind: str, cases: Sequence[SlaCase]) -> tuple[float | None, int]:
    """(value, facts behind it) of an SLA metric over ``cases``."""
    s = summarize(cases)
    if kind == "sla_compliance":
        return s.compliance, s.met + s.breached
    if kind == "sla_breaches":
        return float(s.breached), s.cases
    if kind == "sla_open":
        return float(s.open), s.cases
    responded = s.cases - sum(1 for c in cases if c.response is None)
    if kind == "sla_response_p50":
        return s.p50_hours, responded
    return s.p95_hours, responded


def sla_query(
    engine: Engine,
    metric: Metric,
    periods: Sequence[Period],
    dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]] | None,
    as_of: dt.date | None,
) -> ir.Table:
    """An SLA metric per period and segment (columns ``period``, ``dim__<d>``,
    ``v`` and ``n``), as an in-memory table the engine reads."""
    import ibis

    rule: SlaRule = metric.sla_rule
    filters = filters or {}
    allowed = ("rep", *ORG, *(_LEAD_DIMS if rule.spec.entity == "leads" else _DEAL_DIMS))
    for d in [*dims, *filters]:
        if d not in allowed:
            raise UserError.of(
                "KT760",
                "sla.unknown_dimension",
                None,
                metric=metric.id,
                dimension=d,
                available=", ".join(allowed),
                hint=did_you_mean(d, allowed),
            )
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    now = status_now(as_of, rule.timezone)
    cases = _cached_cases(engine, rule, first, last, now)
    groups: dict[tuple[int, tuple[Any, ...]], list[SlaCase]] = {}
    for case in cases:
        if any(case.segment.get(d) not in values for d, values in filters.items()):
            continue
        seg = tuple(case.segment.get(d) for d in dims)
        for i, p in enumerate(periods):
            if p.start <= case.day <= p.end:
                groups.setdefault((i, seg), []).append(case)
    records: dict[str, list[Any]] = {"period": [], **{f"dim__{d}": [] for d in dims}}
    records["v"], records["n"] = [], []
    for (i, seg), members in groups.items():
        value, n = metric_value(metric.type, members)
        records["period"].append(i)
        for d, v in zip(dims, seg, strict=True):
            records[f"dim__{d}"].append(v)
        records["v"].append(math.nan if value is None else value)
        records["n"].append(n)
    schema = {"period": "int64", **{f"dim__{d}": "string" for d in dims}}
    schema.update(v="float64", n="int64")
    return ibis.memtable(records, schema=ibis.schema(schema))


def check_sla_metric(checker: Any, mid: str, spec: Any, label: Any) -> Metric:
    """Resolve an ``sla_*`` metric of the catalogue: its SLA must exist (KT750,
    located at the metric's ``sla:``)."""
    from kpitree.compute.metrics import Metric

    tree: Tree = checker.tree
    rule = None
    if spec.sla is None or spec.sla not in tree.sla:
        checker.error(
            "KT750",
            "sla.def.unknown",
            checker.span(mid, "sla"),
            name=spec.sla or "",
            hint=did_you_mean(spec.sla or "", tree.sla),
        )
    else:
        rule = sla_rule(tree, spec.sla)
        spec = spec.model_copy(update={"entity": rule.spec.entity})
    return Metric(mid, spec, label, False, None, checker.span(mid), sla_rule=rule)
