"""Re-planning the rest of a fiscal year from what has happened (逆算 mid-year).

Months before the as-of month are *closed*: every node takes its actual value
(its plan value when no actual is known, listed in ``fallback``). The as-of month
and the months after it are *open* and solved again with the same solver:

- an additive node with a target (or a ``--set`` value) must still reach its
  fiscal-year value, so what is left of it, ``FY target − Σ closed actuals``, is
  spread over the open months in proportion to the original plan of those months
  (which keeps the allocation: business days, seasonality, per-month targets);
- additive assumptions keep their original monthly values, and rates, prices and
  other non-additive values keep their targets and assumptions.

Because the decompositions are homogeneous in the additive nodes, the open months
add up to what is left, so closed actuals plus the open months reproduce every
additive target exactly. What the remaining months would need but cannot have
under the assumptions (a negative count or amount, a rate above 100%) is reported
as unreachable, naming the node, the month and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kpitree.definition.tree import Tree
from kpitree.errors import Diagnostic, Severity
from kpitree.planning.plan import (
    NodePlan,
    Plan,
    allocation_weights,
    cascade,
    known_values,
    plan_diagnostics,
)
from kpitree.planning.solve import solve

__all__ = ["Landing", "NodeChange", "Replan", "Unreachable", "replan"]

_RESPREAD = ("target", "set")


@dataclass(frozen=True)
class NodeChange:
    """A node's average per open month, originally and re-planned."""

    node: str
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        """Relative change (``0.22`` is +22%); ``None`` when undefined."""
        if self.before is None or self.after is None or self.before == 0:
            return None
        return self.after / self.before - 1.0

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "change": self.change}


@dataclass(frozen=True)
class Unreachable:
    """A value the open months would need but cannot have."""

    node: str
    month: str
    value: float
    reason: str  # negative | above_one

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "month": self.month, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class Landing:
    """Where a node lands at the end of the fiscal year (着地見込み)."""

    node: str
    actual_to_date: float | None
    run_rate: float | None  # actuals to date + the run rate for the rest
    with_plan: float | None  # closed actuals + the original plan of the open months
    target: float | None

    @property
    def gap(self) -> float | None:
        """Target minus the run-rate landing (positive: a shortfall)."""
        if self.target is None or self.run_rate is None:
            return None
        return self.target - self.run_rate

    def to_json(self) -> dict[str, Any]:
        return {
            "actual_to_date": self.actual_to_date,
            "run_rate": self.run_rate,
            "with_plan": self.with_plan,
            "target": self.target,
            "gap": self.gap,
        }


