"""Alert conditions evaluated on status results: one :class:`Finding` per rule
and segment, saying whether the condition holds (``None``: cannot be said,
e.g. no target, or fewer facts than the rule's ``min_volume``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.alerts.project_view import ProjectView as Project
    from kpitree.compute.status import NodeStatus
    from kpitree.definition.spec_alerts import AlertRuleSpec

__all__ = ["Finding", "evaluate_rules", "segment_key"]

_ORG = ("department", "team", "rep")
SegmentKey = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Finding:
    rule: str
    node: str  # node id, or sla:<id> for SLA rules
    segment: SegmentKey
    holds: bool | None
    period: str | None
    facts: Mapping[str, Any] = field(default_factory=dict)


def segment_key(segment: SegmentKey) -> str:
    """The stored form of a segment: JSON of its pairs in level order."""
    import json

    return json.dumps([[k, v] for k, v in segment], ensure_ascii=False)


def _level(by: str | None) -> tuple[str, ...]:
    if by is None:
        return ()
    if by in _ORG:
        return _ORG[: _ORG.index(by) + 1]
    return (by,)


def _wanted(rule: AlertRuleSpec, segment: SegmentKey) -> bool:
    level = _level(rule.by)
    if tuple(k for k, _ in segment) != level:
        return False
    return rule.segment is None or (bool(segment) and segment[-1][1] == rule.segment)


def _pct(ratio: float | None) -> float | None:
    return None if ratio is None else ratio * 100.0


def _condition(
    rule: AlertRuleSpec, row: NodeStatus, complete: bool, additive: bool, lower: bool
) -> Any:
    """(holds, facts) of a node condition on one status row."""
    threshold = rule.threshold
    facts: dict[str, Any] = {
        "actual": row.actual,
        "target": row.target,
        "expected": row.expected,
        "forecast": row.forecast,
        "previous": row.previous,
        "volume": row.volume,
    }
    # The guard is for rates and averages, whose value rests on a denominator:
    # a count or a sum behind its pace (0 calls against 117.7 expected) is
    # exactly what the rule exists for, however small its volume.
    if (
        rule.min_volume is not None
        and not additive
        and (row.volume is None or row.volume < rule.min_volume)
    ):
        facts["guarded"] = True
        return None, facts
    # A rate with nothing, or too little, to judge (a rule's own min_volume
    # replaces the node's); a count is never held back.
    if (row.status == "no_data" and not additive) or (
        row.status == "low_volume" and rule.min_volume is None
    ):
        facts["guarded"] = True
        facts["status"] = row.status
        return None, facts
    cond = rule.condition
    if cond in ("below_target", "below_pace", "forecast_below_target"):
        limit = (100.0 if threshold is None else threshold) / 100.0
        if cond == "below_target":
            ratio, reference = row.achievement, row.target
        elif cond == "below_pace":
            ratio, reference = row.pace, row.expected
        else:
            ratio, reference = _forecast_ratio(row, lower), row.target
        # The threshold as written (110), not 1.1 × 100 = 110.00000000000001.
        given = 100.0 if threshold is None else threshold
        facts.update(ratio=_pct(ratio), reference=reference, threshold=given)
        return (None if ratio is None else ratio < limit), facts
    if cond == "change":
        assert threshold is not None
        now = row.actual if complete or not additive else row.forecast
        if now is None or row.previous is None or row.previous == 0:
            return None, facts
        change = (now - row.previous) / abs(row.previous) * 100.0
        facts.update(change=change, compared=now, threshold=threshold)
        if rule.direction == "down":
            return change <= -threshold, facts
        if rule.direction == "up":
            return change >= threshold, facts
        return abs(change) >= threshold, facts
    raise AssertionError(cond)  # pragma: no cover


def _forecast_ratio(row: NodeStatus, lower: bool) -> float | None:
    """Forecast over target, inverted when lower is better (as achievement is)."""
    if row.forecast is None or row.target is None:
        return None
    if lower:
        return None if row.forecast == 0 else row.target / row.forecast
    return None if row.target == 0 else row.forecast / row.target


def _status_rows(
    project: Project,
    period: Any,
    levels: list[str],
    today: dt.date,
    compare: bool,
    failed: dict[str | None, UserError],
    targets: str = "then",
) -> list[NodeStatus]:
    """Status rows of every level; a level that cannot be measured (a metric
    without that dimension) is left out and noted in ``failed``, so that one
    rule's mistake does not stop every other rule."""
    try:
        return project.status(
            period, by=levels, as_of=today, explain=False, compare=compare, targets=targets
        ).rows
    except UserError as exc:
        if not levels:
            failed[None] = exc
            return []
    rows: list[NodeStatus] = []
    for level in [None, *levels]:
        try:
            result = project.status(
                period, by=level, as_of=today, explain=False, compare=compare, targets=targets
            )
        except UserError as exc:
            failed[level] = exc
            continue
        rows.extend(r for r in result.rows if level is None or r.segment)
    return rows


