"""Reading an SLA's cases: each case's start, first response, due time,
owner and segment, read from the data once (:func:`sla_facts`), and their
status at a moment (:func:`cases_at`), worked out again as the clock moves
without reading the data again (the dashboard's SLA page every minute).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kpitree.compute.owners import owner_matching
from kpitree.compute.sla import _DEAL_DIMS, _LEAD_DIMS, ORG, SlaCase, SlaRule

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.definition.spec_alerts import SlaSpec
    from kpitree.engines import Engine

__all__ = ["SlaFacts", "cases_at", "sla_facts"]

_UTC = dt.UTC


def _instant(value: Any, zone: ZoneInfo) -> dt.datetime:
    """A fact's moment as an aware datetime (a date is its local midnight)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone)


def _event(engine: Engine, spec: SlaSpec, event: str) -> ir.Table:
    """``(__id, __at)``: the first time each case had ``event``."""
    entity = spec.entity
    key = "lead_id" if entity == "leads" else "deal_id"
    base = engine.table(entity)
    name = event.removeprefix("stage:")
    if event in base.columns:
        return base.select(__id=base[key], __at=base[event]).filter(lambda t: t.__at.notnull())
    if entity == "leads" and name == "lead":
        return base.select(__id=base[key], __at=base.created_at)
    hist = engine.table("lead_stage_history" if entity == "leads" else "deal_stage_history")
    rows = hist.filter(hist.stage == name)
    return rows.group_by(__id=rows[key]).aggregate(__at=rows.entered_at.min())


def _assignments(engine: Engine) -> dict[str, list[tuple[dt.date, dt.date, dict[str, Any]]]]:
    """Rep -> day ranges with department, team and manager; a later assignment
    ends the one before it (as the engine's own placing does)."""
    rows = engine.execute(engine.table("rep_assignments")).to_pylist()
    by_rep: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_rep.setdefault(row["rep_id"], []).append(row)
    out: dict[str, list[tuple[dt.date, dt.date, dict[str, Any]]]] = {}
    far = dt.date(9999, 12, 31)
    for rep, items in by_rep.items():
        items.sort(key=lambda r: r["valid_from"])
        ranges = []
        for i, row in enumerate(items):
            end = row["valid_to"] or far
            if i + 1 < len(items):
                end = min(end, items[i + 1]["valid_from"] - dt.timedelta(days=1))
            org = {"department": row["department"], "team": row["team"]}
            org["manager"] = row.get("manager_id")
            ranges.append((row["valid_from"], end, org))
        out[rep] = ranges
    return out


def _org_on(
    assignments: Mapping[str, list[tuple[dt.date, dt.date, dict[str, Any]]]],
    rep: str | None,
    day: dt.date,
) -> dict[str, Any]:
    for start, end, org in assignments.get(rep or "", ()):
        if start <= day <= end:
            return org
    return dict.fromkeys(ORG)


@dataclass(frozen=True)
class _Fact:
    """One case as the data says it, whatever the moment it is looked at."""

    id: str
    owner: str | None
    start: dt.datetime  # as read (a date is its local midnight)
    start_utc: dt.datetime
    local_start: dt.datetime
    due: dt.datetime  # in the rule's time zone
    response: dt.datetime | None  # as read
    response_utc: dt.datetime | None
    segment: Mapping[str, str | None]
    # The case once its response is known (it no longer changes with the clock).
    answered: SlaCase | None


@dataclass(frozen=True)
class SlaFacts:
    """The cases of one rule whose start's local day is in a range, read from
    the data once (:func:`sla_facts`); :func:`cases_at` gives their status at
    any moment without reading the data again."""

    rule: SlaRule
    facts: tuple[_Fact, ...]  # by start, then id


