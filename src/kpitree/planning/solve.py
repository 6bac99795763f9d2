"""Reverse planning (逆算) for one period.

Every formula node is an equation ``node = f(children)``. Known values come from
targets, assumptions and overrides; the solver repeatedly takes an equation with
exactly one unknown and solves it: forwards (the node from its children) or
backwards (a child from the node and its siblings, by inverting ``+ - * /`` along
the path to the unknown). What is left is reported: equations with two or more
unknowns (under-determined) and equations whose known values disagree
(over-determined, conflicting targets).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kpitree.definition.formula import BinOp, Call, Expr, Neg, Num, Ref, refs
from kpitree.definition.tree import Node, Tree
from kpitree.planning.evaluate import UNDEFINED, evaluate

__all__ = ["Conflict", "Solution", "Underdetermined", "Unsolvable", "solve"]


@dataclass(frozen=True)
class Underdetermined:
    """A node whose formula leaves more than one unknown."""

    node: str
    unknowns: tuple[str, ...]


@dataclass(frozen=True)
class Conflict:
    """A node whose known value differs from what its formula gives."""

    node: str
    expected: float  # the node's known value
    computed: float  # what its formula gives from known children
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Unsolvable:
    """An unknown that a formula cannot be solved for."""

    node: str  # equation
    unknown: str
    reason: str  # zero_divisor | not_invertible | repeated | overflow


@dataclass
class Solution:
    """The values solved for, where each came from, and what could not be solved."""

    values: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    underdetermined: list[Underdetermined] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unsolvable: list[Unsolvable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.underdetermined or self.conflicts or self.unsolvable)


def _contains(expr: Expr, name: str) -> bool:
    return any(r.name == name for r in refs(expr))


def _invert(expr: Expr, want: float, unknown: str, values: Mapping[str, float]) -> Any:
    """The value of ``unknown`` that makes ``expr`` equal ``want``; ``UNDEFINED``
    when it needs a division by zero, ``None`` when not invertible."""
    match expr:
        case Ref(name=name):
            return want if name == unknown else None
        case Num():
            return None
        case Neg(operand=o):
            return _invert(o, -want, unknown, values)
        case BinOp(op=op, left=a, right=b):
            in_left = _contains(a, unknown)
            other = evaluate(b if in_left else a, values.get)
            if other is UNDEFINED:
                return UNDEFINED
            if in_left:
                if op == "+":
                    return _invert(a, want - other, unknown, values)
                if op == "-":
                    return _invert(a, want + other, unknown, values)
                if op == "*":
                    return UNDEFINED if other == 0 else _invert(a, want / other, unknown, values)
                return _invert(a, want * other, unknown, values)
            if op == "+":
                return _invert(b, want - other, unknown, values)
            if op == "-":
                return _invert(b, other - want, unknown, values)
            if op == "*":
                return UNDEFINED if other == 0 else _invert(b, want / other, unknown, values)
            return UNDEFINED if want == 0 else _invert(b, other / want, unknown, values)
        case Call():
            return None
    return None  # pragma: no cover


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _solve_one(node: Node, sol: Solution, blocked: dict[str, Unsolvable]) -> str | None:
    """Solve ``node``'s equation when it has exactly one unknown; the id found."""
    assert node.formula is not None
    values = sol.values
    unknown = [n for n in (node.id, *node.children) if n not in values]
    if len(unknown) != 1:
        return None
    target = unknown[0]
    if target == node.id:
        result = evaluate(node.formula, values.get)
        source = "computed"
    else:
        if sum(1 for r in refs(node.formula) if r.name == target) > 1:
            blocked[node.id] = Unsolvable(node.id, target, "repeated")
            return None
        result = _invert(node.formula, values[node.id], target, values)
        source = "solved"
        if result is None:
            blocked[node.id] = Unsolvable(node.id, target, "not_invertible")
            return None
    if result is UNDEFINED:
        blocked[node.id] = Unsolvable(node.id, target, "zero_divisor")
        return None
    if not math.isfinite(result):  # beyond what a float holds: never a value
        blocked[node.id] = Unsolvable(node.id, target, "overflow")
        return None
    values[target] = float(result)
    sol.sources[target] = source
    blocked.pop(node.id, None)
    return target


def solve(tree: Tree, known: Mapping[str, float], sources: Mapping[str, str]) -> Solution:
    """Solve every node reachable from ``known`` values.

    ``sources`` says where each known value came from (``target``,
    ``assumption``, ``set`` ...); solved nodes get ``solved`` (found backwards)
    or ``computed`` (found forwards).
    """
    sol = Solution(dict(known), dict(sources))
    values = sol.values
    equations = [n for n in tree.nodes.values() if n.formula is not None]
    blocked: dict[str, Unsolvable] = {}
    # Passes over the equations in order, as by hand, until one solves nothing:
    # an equation is looked at again only when a value it uses was found, so a
    # long chain costs one look per equation instead of one pass per link.
    using: dict[str, list[int]] = {}
    for index, node in enumerate(equations):
        for name in (node.id, *node.children):
            using.setdefault(name, []).append(index)
    this_pass = list(range(len(equations)))
    heapq.heapify(this_pass)
    next_pass: list[int] = []
    queued = set(this_pass)
    while this_pass:
        index = heapq.heappop(this_pass)
        queued.discard(index)
        found = _solve_one(equations[index], sol, blocked)
        for other in using.get(found, ()) if found else ():
            if other != index and other not in queued:
                queued.add(other)
                heapq.heappush(this_pass if other > index else next_pass, other)
        if not this_pass:
            this_pass, next_pass = next_pass, []

    # A value an unsolvable equation could not give leaves the equations below it
    # with two unknowns: that is its consequence, not a second problem to report.
    stuck = {b.unknown for b in blocked.values()}
    for node in equations:
        assert node.formula is not None
        unknowns = tuple(n for n in (node.id, *node.children) if n not in values)
        if node.id in blocked:
            sol.unsolvable.append(blocked[node.id])
        elif len(unknowns) >= 2 and not stuck.intersection(unknowns):
            sol.underdetermined.append(Underdetermined(node.id, unknowns))
        elif not unknowns:
            computed = evaluate(node.formula, values.get)
            if computed is not UNDEFINED and not math.isfinite(computed):
                sol.unsolvable.append(Unsolvable(node.id, node.id, "overflow"))
            elif computed is UNDEFINED or not _close(values[node.id], float(computed)):
                sol.conflicts.append(
                    Conflict(
                        node.id,
                        values[node.id],
                        math.nan if computed is UNDEFINED else float(computed),
                        tuple(node.children),
                    )
                )
    return sol
