"""Scorecards for evaluation (評価): per department, team or rep, each KPI
its department owns, with actual, target, achievement and the volume behind
it, for one period. The numbers are ``Project.status`` numbers at that
segment level, so a team's or rep's facts are credited as each metric's
credit rule says (an opportunity to the inside-sales rep of its lead, …),
and counts of the teams of a department add up to the department.

The score is the plain average of the achievements of the KPIs that have
one, each capped at 150% so that one runaway KPI cannot hide the others;
weights per KPI are not configurable yet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kpitree.review.service import ActionProject

__all__ = ["CAP", "LEVELS", "scorecards"]

CAP = 1.5
LEVELS = {
    "department": ("department",),
    "team": ("department", "team"),
    "rep": ("department", "team", "rep"),
}


def scorecards(
    project: ActionProject, period: str, by: str, lang: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """One card per segment of level ``by`` (department, team or rep)."""
    from kpitree.errors import UserError

    if by not in LEVELS:
        raise UserError.of("KT242", "scorecard.bad_level", None, value=by)
    tree = project.tree
    day = as_of or project.today()
    result = project.status(period, by=by, as_of=day, explain=False, compare=False)
    chosen = result.periods[-1]
    cards: dict[tuple[tuple[str, str | None], ...], dict[str, Any]] = {}
    for row in result.select(period=chosen.key, level=LEVELS[by]):
        node = tree.nodes[row.node]
        segment = dict(row.segment)
        if node.kind != "kpi" or node.owner is None or node.owner != segment.get("department"):
            continue
        card = cards.setdefault(
            row.segment,
            {"segment": dict(segment.items()), "kpis": []},
        )
        card["kpis"].append(
            {
                "node": row.node,
                "label": node.display(lang),
                "unit": node.unit_name,
                "actual": row.actual,
                "target": row.target,
                "achievement": row.achievement,
                "volume": row.volume,
                "status": row.status if isinstance(row.status, str) else None,
            }
        )
    out = []
    for card in cards.values():
        achieved = [
            min(k["achievement"], CAP) for k in card["kpis"] if k["achievement"] is not None
        ]
        card["score"] = sum(achieved) / len(achieved) if achieved else None
        card["scored_kpis"] = len(achieved)
        out.append(card)
    return {"period": chosen.key, "as_of": day.isoformat(), "by": by, "cards": out}
