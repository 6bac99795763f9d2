"""The SLA report of a period: per rule the overall numbers, one row per owner
(rep) or team, the breaches and the open cases about to breach."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kpitree.compute.sla import SlaCase, SlaSummary, sla_rule, summarize
from kpitree.compute.sla_cases import SlaFacts, cases_at, sla_facts
from kpitree.errors import UserError
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kpitree.compute.periods import Period
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = [
    "BY",
    "SlaGroup",
    "SlaReport",
    "SlaRuleReport",
    "check_by",
    "read_facts",
    "report_at",
    "report_moment",
    "sla_report",
]

BY = ("owner", "team", "department")


@dataclass(frozen=True)
class SlaGroup:
    """The numbers of one owner, team or department."""

    key: dict[str, str | None]
    summary: SlaSummary

    def to_json(self) -> dict[str, Any]:
        return {**self.key, **self.summary.to_json()}


@dataclass(frozen=True)
class SlaRuleReport:
    rule: str
    label: dict[str, str | None]
    within_hours: float
    clock: str
    summary: SlaSummary
    groups: list[SlaGroup]
    breaches: list[SlaCase]
    about_to_breach: list[SlaCase]
    cases: list[SlaCase] = field(repr=False, default_factory=list)

    def to_json(self, *, with_cases: bool = False) -> dict[str, Any]:
        out = {
            "rule": self.rule,
            "label": self.label,
            "within_hours": self.within_hours,
            "clock": self.clock,
            **self.summary.to_json(),
            "rows": [g.to_json() for g in self.groups],
            "breaches": [c.to_json() for c in self.breaches],
            "about_to_breach_cases": [c.to_json() for c in self.about_to_breach],
        }
        if with_cases:
            out["cases"] = [c.to_json() for c in self.cases]
        return out


@dataclass(frozen=True)
class SlaReport:
    period: str
    start: dt.date
    end: dt.date
    now: dt.datetime
    by: str
    rules: list[SlaRuleReport]
    timezone: str = "UTC"  # the project's: where ``now`` is read as a local moment

    def rule(self, rule_id: str) -> SlaRuleReport:
        return next(r for r in self.rules if r.rule == rule_id)

    def to_json(self, *, with_cases: bool = False) -> dict[str, Any]:
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "now": self.now.isoformat(),
            "by": self.by,
            "rules": [r.to_json(with_cases=with_cases) for r in self.rules],
        }


def _group_key(case: SlaCase, by: str) -> dict[str, str | None]:
    if by == "owner":
        return {"owner": case.owner}
    if by == "team":
        return {"department": case.segment.get("department"), "team": case.segment.get("team")}
    return {"department": case.segment.get("department")}


def _label(tree: Tree, rule_id: str) -> dict[str, str | None]:
    label = tree.sla[rule_id].label
    if label is None:
        return {"ja": rule_id, "en": rule_id}
    if isinstance(label, str):
        return {"ja": label, "en": label}
    return {"ja": label.ja, "en": label.en}


def sla_report(
    tree: Tree,
    engine: Engine,
    period: Period,
    now: dt.datetime,
    *,
    by: str | None = None,
    rules: list[str] | None = None,
) -> SlaReport:
    """Every SLA rule (or those named) over cases that started in ``period``,
    as they stand at ``now``; rows per ``by`` (owner, team or department)."""
    by = check_by(by)
    return report_at(tree, read_facts(tree, engine, period, rules), period, now, by=by)


def check_by(by: str | None) -> str:
    """What the rows are per: owner (default; ``rep`` too), team or department
    (KT761 otherwise)."""
    by = by or "owner"
    if by == "rep":
        by = "owner"
    if by not in BY:
        raise UserError.of(
            "KT761", "sla.bad_by", None, value=by, allowed=", ".join(BY), hint=did_you_mean(by, BY)
        )
    return by


def read_facts(
    tree: Tree, engine: Engine, period: Period, rules: Sequence[str] | None = None
) -> dict[str, SlaFacts]:
    """The cases of every SLA rule (or those named) that started in
    ``period``, read from the data once: :func:`report_at` gives the report at
    any moment from them."""
    return {
        rule_id: sla_facts(engine, sla_rule(tree, rule_id), period.start, period.end)
        for rule_id in (rules or list(tree.sla))
    }


def report_at(
    tree: Tree,
    facts: dict[str, SlaFacts],
    period: Period,
    now: dt.datetime,
    *,
    by: str | None = None,
) -> SlaReport:
    """:func:`sla_report` from the cases read by :func:`read_facts`, as they
    stand at ``now``."""
    by = check_by(by)
    out = []
    for rule_id, read in facts.items():
        rule = read.rule
        cases = cases_at(read, now)
        groups: dict[tuple[Any, ...], list[SlaCase]] = {}
        keys: dict[tuple[Any, ...], dict[str, str | None]] = {}
        for case in cases:
            key = _group_key(case, by)
            tkey = tuple(key.values())
            groups.setdefault(tkey, []).append(case)
            keys[tkey] = key
        rows = [
            SlaGroup(keys[k], summarize(v))
            for k, v in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
        ]
        out.append(
            SlaRuleReport(
                rule_id,
                _label(tree, rule_id),
                rule.within_hours,
                rule.spec.clock,
                summarize(cases),
                rows,
                [c for c in cases if c.status == "breached"],
                sorted(
                    (c for c in cases if c.about_to_breach),
                    key=lambda c: c.remaining_hours or 0.0,
                ),
                cases,
            )
        )
    return SlaReport(period.key, period.start, period.end, now, by, out, tree.timezone)


class _Reporting(Protocol):
    """What :func:`project_sla_report` reads of a project."""

    @property
    def tree(self) -> Tree: ...

    def period(self, text: str | None = None, *, as_of: dt.date | None = None) -> Period: ...

    def engine(self) -> Engine: ...


def project_sla_report(
    project: _Reporting,
    period: str | Period | None = None,
    *,
    by: str | None = None,
    as_of: dt.date | dt.datetime | None = None,
    rules: Sequence[str] | None = None,
) -> SlaReport:
    """:meth:`kpitree.Project.sla_report`: the period named or given (default:
    this month) as it stands at ``as_of`` (a day means its end; default now)."""
    chosen, now = report_moment(project, period, as_of)
    with project.engine() as engine:
        return sla_report(
            project.tree, engine, chosen, now, by=by, rules=list(rules) if rules else None
        )


def report_moment(
    project: _Reporting,
    period: str | Period | None = None,
    as_of: dt.date | dt.datetime | None = None,
) -> tuple[Period, dt.datetime]:
    """The period and the moment (UTC) :func:`project_sla_report` reports."""
    from zoneinfo import ZoneInfo

    from kpitree.compute.sla import status_now

    if isinstance(as_of, dt.datetime):
        now = as_of.astimezone(dt.UTC)
    else:
        now = status_now(as_of, project.tree.timezone)
    day = now.astimezone(ZoneInfo(project.tree.timezone)).date()
    chosen = period if period is not None and not isinstance(period, str) else None
    if chosen is None:
        chosen = project.period(period if isinstance(period, str) else "this-month", as_of=day)
    return chosen, now
