"""The Plan page's re-plan from actuals and capacity sections, as view models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.i18n import t
from kpitree.web.views.shown import fmt

if TYPE_CHECKING:
    from kpitree.planning.plan import Plan
    from kpitree.planning.replan import Replan

__all__ = ["capacity_view", "replan_view"]


def _change(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0%}"


def replan_view(re: Replan, lang: str) -> dict[str, Any]:
    """What changed per node (average per open month), where the year lands, and
    what cannot be reached."""
    tree = re.tree
    changes = []
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        change = re.changes.get(node_id)
        landing = re.landing.get(node_id)
        if change is None:
            continue
        moved = change.change is not None and abs(change.change) >= 0.005
        changes.append(
            {
                "node": node_id,
                "label": node.display(lang),
                "before": change.before,
                "after": change.after,
                "change": change.change,
                "moved": moved,
                "landing": landing.to_json() if landing else None,
                "display": {
                    "before": fmt(change.before, node, tree, lang),
                    "after": fmt(change.after, node, tree, lang),
                    "change": _change(change.change),
                    "sentence": t(
                        "plan.change_line",
                        lang=lang,
                        node=node.display(lang),
                        before=fmt(change.before, node, tree, lang),
                        after=fmt(change.after, node, tree, lang),
                        change=_change(change.change),
                    ),
                    "landing": fmt(landing.run_rate if landing else None, node, tree, lang),
                    "landing_with_plan": fmt(
                        landing.with_plan if landing else None, node, tree, lang
                    ),
                },
            }
        )
    kgi = re.landing.get(tree.kgi)
    summary = None
    if kgi is not None and kgi.gap is not None and kgi.target:
        node = tree.nodes[tree.kgi]
        summary = t(
            "plan.landing_short" if kgi.gap > 0 else "plan.landing_ahead",
            lang=lang,
            node=node.display(lang),
            landing=fmt(kgi.run_rate, node, tree, lang),
            target=fmt(kgi.target, node, tree, lang),
            gap=fmt(abs(kgi.gap), node, tree, lang),
        )
    return {
        "as_of_month": re.as_of_month,
        "closed": re.closed,
        "open": re.open,
        "changes": changes,
        "landing_summary": summary,
        "unreachable": [u.to_json() for u in re.unreachable],
        "fallback": re.fallback,
    }


def capacity_view(plan: Plan, lang: str) -> list[dict[str, Any]]:
    """One entry per department with a capacity: the sentence, the headcount,
    and the months where someone carries more than one rep can."""
    tree = plan.tree
    out = []
    for check in plan.capacity():
        dept = tree.organisation.departments[check.department]
        node = tree.nodes[check.node]
        fewest, most = check.headcount or (None, None)
        headcount = "—" if fewest is None else (f"{fewest}–{most}" if most else f"{fewest}+")
        overloaded = []
        for month in check.overloaded_months:
            worst = max(
                (load for load in check.loads if load.month == month and load.per_rep is not None),
                key=lambda load: load.per_rep or 0.0,
            )
            overloaded.append(
                {
                    "month": month,
                    "segment": worst.segment,
                    "per_rep": worst.per_rep,
                    "display": t(
                        "plan.capacity_overloaded",
                        lang=lang,
                        month=month,
                        segment=worst.segment,
                        per_rep=fmt(worst.per_rep, node, tree, lang),
                        max=fmt(check.max, node, tree, lang),
                    ).strip(),
                }
            )
        out.append(
            {
                **check.to_json(),
                "sentence": t(
                    "plan.capacity_line",
                    lang=lang,
                    node=node.display(lang),
                    monthly=fmt(check.monthly, node, tree, lang),
                    department=dept.label.text(lang, dept.id),
                    headcount=headcount,
                    reps=check.reps,
                ),
                "overloaded": overloaded,
            }
        )
    return out
