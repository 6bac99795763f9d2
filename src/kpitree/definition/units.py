"""Units of node values and the algebra formulas must respect.

A unit is a *dimension* (powers of currency, days, hours, score) plus, for
dimensionless values, a *kind*: ``count`` (things you can count), ``ratio`` (a
share, 0..1) or ``number`` (a plain number that adapts to anything).

Rules, chosen to match how revenue teams decompose their trees:

- ``+``, ``-``, ``min``, ``max`` need the same unit on both sides
  (``count + currency`` is an error). ``number`` adapts to the other side.
- ``*`` and ``/`` add and subtract dimensions. A count times a currency is a
  currency (deals × average deal size = revenue), a currency over a count is a
  currency (revenue ÷ deals = average deal size), a count over a count is a
  ratio, a count over a ratio is a count (opportunities ÷ win rate = SQLs needed).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNIT_NAMES", "Unit", "UnitMismatch", "unit"]

UNIT_NAMES = ("count", "currency", "ratio", "days", "hours", "score", "number")
_DIMENSIONS = ("currency", "days", "hours", "score")


class UnitMismatch(ValueError):
    """Two operands whose units cannot be combined by the operator."""

    def __init__(self, op: str, left: Unit, right: Unit) -> None:
        super().__init__(f"{left} {op} {right}")
        self.op = op
        self.left = left
        self.right = right


@dataclass(frozen=True, slots=True)
class Unit:
    """``dims`` maps a dimension to its (non-zero) power; ``kind`` only matters
    when ``dims`` is empty."""

    dims: tuple[tuple[str, int], ...] = ()
    kind: str = "number"

    @property
    def is_dimensionless(self) -> bool:
        return not self.dims

    def __str__(self) -> str:
        if not self.dims:
            return self.kind
        parts = []
        for name, power in self.dims:
            parts.append(name if power == 1 else f"{name}^{power}")
        return "·".join(parts)

    def _combine(self, other: Unit, sign: int) -> dict[str, int]:
        powers = dict(self.dims)
        for name, power in other.dims:
            powers[name] = powers.get(name, 0) + sign * power
        return {k: v for k, v in powers.items() if v}

    def mul(self, other: Unit) -> Unit:
        dims = self._combine(other, +1)
        kinds = {self.kind, other.kind} if not (self.dims or other.dims) else set()
        if dims:
            return Unit(tuple(sorted(dims.items())))
        if not kinds:  # dimensions cancelled: currency × (1/currency)
            return Unit(kind="ratio")
        if "count" in kinds:
            return Unit(kind="count")
        if "ratio" in kinds:
            return Unit(kind="ratio")
        return Unit(kind="number")

    def div(self, other: Unit) -> Unit:
        dims = self._combine(other, -1)
        if dims:
            # currency / count stays currency: an average per item.
            return Unit(tuple(sorted(dims.items())))
        if self.dims or other.dims:  # same dimension on both sides
            return Unit(kind="ratio")
        if self.kind == other.kind:
            return Unit(kind="ratio") if self.kind in ("count", "ratio") else Unit()
        if self.kind == "number":
            return other if other.kind != "count" else Unit()
        if other.kind == "number":
            return self
        if self.kind == "count":  # count / ratio
            return Unit(kind="count")
        return Unit()  # ratio / count: a per-item rate, no better name

    def add(self, other: Unit, op: str = "+") -> Unit:
        if self == other:
            return self
        if self.is_dimensionless and self.kind == "number":
            return other
        if other.is_dimensionless and other.kind == "number":
            return self
        raise UnitMismatch(op, self, other)

    def accepts(self, inferred: Unit) -> bool:
        """Whether a node declared with this unit may hold a value of ``inferred``."""
        if self == inferred:
            return True
        if self.kind == "number" and not self.dims:
            return inferred.is_dimensionless
        return inferred.is_dimensionless and inferred.kind == "number"


def unit(name: str) -> Unit:
    """The unit called ``name`` (one of :data:`UNIT_NAMES`)."""
    if name in _DIMENSIONS:
        return Unit(((name, 1),))
    if name in ("count", "ratio", "number"):
        return Unit(kind=name)
    raise ValueError(f"unknown unit {name!r}")
