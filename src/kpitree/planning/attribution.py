"""Attribution: which inputs explain the change of the KGI between two sets of
values (plan vs actual, last month vs this month).

Method: the Shapley value, applied node by node down the tree. At each formula
node, the change of the node is split among the children its formula uses:
a child's share is its marginal effect averaged over every order in which the
children could switch from the base value to the current one. The shares add
up to the node's change exactly (efficiency), a child that did not change gets
nothing (null player), and children in symmetric positions are treated alike.
A child's share of the KGI is then passed to its own children in proportion to
their Shapley shares of the child's change. So the contributions of the inputs
add up exactly to the change of the KGI, for sums, products, ratios, min and
max alike.

**Measured formula nodes.** A node that is both measured and computed from its
children (opportunities counted from deals, and MQLs × a cohort MQL→opportunity
rate) need not equal its formula in a month: a cohort rate counts the MQLs of
the month that converted within its window, the count counts the opportunities
created in the month, whatever cohort they came from. Given such a node's
measured values (``base_nodes`` / ``current_nodes``), the node takes them, and
the difference to what its formula computes (its *reconciliation*) is one more
player of the node's Shapley split: the children explain what the formula
explains, the reconciliation the rest, and inputs plus reconciliations add up
exactly to the change of the root as measured.

Why not LMDI (log-mean Divisia)? It is exact only for products and quotients,
and needs strictly positive values: it breaks on zero won deals in a month or a
rate that goes to zero, which revenue teams see all the time. Shapley needs
neither, at the cost of 2^k formula evaluations for a node with k children
(cheap: formulas have a handful of terms).

All arithmetic is done on exact fractions, so "adds up exactly" holds exactly,
not within floating-point error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from math import factorial
from typing import Any

from kpitree.definition.tree import Tree
from kpitree.errors import PlanError
from kpitree.planning.evaluate import UNDEFINED, evaluate

__all__ = ["MAX_CHILDREN", "Attribution", "Contribution", "attribute", "shapley"]

MAX_CHILDREN = 16


@dataclass
class Contribution:
    """The share of the KGI change that flows through ``node`` (on one path)."""

    node: str
    base: float | None
    current: float | None
    contribution: Fraction | None
    children: list[Contribution] = field(default_factory=list)
    # The share of the node's measured value its formula does not compute
    # (measured - computed); None where the node is not measured.
    reconciliation: Fraction | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "base": self.base,
            "current": self.current,
            "contribution": _float(self.contribution),
            "reconciliation": _float(self.reconciliation),
            "children": [c.to_json() for c in self.children],
        }


@dataclass
class Attribution:
    """How much each input (and each reconciliation) explains of the change of ``root``
    from ``base`` to ``current``."""

    root: str
    base: float | None
    current: float | None
    change: Fraction | None
    tree: Contribution
    by_input: dict[str, Fraction | None]
    method: str = "shapley"
    # Measured formula node -> the share of the change its reconciliation
    # (measured - computed) explains, added over every path.
    reconciliation: dict[str, Fraction | None] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """Whether the input contributions and reconciliations add up to the
        change exactly."""
        shares = [*self.by_input.values(), *self.reconciliation.values()]
        if self.change is None or any(v is None for v in shares):
            return False
        return sum((v for v in shares if v is not None), Fraction(0)) == self.change

    def ranked(self) -> list[tuple[str, Fraction | None]]:
        return sorted(
            self.by_input.items(),
            key=lambda kv: -abs(kv[1]) if kv[1] is not None else 0,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "node": self.root,
            "base": self.base,
            "current": self.current,
            "change": _float(self.change),
            "exact": self.exact,
            "by_input": {k: None if v is None else float(v) for k, v in self.ranked()},
            "reconciliation": {
                k: None if v is None else float(v) for k, v in self.reconciliation.items()
            },
            "tree": self.tree.to_json(),
        }


def shapley(
    func: Any, players: list[str], base: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """Exact Shapley values of ``players`` for ``func(values) - func(base)``.

    ``func`` takes a mapping of player values; players not switched keep their
    base value. Returns ``UNDEFINED`` for every player when any evaluation is
    undefined."""
    k = len(players)
    if k > MAX_CHILDREN:
        raise PlanError.of("KT205", "plan.too_many_children", count=k, limit=MAX_CHILDREN)
    cache: dict[frozenset[str], Any] = {}

    def value(switched: frozenset[str]) -> Any:
        if switched not in cache:
            values = {p: (current[p] if p in switched else base[p]) for p in players}
            cache[switched] = func(values)
        return cache[switched]

    weights = [Fraction(factorial(s) * factorial(k - s - 1), factorial(k)) for s in range(k)]
    result: dict[str, Any] = {}
    for player in players:
        others = [p for p in players if p != player]
        total = Fraction(0)
        for size in range(k):
            for subset in combinations(others, size):
                with_p = value(frozenset((*subset, player)))
                without = value(frozenset(subset))
                if with_p is UNDEFINED or without is UNDEFINED:
                    return dict.fromkeys(players, UNDEFINED)
                total += weights[size] * (with_p - without)
        result[player] = total
    return result


def _float(v: Any) -> float | None:
    """A float for display; values beyond the float range become ±inf."""
    if v is UNDEFINED or v is None:
        return None
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def attribute(
    tree: Tree,
    base_inputs: Mapping[str, float],
    current_inputs: Mapping[str, float],
    *,
    root: str | None = None,
    base_nodes: Mapping[str, float] | None = None,
    current_nodes: Mapping[str, float] | None = None,
) -> Attribution:
    """Split the change of ``root`` (default: the KGI) between two sets of input
    values into contributions of every node, recursively. ``base_nodes`` and
    ``current_nodes``: measured values of formula nodes; a node in both takes
    them, and its reconciliation (measured - computed) gets a share of its own."""
    root = root or tree.kgi
    measured = {
        n
        for n in (base_nodes or {})
        if n in (current_nodes or {}) and n in tree.nodes and tree.nodes[n].formula is not None
    }
    base, base_gap = _evaluate(tree, base_inputs, base_nodes or {}, measured)
    current, current_gap = _evaluate(tree, current_inputs, current_nodes or {}, measured)
    by_input: dict[str, Fraction | None] = {}
    reconciliation: dict[str, Fraction | None] = {}

    def slope(formula: Any, child: str, children: list[str]) -> Fraction | None:
        """d formula / d child at the midpoint of base and current values."""
        mid: dict[str, Fraction] = {}
        for c in children:
            if base[c] is UNDEFINED or current[c] is UNDEFINED:
                return None
            mid[c] = (base[c] + current[c]) / 2
        h = max(abs(mid[child]), Fraction(1)) / 1_000_000
        up = evaluate(formula, {**mid, child: mid[child] + h}.__getitem__, Fraction)
        down = evaluate(formula, {**mid, child: mid[child] - h}.__getitem__, Fraction)
        if up is UNDEFINED or down is UNDEFINED:
            return None
        return Fraction(up - down) / (2 * Fraction(h))

    def split(node_id: str, share: Fraction | None, rate: Fraction | None) -> Contribution:
        """``rate``: KGI change per unit change of this node, used when the node
        itself did not change but its children moved in offsetting ways (their
        contributions then cancel out exactly, and still show who moved)."""
        node = tree.nodes[node_id]
        out = Contribution(node_id, _float(base[node_id]), _float(current[node_id]), share)
        if node.formula is None:
            earlier = by_input.get(node_id, Fraction(0))
            by_input[node_id] = None if share is None or earlier is None else earlier + share
            return out
        formula = node.formula
        children = list(node.children)
        players = children
        base_of, current_of = base, current
        if node_id in measured:
            # The reconciliation plays beside the children: formula + gap.
            players = [*children, _GAP]
            base_of = {**base, _GAP: base_gap[node_id]}
            current_of = {**current, _GAP: current_gap[node_id]}

        def value(vals: Mapping[str, Any]) -> Any:
            out = evaluate(formula, vals.__getitem__, Fraction)
            if _GAP in vals and out is not UNDEFINED and vals[_GAP] is not UNDEFINED:
                out = out + vals[_GAP]
            elif _GAP in vals:
                out = UNDEFINED
            return out

        phi = shapley(value, players, base_of, current_of)
        delta = (
            None
            if base[node_id] is UNDEFINED or current[node_id] is UNDEFINED
            else current[node_id] - base[node_id]
        )
        if share is not None and delta:
            rate = share / delta
        elif share is None or delta is None:
            rate = None
        if node_id in measured:
            gap_share = None if rate is None or phi[_GAP] is UNDEFINED else rate * phi[_GAP]
            out.reconciliation = gap_share
            earlier = reconciliation.get(node_id, Fraction(0))
            reconciliation[node_id] = (
                None if gap_share is None or earlier is None else earlier + gap_share
            )
        for child in children:
            child_share = None if rate is None or phi[child] is UNDEFINED else rate * phi[child]
            child_delta = (
                None
                if base[child] is UNDEFINED or current[child] is UNDEFINED
                else current[child] - base[child]
            )
            child_rate = None
            if rate is not None and child_delta == 0:
                local = slope(formula, child, children)
                child_rate = None if local is None else rate * local
            out.children.append(split(child, child_share, child_rate))
        return out

    change = (
        None
        if base[root] is UNDEFINED or current[root] is UNDEFINED
        else current[root] - base[root]
    )
    contribution_tree = split(root, change, Fraction(1))
    return Attribution(
        root,
        _float(base[root]),
        _float(current[root]),
        change,
        contribution_tree,
        by_input,
        reconciliation=reconciliation,
    )


# The Shapley player that stands for a measured node's reconciliation (no node
# id can contain a NUL).
_GAP = "\0reconciliation"
# A reconciliation gap this small relative to the value is floating-point noise.
_NOISE = Fraction(1, 10**9)


def _evaluate(
    tree: Tree, inputs: Mapping[str, float], nodes: Mapping[str, float], measured: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every node's value (measured nodes take their measured value) and each
    measured node's reconciliation: measured - computed from its children."""
    values: dict[str, Any] = {}
    gaps: dict[str, Any] = {}
    for node_id in tree.order:
        node = tree.nodes[node_id]
        if node.formula is None:
            values[node_id] = Fraction(inputs[node_id]) if node_id in inputs else UNDEFINED
            continue
        computed = evaluate(node.formula, values.__getitem__, Fraction)
        if node_id in measured:
            value = Fraction(nodes[node_id])
            gap = UNDEFINED if computed is UNDEFINED else value - computed
            if gap is not UNDEFINED and abs(gap) <= _NOISE * max(Fraction(1), abs(value)):
                # Reconciled up to floating point (won deals x average deal
                # size = revenue): the formula's value, and nothing to show.
                value, gap = computed, Fraction(0)
            gaps[node_id] = gap
            values[node_id] = value
        else:
            values[node_id] = computed
    return values, gaps
