"""Formulas over whole columns: the tree's arithmetic applied to every period
and segment at once (NumPy), with the same rules as the scalar evaluator of
:mod:`kpitree.planning.evaluate` (a division by zero is undefined: NaN).

:func:`solve_steps` orders the equations of a tree the way the planner solves
them, given which nodes are measured: each step computes one unknown, forwards
(a node from its children) or backwards (a child implied by its measured parent
and siblings, e.g. an MQL rate as MQLs / leads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kpitree.definition.formula import BinOp, Call, Expr, Neg, Num, Ref, refs
from kpitree.definition.tree import Tree

__all__ = ["Step", "evaluate_columns", "invert_columns", "solve_steps"]


def _div(a: Any, b: Any) -> Any:
    import numpy as np

    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def evaluate_columns(expr: Expr, columns: Mapping[str, Any]) -> Any:
    """``expr`` over arrays (a missing column is all NaN)."""
    import numpy as np

    match expr:
        case Num(value=v):
            return np.float64(v)
        case Ref(name=name):
            if name in columns:
                return np.asarray(columns[name], dtype="float64")
            return np.float64("nan")
        case Neg(operand=o):
            return -evaluate_columns(o, columns)
        case BinOp(op=op, left=a, right=b):
            left = evaluate_columns(a, columns)
            right = evaluate_columns(b, columns)
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            return _div(left, right)
        case Call(func=func, args=args):
            values = [evaluate_columns(x, columns) for x in args]
            if func == "abs":
                return np.abs(values[0])
            stacked = np.broadcast_arrays(*values)
            # min/max of an undefined value is undefined, like the scalar rule.
            return (np.min if func == "min" else np.max)(np.stack(stacked), axis=0)
    raise TypeError(expr)  # pragma: no cover


def _contains(expr: Expr, name: str) -> bool:
    return any(r.name == name for r in refs(expr))


def invert_columns(expr: Expr, want: Any, unknown: str, columns: Mapping[str, Any]) -> Any:
    """Values of ``unknown`` that make ``expr`` equal ``want`` (NaN where that
    needs a division by zero); ``None`` when the formula cannot be inverted."""
    match expr:
        case Ref(name=name):
            return want if name == unknown else None
        case Neg(operand=o):
            return invert_columns(o, -want, unknown, columns)
        case BinOp(op=op, left=a, right=b):
            in_left = _contains(a, unknown)
            other = evaluate_columns(b if in_left else a, columns)
            sub = a if in_left else b
            if op == "+":
                return invert_columns(sub, want - other, unknown, columns)
            if op == "-":
                return invert_columns(
                    sub, want + other if in_left else other - want, unknown, columns
                )
            if op == "*":
                return invert_columns(sub, _div(want, other), unknown, columns)
            return invert_columns(
                sub, want * other if in_left else _div(other, want), unknown, columns
            )
    return None


@dataclass(frozen=True)
class Step:
    """One step of computing unmeasured nodes: ``target`` from the formula of ``equation``."""

    equation: str  # the formula node
    target: str  # the node computed
    forward: bool


def solve_steps(tree: Tree, measured: set[str]) -> list[Step]:
    """The order in which the unmeasured nodes follow from the measured ones."""
    known = set(measured)
    steps: list[Step] = []
    equations = [n for n in tree.nodes.values() if n.formula is not None]
    progress = True
    while progress:
        progress = False
        for node in equations:
            assert node.formula is not None
            unknown = [n for n in (node.id, *node.children) if n not in known]
            if len(unknown) != 1:
                continue
            target = unknown[0]
            if target != node.id:
                if sum(1 for r in refs(node.formula) if r.name == target) > 1:
                    continue
                if any(isinstance(x, Call) for x in _walk(node.formula)):
                    continue
            steps.append(Step(node.id, target, target == node.id))
            known.add(target)
            progress = True
    return steps


def _walk(expr: Expr) -> list[Expr]:
    match expr:
        case Neg(operand=o):
            return [expr, *_walk(o)]
        case BinOp(left=a, right=b):
            return [expr, *_walk(a), *_walk(b)]
        case Call(args=args):
            return [expr, *(x for a in args for x in _walk(a))]
    return [expr]
