"""Evaluating formulas on values.

Evaluation is generic over the number type: ``float`` for plans, ``Fraction``
for attribution (so contributions add up exactly), :class:`Dual` for exact
derivatives in sensitivity analysis. A division by zero gives :data:`UNDEFINED`
instead of raising, and anything computed from it stays undefined.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kpitree.definition.formula import BinOp, Call, Expr, Neg, Num, Ref
from kpitree.definition.tree import Tree

__all__ = ["UNDEFINED", "Dual", "Undefined", "evaluate", "evaluate_tree", "is_undefined"]


class Undefined:
    """An explicit "no value": the result of a division by zero or of a missing
    input. Falsy, and equal only to itself."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED = Undefined()


def is_undefined(value: object) -> bool:
    return value is UNDEFINED or value is None


@dataclass(frozen=True, slots=True)
class Dual:
    """A value with its derivative along one input (forward-mode differentiation)."""

    value: float
    slope: float = 0.0

    def __add__(self, o: Dual) -> Dual:
        return Dual(self.value + o.value, self.slope + o.slope)

    def __sub__(self, o: Dual) -> Dual:
        return Dual(self.value - o.value, self.slope - o.slope)

    def __mul__(self, o: Dual) -> Dual:
        return Dual(self.value * o.value, self.slope * o.value + self.value * o.slope)

    def __truediv__(self, o: Dual) -> Dual:
        return Dual(
            self.value / o.value, (self.slope * o.value - self.value * o.slope) / o.value**2
        )

    def __neg__(self) -> Dual:
        return Dual(-self.value, -self.slope)

    def __abs__(self) -> Dual:
        return self if self.value >= 0 else -self

    def __lt__(self, o: Dual) -> bool:
        return self.value < o.value

    def __gt__(self, o: Dual) -> bool:
        return self.value > o.value

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Dual) and self.value == o.value

    def __hash__(self) -> int:
        return hash(self.value)

    def is_zero(self) -> bool:
        return self.value == 0


def _is_zero(value: Any) -> bool:
    return bool(value.is_zero()) if isinstance(value, Dual) else bool(value == 0)


def evaluate(
    expr: Expr,
    lookup: Callable[[str], Any],
    const: Callable[[float], Any] = float,
) -> Any:
    """The value of ``expr``; ``lookup`` gives node values, ``const`` turns
    literals into the number type in use."""
    match expr:
        case Num(value=v):
            return const(v)
        case Ref(name=name):
            value = lookup(name)
            return UNDEFINED if value is None else value
        case Neg(operand=o):
            inner = evaluate(o, lookup, const)
            return inner if inner is UNDEFINED else -inner
        case BinOp(op=op, left=a, right=b):
            left = evaluate(a, lookup, const)
            right = evaluate(b, lookup, const)
            if left is UNDEFINED or right is UNDEFINED:
                return UNDEFINED
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            if _is_zero(right):
                return UNDEFINED
            return left / right
        case Call(func=func, args=args):
            values = [evaluate(x, lookup, const) for x in args]
            if any(v is UNDEFINED for v in values):
                return UNDEFINED
            if func == "abs":
                return abs(values[0])
            return min(values) if func == "min" else max(values)
    raise TypeError(expr)  # pragma: no cover


def evaluate_tree(
    tree: Tree,
    inputs: Mapping[str, Any],
    const: Callable[[float], Any] = float,
) -> dict[str, Any]:
    """Every node's value from the values of the inputs (formula nodes are
    computed bottom-up; an input missing from ``inputs`` is undefined)."""
    values: dict[str, Any] = {}
    for node_id in tree.order:
        node = tree.nodes[node_id]
        if node.formula is None:
            values[node_id] = inputs.get(node_id, UNDEFINED)
        else:
            values[node_id] = evaluate(node.formula, values.__getitem__, const)
    return values


def to_fraction(value: float) -> Fraction:
    return Fraction(value)
