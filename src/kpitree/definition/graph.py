"""Walks over the formula graph of a draft definition: its cycles and its depth.

Both walks are iterative, so a definition of any size is checked without
exhausting Python's recursion budget; the depth limit then keeps every later
walk over the tree (planning, display, reports) bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kpitree.definition.formula import refs

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft

__all__ = ["MAX_TREE_DEPTH", "cycles", "formula_graph", "too_deep"]

MAX_TREE_DEPTH = 50  # formula levels from a node down to its deepest input, both included


def formula_graph(draft: Draft) -> dict[str, list[str]]:
    """Each node with a formula -> the known node ids its formula uses."""
    return {
        nd.id: [r.name for r in refs(nd.formula) if r.name in draft.nodes]
        for nd in draft.nodes.values()
        if nd.formula is not None
    }


def cycles(graph: dict[str, list[str]]) -> Iterator[list[str]]:
    """Each cycle once, as ``[a, b, ..., a]`` (depth-first, iterative)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph.get(start, [])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    yield cycle
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph.get(child, []))))


def too_deep(graph: dict[str, list[str]], limit: int = MAX_TREE_DEPTH) -> Iterator[str]:
    """Nodes whose formulas reach exactly one level past ``limit``: where a
    too-deep chain crosses the limit (nodes above it are not repeated).
    Nodes on a cycle are skipped (the cycle is reported on its own)."""
    parents: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    for node, children in graph.items():
        unique = set(children)
        waiting[node] = len(unique)
        for child in unique:
            parents.setdefault(child, []).append(node)
    height: dict[str, int] = {}
    ready = deque(n for n in {*graph, *parents} if not waiting.get(n))
    while ready:  # inputs first, then each node once all its children are known
        node = ready.popleft()
        below = [height[c] for c in graph.get(node, ())]
        height[node] = 1 + max(below, default=0)
        if height[node] == limit + 1:
            yield node
        for parent in parents.get(node, ()):
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
