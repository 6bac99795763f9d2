"""The plan of a tree: every node per fiscal year and per month, cascaded to
departments, teams and reps.

Known values (targets, assumptions, overrides) are stated for the horizon (one
fiscal year) or per month. The horizon and each month are solved on their own
(:func:`kpitree.planning.solve.solve`); horizon values of additive nodes are
split over months by the allocation weights, non-additive ones (rates, prices)
hold for every month. Because decompositions are homogeneous in the additive
nodes, monthly plans add up to the horizon plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kpitree.calendar import business_days, current_fiscal_year, fiscal_months
from kpitree.definition.tree import Node, Tree
from kpitree.errors import Diagnostic, Severity
from kpitree.planning.solve import Solution, solve

__all__ = [
    "NodePlan",
    "Plan",
    "allocation_weights",
    "cascade",
    "known_values",
    "make_plan",
    "plan_diagnostics",
]


@dataclass
class NodePlan:
    """A node's planned value for the year and per period, and per segment."""

    id: str
    value: float | None
    per_period: dict[str, float | None]
    source: str | None  # target | assumption | set | solved | computed | None
    segments: dict[str, NodePlan] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "per_period": self.per_period}
        if self.source is not None:
            out["source"] = self.source
        if self.segments:
            out["segments"] = {k: v.to_json() for k, v in self.segments.items()}
        return out


@dataclass
class Plan:
    """A tree's plan for a fiscal year: every node's planned values."""

    tree: Tree
    fiscal_year: int
    periods: list[str]
    nodes: dict[str, NodePlan]
    diagnostics: list[Diagnostic]
    scenario: str | None = None
    overrides: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def values(self) -> dict[str, float]:
        """Horizon values of every planned node."""
        return {k: n.value for k, n in self.nodes.items() if n.value is not None}

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "name": self.tree.name,
            "fiscal_year": self.fiscal_year,
            "scenario": self.scenario,
            "overrides": self.overrides,
            "periods": self.periods,
            "nodes": {
                k: {
                    "label": self.tree.nodes[k].display(lang or "en"),
                    "unit": self.tree.nodes[k].unit_name,
                    "aggregation": self.tree.nodes[k].aggregation,
                    **n.to_json(),
                }
                for k, n in self.nodes.items()
            },
            "diagnostics": [d.to_json(lang) for d in self.diagnostics],
            "capacity": [c.to_json() for c in self.capacity()],
        }

    def capacity(self) -> list[Any]:
        """What the plan asks of each department's reps
        (:func:`kpitree.planning.capacity.capacity_checks`)."""
        from kpitree.planning.capacity import capacity_checks

        return list(capacity_checks(self))


def allocation_weights(tree: Tree, fiscal_year: int) -> dict[str, float]:
    """Share of the horizon that falls in each month (adds up to 1)."""
    months = fiscal_months(fiscal_year, tree.fiscal_year_start)
    settings = tree.plan
    if settings.allocation == "business_days":
        raw = [
            float(business_days(int(m[:4]), int(m[5:]), settings.holidays, settings.closed_days))
            for m in months
        ]
    elif settings.allocation == "weights" and settings.weights:
        raw = [float(settings.weights.get(int(m[5:]), 0.0)) for m in months]
    else:
        raw = [1.0] * 12
    total = sum(raw) or 1.0
    return {m: r / total for m, r in zip(months, raw, strict=True)}


def _horizon_known(node: Node, months: list[str]) -> tuple[float, str] | None:
    target = node.target
    if target is not None:
        if target.horizon is not None:
            return target.horizon, "target"
        if target.monthly is not None:
            return (target.monthly * 12 if node.is_additive else target.monthly), "target"
        if node.is_additive and all(m in target.per_period for m in months):
            return sum(target.per_period[m] for m in months), "target"
    if node.assume is not None:
        return node.assume, "assumption"
    return None


def _month_known(node: Node, month: str, weight: float) -> tuple[float, str] | None:
    target = node.target
    if target is not None:
        if month in target.per_period:
            return target.per_period[month], "target"
        if target.monthly is not None:
            return target.monthly, "target"
        if target.horizon is not None:
            return (target.horizon * weight if node.is_additive else target.horizon), "target"
    if node.assume is not None:
        return (node.assume * weight if node.is_additive else node.assume), "assumption"
    return None


def known_values(
    tree: Tree,
    sets: Mapping[str, float],
    months: list[str],
    weights: Mapping[str, float],
    month: str | None,
) -> tuple[dict[str, float], dict[str, str]]:
    """The known values of every node for the horizon (``month=None``) or one
    month, and where each came from (``set``, ``target``, ``assumption``)."""
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for node in tree.nodes.values():
        if node.id in sets:
            v = sets[node.id]
            if month is not None and node.is_additive:
                v *= weights[month]
            values[node.id], sources[node.id] = v, "set"
            continue
        found = (
            _horizon_known(node, months)
            if month is None
            else _month_known(node, month, weights[month])
        )
        if found is not None:
            values[node.id], sources[node.id] = found
    return values, sources


