"""The KGI's burn-up for the monthly review pack: cumulative actual, cumulative
target and the forecast to the end of the fiscal year (as on the Tree page)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kpitree.compute.landing import BurnupPoint, burnup_points

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.engines import Engine
    from kpitree.reports.project_view import ProjectView

__all__ = ["kgi_burnup"]


def kgi_burnup(
    project: ProjectView,
    period: Period,
    as_of: dt.date,
    lang: str,
    engine: Engine,
    targets: str = "then",
) -> list[BurnupPoint]:
    """The burn-up of the KGI over the fiscal year of ``period``, measured to
    ``as_of`` (empty when the KGI does not add up over time). With ``targets
    ="then"`` the target line is the plan as the pack's day knew it: each past
    month the revision in force at its end, the rest of the year the one in
    force on that day (:meth:`kpitree.project.Project.monthly_plan`)."""
    from kpitree.compute.periods import fiscal_year_period

    tree = project.tree
    if not tree.nodes[tree.kgi].is_additive:
        return []
    year = fiscal_year_period(period.fiscal_year, tree.fiscal_year_start)
    months = year.split("month")
    # As the pack's period stood: a report of October shows the year to October.
    as_of = min(as_of, period.end)
    started = [m for m in months if m.start <= as_of]
    if not started:
        return []
    result = project.status(
        [*started, year],
        as_of=as_of,
        engine=engine,
        explain=False,
        compare=False,
        targets=targets,
    )
    planned = project.monthly_plan(tree.kgi, months, as_of=as_of, targets=targets)
    actuals = {m.key: result.row(tree.kgi, m.key).actual for m in started}
    landing = result.row(tree.kgi, year.key).forecast
    return burnup_points(months, actuals, planned, landing, as_of, lang)