@dataclass
class Replan(Plan):
    """A plan re-solved from actuals: :attr:`nodes` hold the closed months' actuals
    and the open months' new values; :attr:`original` is the plan it came from."""

    original: Plan | None = None
    as_of_month: str = ""
    closed: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)
    changes: dict[str, NodeChange] = field(default_factory=dict)
    unreachable: list[Unreachable] = field(default_factory=list)
    fallback: dict[str, list[str]] = field(default_factory=dict)  # month -> nodes on plan
    landing: dict[str, Landing] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Planned without errors, with months left and nothing unreachable."""
        return super().ok and not self.unreachable and bool(self.open)

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        out = super().to_json(lang)
        original = self.original.to_json(lang)["nodes"] if self.original is not None else {}
        out["from_actuals"] = {
            "as_of_month": self.as_of_month,
            "closed": self.closed,
            "open": self.open,
            "original": {
                k: {"value": v["value"], "per_period": v["per_period"]} for k, v in original.items()
            },
            "changes": {k: c.to_json() for k, c in self.changes.items()},
            "unreachable": [u.to_json() for u in self.unreachable],
            "fallback": self.fallback,
            "landing": {k: v.to_json() for k, v in self.landing.items()},
        }
        return out


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def replan(
    original: Plan,
    actuals: Mapping[str, Mapping[str, float | None]],
    as_of_month: str,
) -> Replan:
    """Re-plan ``original`` from ``actuals`` (month → node → value) as of
    ``as_of_month`` (``YYYY-MM``); see the module's docstring for the rules."""
    tree = original.tree
    months = original.periods
    closed = [m for m in months if m < as_of_month]
    open_ = [m for m in months if m >= as_of_month]
    fallback: dict[str, list[str]] = {}
    closed_values: dict[str, dict[str, float | None]] = {}
    for m in closed:
        row: dict[str, float | None] = {}
        given = actuals.get(m, {})
        for node_id, plan in original.nodes.items():
            value = _finite(given.get(node_id))
            if value is None:
                value = plan.per_period.get(m)
                if value is not None:
                    fallback.setdefault(m, []).append(node_id)
            row[node_id] = value
        closed_values[m] = row

    sets = dict(original.overrides)
    weights = allocation_weights(tree, original.fiscal_year)
    respread = {
        node_id: plan.value
        for node_id, plan in original.nodes.items()
        if tree.nodes[node_id].is_additive and plan.source in _RESPREAD and plan.value is not None
    }
    shares = _open_shares(original, open_, weights)
    diagnostics: list[Diagnostic] = [
        d for d in original.diagnostics if d.code not in ("KT201", "KT202", "KT203")
    ]
    seen = {(d.code, d.params.get("node")) for d in diagnostics}
    open_solutions = {}
    for m in open_:
        values, sources = known_values(tree, sets, months, weights, m)
        for node_id, fy_value in respread.items():
            left = fy_value - sum(closed_values[c][node_id] or 0.0 for c in closed)
            values[node_id] = left * shares[node_id][m]
            sources[node_id] = sources.get(node_id, "target")
        sol = solve(tree, values, sources)
        open_solutions[m] = sol
        for d in plan_diagnostics(tree, sol, m):
            if (d.code, d.params.get("node")) not in seen:
                seen.add((d.code, d.params.get("node")))
                diagnostics.append(d)

    # What is left for the open months as a whole: additive targets' remainders,
    # the open months' sums of additive assumptions, non-additive values as given.
    rest_values, rest_sources = known_values(tree, sets, months, weights, None)
    for node_id in list(rest_values):
        node = tree.nodes[node_id]
        if not node.is_additive:
            continue
        if node_id in respread:
            rest_values[node_id] = respread[node_id] - sum(
                closed_values[c][node_id] or 0.0 for c in closed
            )
        else:
            rest_values[node_id] = sum(
                known_values(tree, sets, months, weights, m)[0].get(node_id, 0.0) for m in open_
            )
    rest = solve(tree, rest_values, rest_sources) if open_ else None

    nodes: dict[str, NodePlan] = {}
    for node_id in tree.order:
        node = tree.nodes[node_id]
        per: dict[str, float | None] = {m: closed_values[m][node_id] for m in closed}
        per.update({m: open_solutions[m].values.get(node_id) for m in open_})
        if node.is_additive:
            parts = [per[m] for m in months]
            value = None if any(v is None for v in parts) else sum(v or 0.0 for v in parts)
        else:
            value = rest.values.get(node_id) if rest is not None else None
        source = original.nodes[node_id].source
        nodes[node_id] = NodePlan(node_id, value, per, source)
    cascade(tree, nodes)

    solved = {m: open_solutions[m].sources for m in open_}
    unreachable = _unreachable(tree, nodes, solved)
    for u in unreachable:
        diagnostics.append(
            Diagnostic(
                Severity.WARNING,
                "KT450",
                f"plan.replan_{u.reason}",
                {"node": u.node, "month": u.month, "value": _fmt(u.value)},
                tree.nodes[u.node].span,
            )
        )
    if not open_:
        diagnostics.append(
            Diagnostic(
                Severity.WARNING,
                "KT451",
                "plan.replan_year_over",
                {"year": original.fiscal_year},
                None,
            )
        )
    changes = {
        node_id: NodeChange(
            node_id,
            _mean([original.nodes[node_id].per_period.get(m) for m in open_]),
            _mean([nodes[node_id].per_period.get(m) for m in open_]),
        )
        for node_id in tree.order
    }
    return Replan(
        tree,
        original.fiscal_year,
        months,
        nodes,
        diagnostics,
        original.scenario,
        dict(original.overrides),
        original=original,
        as_of_month=as_of_month,
        closed=closed,
        open=open_,
        changes=changes,
        unreachable=unreachable,
        fallback=fallback,
    )


def _open_shares(
    original: Plan, open_: list[str], weights: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Each node's share of what is left that falls in each open month: its
    original plan of the month over the open months' total (the allocation
    weights when that total is zero or unknown)."""
    out: dict[str, dict[str, float]] = {}
    for node_id, plan in original.nodes.items():
        planned = [plan.per_period.get(m) for m in open_]
        if all(v is not None for v in planned) and sum(v or 0.0 for v in planned) != 0:
            total = sum(v or 0.0 for v in planned)
            out[node_id] = {m: (v or 0.0) / total for m, v in zip(open_, planned, strict=True)}
        else:
            total = sum(weights[m] for m in open_) or 1.0
            out[node_id] = {m: weights[m] / total for m in open_}
    return out


def _unreachable(
    tree: Tree, nodes: Mapping[str, NodePlan], sources: Mapping[str, Mapping[str, str]]
) -> list[Unreachable]:
    """Negative counts and amounts, and rates the solver had to raise above 100%
    (a stated rate above 1, such as a net revenue retention, is not flagged)."""
    out: list[Unreachable] = []
    for node_id, plan in nodes.items():
        node = tree.nodes[node_id]
        for m, month_sources in sources.items():
            value = plan.per_period.get(m)
            if value is None:
                continue
            if node.is_additive and value < -1e-9 * max(1.0, abs(plan.value or 0.0)):
                out.append(Unreachable(node_id, m, value, "negative"))
            elif (
                node.unit_name == "ratio"
                and month_sources.get(node_id) == "solved"
                and value > 1 + 1e-9
            ):
                out.append(Unreachable(node_id, m, value, "above_one"))
    return out


def _mean(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(v or 0.0 for v in values) / len(values)


def _fmt(value: float) -> str:
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