def plan_diagnostics(tree: Tree, sol: Solution, period: str | None) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    where = {"period": period or "FY"}
    for u in sol.underdetermined:
        out.append(
            Diagnostic(
                Severity.ERROR,
                "KT201",
                "plan.underdetermined",
                {"node": u.node, "unknowns": ", ".join(u.unknowns), **where},
                tree.nodes[u.node].span,
            )
        )
    for c in sol.conflicts:
        out.append(
            Diagnostic(
                Severity.ERROR,
                "KT202",
                "plan.conflict" if math.isfinite(c.computed) else "plan.conflict_zero_divisor",
                {
                    "node": c.node,
                    "expected": _fmt(c.expected),
                    "computed": _fmt(c.computed),
                    "formula": tree.nodes[c.node].formula_text,
                    "inputs": ", ".join(f"{n} ({sol.sources.get(n, '?')})" for n in c.inputs),
                    **where,
                },
                tree.nodes[c.node].span,
            )
        )
    for s in sol.unsolvable:
        out.append(
            Diagnostic(
                Severity.ERROR,
                "KT203",
                f"plan.unsolvable_{s.reason}",
                {"node": s.node, "unknown": s.unknown, **where},
                tree.nodes[s.node].span,
            )
        )
    return out


def _fmt(value: float) -> str:
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def make_plan(
    tree: Tree,
    *,
    fiscal_year: int | None = None,
    overrides: Mapping[str, float] | None = None,
    scenario: str | None = None,
) -> Plan:
    """Plan every node of ``tree`` for one fiscal year.

    ``overrides`` (from ``--set`` or a scenario) replace a node's target or
    assumption with a horizon value.

    >>> # won deals = opportunities × win rate; 408 opportunities a year at 20%
    >>> # lead-to-opportunity needs 2,040 leads (170 a month).
    """
    year = fiscal_year or tree.fiscal_year or current_fiscal_year(tree.fiscal_year_start)
    months = fiscal_months(year, tree.fiscal_year_start)
    weights = allocation_weights(tree, year)
    sets: dict[str, float] = {}
    if scenario is not None:
        sets.update(tree.scenarios[scenario].values)
    sets.update(overrides or {})

    def knowns(month: str | None) -> tuple[dict[str, float], dict[str, str]]:
        return known_values(tree, sets, months, weights, month)

    horizon = solve(tree, *knowns(None))
    diagnostics = plan_diagnostics(tree, horizon, None)
    seen = {(d.code, d.params.get("node")) for d in diagnostics}
    monthly: dict[str, Solution] = {}
    for month in months:
        sol = solve(tree, *knowns(month))
        monthly[month] = sol
        for d in plan_diagnostics(tree, sol, month):
            if (d.code, d.params.get("node")) not in seen:
                seen.add((d.code, d.params.get("node")))
                diagnostics.append(d)

    nodes: dict[str, NodePlan] = {}
    for node_id in tree.order:
        node = tree.nodes[node_id]
        per = {m: monthly[m].values.get(node_id) for m in months}
        value = horizon.values.get(node_id)
        nodes[node_id] = NodePlan(node_id, value, per, horizon.sources.get(node_id))
        if value is not None and value < 0:
            diagnostics.append(
                Diagnostic(
                    Severity.WARNING,
                    "KT204",
                    "plan.negative",
                    {"node": node_id, "value": _fmt(value)},
                    node.span,
                )
            )
    cascade(tree, nodes)
    return Plan(tree, year, months, nodes, diagnostics, scenario, dict(sets))


def _scaled(plan: NodePlan, share: float, additive: bool, key: str) -> NodePlan:
    factor = share if additive else 1.0
    return NodePlan(
        key,
        None if plan.value is None else plan.value * factor,
        {m: None if v is None else v * factor for m, v in plan.per_period.items()},
        None,
    )


def cascade(tree: Tree, nodes: dict[str, NodePlan]) -> None:
    """Split each owned node's plan over its department's teams and reps by the
    declared shares (additive nodes are split, rates are copied)."""
    for node_id, plan in nodes.items():
        node = tree.nodes[node_id]
        dept = tree.organisation.departments.get(node.owner or "")
        if dept is None:
            continue
        for team in dept.teams:
            team_key = f"{dept.id}/{team.id}"
            team_plan = _scaled(plan, team.share, node.is_additive, team_key)
            plan.segments[team_key] = team_plan
            for rep, share in team.reps.items():
                rep_key = f"{team_key}/{rep}"
                plan.segments[rep_key] = _scaled(team_plan, share, node.is_additive, rep_key)
