"""Scorecards for evaluation (評価): per department, team or rep, each KPI
its department owns, and each KPI it is credited with, with actual, target,
achievement and the volume behind it, for one period. The numbers are
``Project.status`` numbers at that segment level, so a team's or rep's facts
are credited as each metric's credit rule says (an opportunity to the
inside-sales rep of its lead, …), and counts of the teams of a department add
up to the department.

*Credited with*: a KPI whose metric has an explicit ``credit:`` rule counts
facts for whoever the rule names, in any department; a card outside the
owning department shows such a KPI when facts were credited to it, with its
actual and volume and no target (the plan gives targets to the owner), so it
is shown and not scored.

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
    from kpitree.definition.tree import Tree

__all__ = ["LEVELS", "TABLE_COLUMNS", "credited_kpis", "kpi_score", "scorecards", "table_rows"]

LEVELS = {
    "department": ("department",),
    "team": ("department", "team"),
    "rep": ("department", "team", "rep"),
}
TABLE_COLUMNS = (
    "department",
    "team",
    "rep",
    "rep_name",
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
    credited = credited_kpis(project)
    cards: dict[tuple[tuple[str, str | None], ...], dict[str, Any]] = {}
    for row in result.select(period=chosen.key, level=LEVELS[by]):
        node = tree.nodes[row.node]
        segment = dict(row.segment)
        if node.kind != "kpi" or node.owner is None or segment.get("department") is None:
            continue  # "(unassigned)" facts are nobody's card
        if node.owner != segment.get("department") and not (row.node in credited and row.actual):
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
    names = _rep_names(project) if by == "rep" else {}
    out = []
    for card in cards.values():
        card["score"], card["scored_kpis"] = card_score(card["kpis"])
        card["title"] = _title(tree, card["segment"], names, lang)
        rep = card["segment"].get("rep")
        card["rep_name"] = None if rep is None else names.get(rep, rep)
        out.append(card)
    return {
        "period": chosen.key,
        "as_of": day.isoformat(),
        "by": by,
        "score_unit": "achievement" if rules.bands is None else "points",
        "cards": out,
    }


def credited_kpis(project: ActionProject) -> frozenset[str]:
    """KPIs whose metric names whom its facts count for (``credit:`` other
    than the default owner)."""
    catalogue = getattr(project, "catalogue", None)
    if catalogue is None:
        return frozenset()
    out = set()
    for node in project.tree.nodes.values():
        metric = catalogue.metrics.get(node.metric) if node.metric else None
        if node.kind == "kpi" and metric is not None and metric.spec.credit not in (None, "owner"):
            out.add(node.id)
    return frozenset(out)


def _rep_names(project: ActionProject) -> dict[str, str]:
    """rep id -> the name people know the rep by (``Project.rep_names``)."""
    found = getattr(project, "rep_names", None)
    return dict(found()) if callable(found) else {}


def _title(tree: Tree, segment: dict[str, Any], names: dict[str, str], lang: str) -> str:
    """``インサイドセールス / 東日本 / 森 沙織``: the organisation's labels and the rep's name."""
    department = tree.organisation.departments.get(segment.get("department") or "")
    parts = [department.label.text(lang, department.id) if department else segment["department"]]
    if "team" in segment:
        team = next(
            (t for t in (department.teams if department else ()) if t.id == segment["team"]), None
        )
        parts.append(team.label.text(lang, team.id) if team else segment["team"])
    if "rep" in segment:
        parts.append(names.get(segment["rep"], segment["rep"]))
    return " / ".join(str(p) for p in parts if p is not None)


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
                    card.get("rep_name"),
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
