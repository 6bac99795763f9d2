"""Plans a project draws from its data and its history: the plan valid in a
past month (from the definition's revisions), each month's planned value as a
burn-up draws it, a year re-planned from its actuals, and kpitree.yaml rewritten
with targets grown from a past period (behind :class:`kpitree.project.Project`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.definition.location import DEFINITION_FILE
from kpitree.errors import PlanError

if TYPE_CHECKING:
    import datetime as dt

    from kpitree.compute.periods import Period
    from kpitree.planning.plan import Plan
    from kpitree.project import Project

__all__ = ["monthly_plan", "plan_from_history", "plans_then", "replan"]


def plans_then(
    project: Project, known_on: dt.date | None = None
) -> Callable[[Period], Plan | None] | None:
    """Month -> the plan valid then, for a project with revisions."""
    from kpitree.review.revisions import plans_by_month

    definition = project.path / DEFINITION_FILE
    if not definition.is_file():
        return None

    def author() -> str:  # asked only when a revision is recorded
        from kpitree.review.service import default_author

        return default_author(project.path)

    return plans_by_month(project.path, definition, project.tree, author, known_on)


def monthly_plan(
    project: Project,
    node_id: str,
    months: Sequence[Period],
    *,
    as_of: dt.date,
    targets: str = "then",
) -> dict[str, float]:
    """What :meth:`kpitree.project.Project.monthly_plan` documents."""
    from kpitree.review.revisions import check_targets_choice

    then = plans_then(project, as_of) if check_targets_choice(targets) == "then" else None
    today: dict[int, Plan | None] = {}
    found: dict[str, float] = {}
    for month in months:
        plan = then(month) if then is not None else None
        if plan is None:
            if month.fiscal_year not in today:
                try:
                    today[month.fiscal_year] = project.plan(fiscal_year=month.fiscal_year)
                except PlanError:
                    today[month.fiscal_year] = None
            plan = today[month.fiscal_year]
        node = plan.nodes.get(node_id) if plan is not None else None
        if node is not None and (value := node.per_period.get(month.key)) is not None:
            found[month.key] = value
    return found


def plan_from_history(
    project: Project,
    history: str = "last-year",
    *,
    growth: float = 1.1,
    as_of: dt.date | None = None,
    fiscal_year: int | None = None,
) -> Path:
    """What :meth:`kpitree.project.Project.plan_from_history` documents."""
    import yaml

    from kpitree.compute.calibrate import calibrate

    past = project.period(history, as_of=as_of)
    result = project.status(past, by=["team", "rep"], as_of=as_of, explain=False)
    calibration = calibrate(project.tree, result, growth=growth)
    file = project.path / DEFINITION_FILE
    raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    raw["fiscal_year"] = fiscal_year or past.fiscal_year + 1
    for node_id, values in calibration.nodes.items():
        entry = raw["nodes"][node_id]
        entry.pop("target", None)
        entry.pop("assume", None)
        entry.update(values)
    org = raw.setdefault("organisation", {}) or {}
    for dept, value in calibration.organisation.items():
        existing = org.get(dept) or {}
        kept = {k: existing[k] for k in ("label", "capacity") if k in existing}
        org[dept] = {**kept, **value}
    raw["organisation"] = org
    header = (
        f"# Planned from {past.key} as measured on {(as_of or project.today()).isoformat()}: "
        f"targets x{growth:g}, assumptions = actuals.\n"
    )
    file.write_text(
        header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=100),
        encoding="utf-8",
    )
    return file


def replan(project: Project, plan: Plan, as_of: dt.date) -> Plan:
    from kpitree.compute.landing import closed_months, replan_from_status
    from kpitree.compute.periods import fiscal_year_period

    year = fiscal_year_period(plan.fiscal_year, project.tree.fiscal_year_start)
    months = [project.period(m) for m in closed_months(plan, as_of)]
    result = project.status([*months, year], as_of=as_of, explain=False, compare=False)
    return replan_from_status(plan, result, year, as_of)
