"""A rate typed without its percent sign.

The Plan page and ``kpitree plan --set`` show a rate as ``72%`` and read
``72%``, ``0.72`` or ``72 %``. A bare ``72`` is a number, so it would plan a
conversion rate of 7,200%: every node below it would be planned from a
nonsense rate and nothing would say why. A bare number above one for a rate
whose planned value is at most one is therefore refused, naming both readings;
a rate planned above one (a net revenue retention of 110%) takes ``1.2`` as
written, and ``120%`` is always taken as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kpitree.definition.tree import Tree
from kpitree.errors import Diagnostic, Severity

__all__ = ["bare_percent_mistakes"]

_PERCENT = ("%", "％")


def bare_percent_mistakes(
    tree: Tree,
    raw: Mapping[str, str],
    values: Mapping[str, float],
    planned: Callable[[], Mapping[str, float]],
) -> list[Diagnostic]:
    """``KT780`` for each rate node given a bare number above one (``raw`` is
    the text as typed, ``values`` as read, ``planned`` gives the plan's
    values; it is asked only when a rate was typed that way)."""
    out: list[Diagnostic] = []
    for name, text in raw.items():
        node = tree.nodes.get(name)
        value = values.get(name)
        if node is None or value is None or node.unit_name != "ratio":
            continue
        if any(p in text for p in _PERCENT) or value <= 1:
            continue
        before = planned().get(name)
        if before is not None and before > 1:
            continue
        out.append(
            Diagnostic(
                Severity.ERROR,
                "KT780",
                "plan.bare_percent",
                {
                    "node": name,
                    "value": text.strip(),
                    "percent": f"{value * 100:,.6g}%",
                    "meant": f"{value:,.6g}%",
                    "share": f"{value / 100:.6g}",
                },
            )
        )
    return out
