"""The tree's funnel: the conversion chain from leads to won deals.

A *funnel step* is a count computed as the previous stage's count times a rate
(``mqls = leads * mql_rate``); its rate is the step's conversion. The chain is
either the one a project names (``funnel: [leads, mqls, opportunities,
won_deals]`` in kpitree.yaml, checked here: each stage after the first must be
the one before it times a rate) or, when none is named, the longest chain of
such steps the formulas declare. Rates that multiply something other than a
count of the previous stage (an upsell rate on renewable ARR) are not steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.definition.formula import BinOp, Expr, Ref
from kpitree.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft
    from kpitree.definition.tree import Tree

__all__ = ["FunnelStep", "check_funnel", "funnel_steps"]


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step of the funnel: ``to_node = from_node * rate_node``."""

    from_node: str
    rate_node: str
    to_node: str


def _factors(formula: Expr | None) -> tuple[str, str] | None:
    """The two node ids of a formula ``a * b``, else ``None``."""
    if not isinstance(formula, BinOp) or formula.op != "*":
        return None
    if not isinstance(formula.left, Ref) or not isinstance(formula.right, Ref):
        return None
    return formula.left.name, formula.right.name


def _step(
    node_id: str, formula: Expr | None, units: Mapping[str, str | None], previous: str | None
) -> FunnelStep | None:
    """The step that computes ``node_id`` (a count = a count x a ratio); with
    ``previous``, only the step from that stage."""
    factors = _factors(formula)
    if factors is None or units.get(node_id) != "count":
        return None
    a, b = factors
    if units.get(a) == "ratio" and units.get(b) == "count":
        a, b = b, a
    if units.get(a) != "count" or units.get(b) != "ratio":
        return None
    if previous is not None and a != previous:
        return None
    return FunnelStep(a, b, node_id)


def funnel_steps(tree: Tree) -> list[FunnelStep]:
    """The funnel's steps from the top down: the project's named chain
    (``funnel:``), else the longest chain of ``count = count * rate`` steps
    (the first found when two are as long)."""
    units = {n.id: n.unit_name for n in tree.nodes.values()}
    if tree.funnel:
        named = []
        for a, b in zip(tree.funnel, tree.funnel[1:], strict=False):
            step = _step(b, tree.nodes[b].formula, units, a)
            if step is not None:  # checked when the definition was read
                named.append(step)
        return named
    links: dict[str, FunnelStep] = {}
    for node in tree.nodes.values():
        step = _step(node.id, node.formula, units, None)
        if step is not None:
            links[step.from_node] = step
    ends = {s.to_node for s in links.values()}
    best: list[FunnelStep] = []
    for start in links:
        if start in ends:
            continue
        chain: list[FunnelStep] = []
        current = start
        while current in links and len(chain) <= len(links):
            chain.append(links[current])
            current = links[current].to_node
        if len(chain) > len(best):
            best = chain
    return best


def check_funnel(draft: Draft) -> Iterator[Diagnostic]:
    """``funnel:`` names at least two stages, each a node, each after the first
    computed as the stage before it times a rate (errors ``KT560``)."""
    from kpitree.source import did_you_mean

    head = draft.head
    if head is None or head.funnel is None:
        return

    def emit(path: tuple[str | int, ...], key: str, /, **params: object) -> Diagnostic:
        return Diagnostic(Severity.ERROR, "KT560", key, params, draft.main.span(path))

    stages = list(head.funnel)
    if len(stages) < 2:
        yield emit(("funnel",), "def.funnel_short", count=len(stages))
        return
    nodes = draft.valid_nodes
    units = {k: (n.spec.unit if n.spec else None) for k, n in nodes.items()}
    for i, stage in enumerate(stages):
        if stage not in nodes:
            hint = did_you_mean(stage, list(nodes))
            yield emit(("funnel", i), "def.funnel_unknown", node=stage, hint=hint)
    for i in range(1, len(stages)):
        a, b = stages[i - 1], stages[i]
        if a not in nodes or b not in nodes:
            continue
        if _step(b, nodes[b].formula, units, a) is None:
            spec = nodes[b].spec
            yield emit(
                ("funnel", i),
                "def.funnel_not_step",
                node=b,
                previous=a,
                formula=(spec.formula if spec else None) or "—",
            )
