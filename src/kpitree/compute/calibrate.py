"""Planning from history: targets and assumptions taken from what the data
says a past period achieved ("last year plus 10%"), and the organisation's
shares from who delivered it.

This is how the demo project is made to fit the demo company, and what a team
adopting kpitree does in its first planning round: measure last year, then
write the plan as a change on top of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kpitree.compute.status import StatusResult
from kpitree.definition.tree import Tree

__all__ = ["Calibration", "calibrate"]


def _round(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits (plans are not to the yen)."""
    if value == 0 or not math.isfinite(value):
        return value
    scale = digits - math.floor(math.log10(abs(value))) - 1
    return round(value, scale) if scale > 0 else float(round(value, scale))


@dataclass(frozen=True)
class Calibration:
    """Values to write into a definition: node id -> {target|assume: value},
    and the organisation (department -> teams with shares and rep shares)."""

    nodes: Mapping[str, Mapping[str, Any]]
    organisation: Mapping[str, Any]


def calibrate(tree: Tree, history: StatusResult, *, growth: float = 1.1) -> Calibration:
    """Targets and assumptions from ``history`` (a status over one fiscal year
    with ``by=["team", "rep"]``): the KGI and every target grow by ``growth``;
    assumptions (rates, averages, bases) take the actual value; team and rep
    shares follow each department's own measured node."""
    period = history.periods[0].key
    company = {r.node: r for r in history.rows if r.period == period and r.segment == ()}
    nodes: dict[str, dict[str, Any]] = {}
    for node_id, node in tree.nodes.items():
        actual = company[node_id].actual if node_id in company else None
        if actual is None:
            continue
        if node.target is not None or node_id == tree.kgi:
            if node.target is not None and node.target.monthly is not None:
                nodes[node_id] = {"target": {"monthly": _round(actual / 12 * growth)}}
            elif node.is_additive:
                nodes[node_id] = {"target": _round(actual * growth)}
            else:
                nodes[node_id] = {"target": _round(actual if actual < 0 else actual * growth)}
        elif node.assume is not None:
            nodes[node_id] = {"assume": _round(actual)}
    return Calibration(nodes, _organisation(tree, history, period))


def _organisation(tree: Tree, history: StatusResult, period: str) -> dict[str, Any]:
    """Departments, teams and reps seen in the data, with shares of each
    department's first measured additive node it owns."""
    owned: dict[str, list[str]] = {}
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        if node.owner and node.metric and node.is_additive:
            owned.setdefault(node.owner, []).append(node_id)
    org: dict[str, Any] = {}
    for dept, candidates in owned.items():
        # The department's first measured node that its own teams deliver.
        rows: list[Any] = []
        teams: dict[str, float] = {}
        for node_id in candidates:
            rows = [
                r
                for r in history.rows
                if r.period == period
                and r.node == node_id
                and dict(r.segment).get("department") == dept
            ]
            teams = {}
            for r in rows:
                name = dict(r.segment).get("team")
                if len(r.segment) == 2 and name is not None and (r.actual or 0.0) > 0:
                    teams[name] = r.actual or 0.0
            if teams:
                break
        total = sum(teams.values())
        if not total:
            continue
        entry: dict[str, Any] = {}
        for team, value in sorted(teams.items(), key=lambda kv: -kv[1]):
            reps: dict[str, float] = {}
            for r in rows:
                seg = dict(r.segment)
                rep = seg.get("rep")
                known = len(r.segment) == 3 and seg.get("team") == team and rep is not None
                if known and rep is not None and (r.actual or 0.0) > 0:
                    reps[rep] = r.actual or 0.0
            rep_total = sum(reps.values())
            entry[team] = {
                "share": round(value / total, 4),
                "reps": {k: round(v / rep_total, 4) for k, v in sorted(reps.items())},
            }
        _fix_total(entry)
        org[dept] = {"teams": entry}
    return org


def _fix_total(teams: dict[str, Any]) -> None:
    """Rounded shares add up to exactly 1 (the biggest absorbs the rest)."""
    if not teams:
        return
    first = next(iter(teams))
    teams[first]["share"] = round(1 - sum(t["share"] for k, t in teams.items() if k != first), 4)
    for team in teams.values():
        reps = team["reps"]
        if reps:
            top = max(reps, key=lambda k: reps[k])
            reps[top] = round(1 - sum(v for k, v in reps.items() if k != top), 4)