def evaluate_rules(
    project: Project,
    rules: Mapping[str, AlertRuleSpec],
    now: dt.datetime,
    problems: list[tuple[str, UserError]] | None = None,
    *,
    targets: str = "then",
) -> list[Finding]:
    """Every rule evaluated at ``now`` (its day in the project's time zone);
    rules that cannot be evaluated are added to ``problems``. ``targets``:
    ``then`` (the targets of the definition's revision in force in each month,
    as ``Project.status``) or ``current`` (today's definition)."""
    from zoneinfo import ZoneInfo

    from kpitree.compute.periods import period_of

    tree = project.tree
    today = now.astimezone(ZoneInfo(tree.timezone)).date()
    findings: list[Finding] = []
    node_rules = {
        rid: r
        for rid, r in rules.items()
        if r.condition not in ("no_data", "sla_breaches") and r.node in tree.nodes
    }
    by_grain: dict[str, list[str]] = {}
    for rid, rule in node_rules.items():
        by_grain.setdefault(rule.period, []).append(rid)
    for grain, ids in by_grain.items():
        period = period_of(today, grain, tree.fiscal_year_start)  # type: ignore[arg-type]
        levels = sorted({b for r in ids if (b := node_rules[r].by) is not None})
        compare = any(node_rules[r].condition == "change" for r in ids)
        failed: dict[str | None, UserError] = {}
        rows = _status_rows(project, period, levels, today, compare, failed, targets)
        complete = period.is_complete(today)
        for rid in ids:
            rule = node_rules[rid]
            assert rule.node is not None
            error = failed.get(rule.by) or failed.get(None)
            if error is not None:
                if problems is not None:
                    problems.append((rid, error))
                continue
            node = tree.nodes[rule.node]
            lower = node.direction == "lower_is_better"
            for row in rows:
                if row.node != rule.node or not _wanted(rule, row.segment):
                    continue
                holds, facts = _condition(rule, row, complete, node.is_additive, lower)
                findings.append(Finding(rid, rule.node, row.segment, holds, period.key, facts))
    findings.extend(_sla_findings(project, rules, now, today))
    findings.extend(_no_data_findings(project, rules, now, today))
    from kpitree.alerts.accounts import account_findings

    findings.extend(account_findings(project, rules, today))
    from kpitree.alerts.quality import quality_findings

    findings.extend(quality_findings(project, rules, today))
    return findings


def _sla_findings(
    project: Project, rules: Mapping[str, AlertRuleSpec], now: dt.datetime, today: dt.date
) -> list[Finding]:
    from kpitree.compute.periods import period_of
    from kpitree.compute.sla import sla_cases, sla_rule

    tree = project.tree
    out: list[Finding] = []
    wanted = {rid: r for rid, r in rules.items() if r.condition == "sla_breaches"}
    if not wanted:
        return out
    with project.engine() as engine:
        cache: dict[tuple[str, str], Any] = {}
        for rid, rule in wanted.items():
            assert rule.sla is not None
            period = period_of(today, rule.period, tree.fiscal_year_start)
            key = (rule.sla, period.key)
            if key not in cache:
                cache[key] = sla_cases(
                    engine, sla_rule(tree, rule.sla), period.start, period.end, now
                )
            level = _level(rule.by)
            groups: dict[SegmentKey, list[Any]] = {}
            for case in cache[key]:
                segment = tuple((d, case.segment.get(d)) for d in level)
                groups.setdefault(segment, []).append(case)
            if not level:
                groups.setdefault((), [])
            limit = rule.threshold or 0
            for segment, cases in groups.items():
                if not _wanted(rule, segment):
                    continue
                breaches = sum(1 for c in cases if c.status == "breached")
                facts = {
                    "breaches": breaches,
                    "cases": len(cases),
                    "threshold": limit,
                    "volume": len(cases),
                }
                # A count of breaches is never held back by volume: min_volume
                # guards rates and averages only.
                holds: bool | None = breaches > limit
                out.append(Finding(rid, f"sla:{rule.sla}", segment, holds, period.key, facts))
    return out


def _no_data_findings(
    project: Project, rules: Mapping[str, AlertRuleSpec], now: dt.datetime, today: dt.date
) -> list[Finding]:
    out: list[Finding] = []
    wanted = {
        rid: r
        for rid, r in rules.items()
        if r.condition == "no_data" and r.node in project.tree.nodes
    }
    if not wanted:
        return out
    with project.engine() as engine:
        for rid, rule in wanted.items():
            assert rule.node is not None and rule.days is not None
            latest = latest_fact_day(project, engine, rule.node, today)
            facts: dict[str, Any] = {"days": rule.days}
            if latest is None:
                holds: bool | None = True
                facts["latest"] = None
            else:
                idle = (today - latest).days
                facts.update(latest=latest.isoformat(), idle_days=idle)
                holds = idle >= rule.days
            out.append(Finding(rid, rule.node, (), holds, today.isoformat(), facts))
    return out


def latest_fact_day(project: Project, engine: Any, node_id: str, today: dt.date) -> dt.date | None:
    """The last day (not after ``today``) with a fact for any metric measuring
    ``node_id`` or a node under it."""
    from kpitree.compute.entities import ENTITIES

    tree = project.tree
    catalogue = project.catalogue
    days: list[dt.date] = []
    for nid in sorted(tree.descendants(node_id)):
        mid = tree.nodes[nid].metric
        if mid is None:
            continue
        for used in catalogue.closure([mid]):
            metric = catalogue[used]
            ent = ENTITIES.get(metric.spec.entity or "")
            if ent is None:
                continue
            event = metric.spec.time or metric.spec.from_ or ent.time
            day = _latest(engine, ent, event, today)
            if day is not None:
                days.append(day)
    return max(days) if days else None


def _latest(engine: Any, ent: Any, event: str, today: dt.date) -> dt.date | None:
    name = event.removeprefix("stage:")
    if event in ent.columns():
        table = ent.base(engine)
        col = table[event]
    elif event in ent.closes:
        table = ent.base(engine)
        col = table[ent.closes[event][0]]
    elif ent.stages is not None:
        hist = engine.table(ent.stages)
        table = hist.filter(hist.stage == name)
        col = table.entered_at
    else:
        return None
    day = col if col.type().is_date() else col.date()
    value = engine.execute(table.filter(day <= today).aggregate(v=day.max())).to_pylist()[0]["v"]
    return value if isinstance(value, dt.date) else None


def by_rule(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.rule, []).append(f)
    return out
