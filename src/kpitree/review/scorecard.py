"""Scorecards for evaluation (評価): per department, team or rep, each KPI
its department owns, with actual, target, achievement and the volume behind
it, for one period. The numbers are ``Project.status`` numbers at that
segment level, so a team's or rep's facts are credited as each metric's
credit rule says (an opportunity to the inside-sales rep of its lead, …),
and counts of the teams of a department add up to the department.

The score follows the project's ``scorecards:`` rules: each KPI scores its
achievement capped at ``cap`` (150% by default) or, with ``bands``, the points
of the band its achievement falls in; the card's score is the average of its
KPIs' scores weighted by ``weights`` (1 unless named; 0 shows a KPI unscored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kpitree.review.service import ActionProject

if TYPE_CHECKING:
    from kpitree.definition.spec_scorecards import ScorecardsSpec

__all__ = ["LEVELS", "TABLE_COLUMNS", "kpi_score", "scorecards", "table_rows"]

LEVELS = {
    "department": ("department",),
    "team": ("department", "team"),
    "rep": ("department", "team", "rep"),
}
TABLE_COLUMNS = (
    "department",
    "team",
    "rep",
    "kpi",
    "actual",
    "target",
    "achievement",
    "volume",
    "weight",
    "kpi_score",
    "score",
)


def kpi_score(achievement: float | None, rules: ScorecardsSpec) -> float | None:
    """A KPI's score: its achievement capped at ``rules.cap``, or with bands
    the points of the highest band whose ``at_least`` it reaches (0 below
    every band); ``None`` without an achievement."""
    if achievement is None:
        return None
    if rules.bands is None:
        return min(achievement, rules.cap)
    reached = [b for b in rules.bands if achievement >= b.at_least]
    return max(reached, key=lambda b: b.at_least).points if reached else 0.0


def card_score(kpis: Sequence[dict[str, Any]]) -> tuple[float | None, int]:
    """The weighted average of the KPIs' scores, and how many were scored."""
    scored = [k for k in kpis if k["score"] is not None and k["weight"] > 0]
    total = sum(k["weight"] for k in scored)
    if not scored or total == 0:
        return None, 0
    return sum(k["weight"] * k["score"] for k in scored) / total, len(scored)


def scorecards(
    project: ActionProject, period: str, by: str, lang: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """One card per segment of level ``by`` (department, team or rep)."""
    from kpitree.errors import UserError

    if by not in LEVELS:
        raise UserError.of("KT242", "scorecard.bad_level", None, value=by)
    tree = project.tree
    rules = tree.scorecards
    day = as_of or project.today()
    result = project.status(period, by=by, as_of=day, explain=False, compare=False)
    chosen = result.periods[-1]
    cards: dict[tuple[tuple[str, str | None], ...], dict[str, Any]] = {}
    for row in result.select(period=chosen.key, level=LEVELS[by]):
        node = tree.nodes[row.node]
        segment = dict(row.segment)
        if node.kind != "kpi" or node.owner is None or node.owner != segment.get("department"):
            continue
        card = cards.setdefault(row.segment, {"segment": dict(segment.items()), "kpis": []})
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
                "weight": rules.weights.get(row.node, 1.0),
                "score": kpi_score(row.achievement, rules),
            }
        )
    out = []
    for card in cards.values():
        card["score"], card["scored_kpis"] = card_score(card["kpis"])
        out.append(card)
    return {
        "period": chosen.key,
        "as_of": day.isoformat(),
        "by": by,
        "score_unit": "achievement" if rules.bands is None else "points",
        "cards": out,
    }


def table_rows(found: dict[str, Any]) -> list[list[Any]]:
    """One row per card and KPI in :data:`TABLE_COLUMNS` order (numbers as numbers)."""
    rows = []
    for card in found["cards"]:
        segment = card["segment"]
        for k in card["kpis"]:
            rows.append(
                [
                    segment.get("department"),
                    segment.get("team"),
                    segment.get("rep"),
                    k["label"],
                    k["actual"],
                    k["target"],
                    k["achievement"],
                    k["volume"],
                    k["weight"],
                    k["score"],
                    card["score"],
                ]
            )
    return rows