def sla_facts(engine: Engine, rule: SlaRule, first_day: dt.date, last_day: dt.date) -> SlaFacts:
    """The cases whose start's local day is in ``[first_day, last_day]``, with
    their first response (however late), due time, owner and segment."""
    import ibis

    spec = rule.spec
    zone = ZoneInfo(rule.timezone)
    key = "lead_id" if spec.entity == "leads" else "deal_id"
    dims = _LEAD_DIMS if spec.entity == "leads" else _DEAL_DIMS
    starts = _event(engine, spec, spec.from_)
    day = starts.__at.date() if not starts.__at.type().is_date() else starts.__at
    starts = starts.filter((day >= first_day) & (day <= last_day))
    base = engine.table(spec.entity)
    facts = starts.inner_join(base, starts.__id == base[key]).select(
        "__id", "__at", owner=base.owner_id, **{f"__d_{d}": base[d] for d in dims}
    )
    if spec.to == "first_activity":
        acts = engine.table("activities")
        acts = acts.filter(acts[key].notnull())
        if spec.activity_types:
            acts = acts.filter(acts.type.isin(list(spec.activity_types)))
        ends = acts.select(__rid=acts[key], __rat=acts.occurred_at)
    else:
        ev = _event(engine, spec, spec.to)
        ends = ev.select(__rid=ev.__id, __rat=ev.__at)
    joined = facts.left_join(ends, [facts.__id == ends.__rid, ends.__rat >= facts.__at])
    rows = joined.group_by(["__id", "__at", "owner", *[f"__d_{d}" for d in dims]]).aggregate(
        __resp=joined.__rat.min()
    )
    del ibis
    table = engine.execute(rows).to_pylist()
    assignments = _assignments(engine)
    matching = owner_matching(engine)  # owners as the organisation knows them
    rep_of, placed = matching.rep_of(), matching.placement()
    out = []
    for row in table:
        owner = rep_of.get(row["owner"], row["owner"]) if row["owner"] else row["owner"]
        start = _instant(row["__at"], zone)
        response = None if row["__resp"] is None else _instant(row["__resp"], zone)
        due = rule.due(start)
        local_start = start.astimezone(zone)
        org = _org_on(assignments, owner, local_start.date())
        if owner in placed and org["department"] is None and org["team"] is None:
            org = {"department": placed[owner][0], "team": placed[owner][1], "manager": None}
        segment = {"rep": owner, **org, **{d: row[f"__d_{d}"] for d in dims}}
        answered = None
        if response is not None:
            answered = SlaCase(
                sla=rule.id,
                id=str(row["__id"]),
                owner=owner,
                start=local_start,
                due=due.astimezone(zone),
                response=response.astimezone(zone),
                status="met" if response <= due else "breached",
                elapsed_hours=rule.elapsed(start, response),
                remaining_hours=None,
                about_to_breach=False,
                segment=segment,
            )
        out.append(
            _Fact(
                str(row["__id"]),
                owner,
                start,
                start.astimezone(_UTC),
                local_start,
                due,
                response,
                None if response is None else response.astimezone(_UTC),
                segment,
                answered,
            )
        )
    out.sort(key=lambda f: (f.local_start, f.id))
    return SlaFacts(rule, tuple(out))


def cases_at(facts: SlaFacts, now: dt.datetime) -> list[SlaCase]:
    """Every case of ``facts`` that started by ``now``, with its status at
    ``now`` (later responses are not known yet), by start, then id."""
    rule = facts.rule
    zone = ZoneInfo(rule.timezone)
    now = now.astimezone(_UTC)
    cases = []
    for fact in facts.facts:
        if fact.start_utc > now:
            continue
        if fact.answered is not None and fact.response_utc is not None and fact.response_utc <= now:
            cases.append(fact.answered)
            continue
        # Not answered yet at `now`: the clock runs on.
        due = fact.due
        status = "breached" if now > due else "open"
        remaining = rule.elapsed(now, due) if status == "open" else None
        cases.append(
            SlaCase(
                sla=rule.id,
                id=fact.id,
                owner=fact.owner,
                start=fact.local_start,
                due=due.astimezone(zone),
                response=None,
                status=status,
                elapsed_hours=rule.elapsed(fact.start, now),
                remaining_hours=remaining,
                about_to_breach=remaining is not None and remaining <= rule.warn_hours,
                segment=fact.segment,
            )
        )
    return cases
