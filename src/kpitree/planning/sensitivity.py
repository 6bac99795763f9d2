"""Sensitivity: how much the KGI moves when one input moves.

For every input the elasticity (the % change of the KGI for a 1% change of the
input, from an exact derivative) and the effect of a finite step ("+10% on X →
+Y on the KGI", by re-evaluating the tree) are reported, ranked by effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kpitree.definition.tree import Tree
from kpitree.planning.evaluate import UNDEFINED, Dual, evaluate_tree

__all__ = ["Sensitivity", "sensitivity"]


@dataclass(frozen=True)
class Sensitivity:
    node: str
    value: float
    derivative: float | None  # d KGI / d input
    elasticity: float | None  # (d KGI / KGI) / (d input / input)
    step: float  # relative step, e.g. 0.10
    effect: float | None  # KGI change when the input moves by `step`

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "value": self.value,
            "derivative": self.derivative,
            "elasticity": self.elasticity,
            "step": self.step,
            "effect": self.effect,
        }


def sensitivity(
    tree: Tree, inputs: Mapping[str, float], *, step: float = 0.10, root: str | None = None
) -> list[Sensitivity]:
    """Sensitivity of ``root`` (default: the KGI) to every input it depends on,
    largest effect first."""
    root = root or tree.kgi
    needed = tree.descendants(root)
    names = [n for n in tree.order if n in needed and tree.nodes[n].is_input and n in inputs]
    base = evaluate_tree(tree, dict(inputs))[root]
    results = []
    for name in names:
        duals = {k: Dual(v, 1.0 if k == name else 0.0) for k, v in inputs.items()}
        try:
            out = evaluate_tree(tree, duals, Dual)[root]
        except ZeroDivisionError:
            out = UNDEFINED
        derivative = None if out is UNDEFINED else out.slope
        bumped = dict(inputs)
        bumped[name] = inputs[name] * (1 + step)
        moved = evaluate_tree(tree, bumped)[root]
        effect = None if moved is UNDEFINED or base is UNDEFINED else moved - base
        elasticity = (
            None
            if derivative is None or base is UNDEFINED or base == 0
            else derivative * inputs[name] / base
        )
        results.append(Sensitivity(name, inputs[name], derivative, elasticity, step, effect))
    results.sort(key=lambda s: -abs(s.effect) if s.effect is not None else 0.0)
    return results
