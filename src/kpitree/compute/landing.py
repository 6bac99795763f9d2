"""From status to a re-plan: the closed months' actuals and the fiscal year's
landing forecast (着地見込み) of every node.

The status of the closed months gives each node's actual (measured, computed
from its children, or implied); the status of the whole fiscal year, measured to
the as-of day, gives the actual to date and the run-rate forecast. The re-plan
itself is pure arithmetic (:mod:`kpitree.planning.replan`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kpitree.calendar import month_key
from kpitree.planning.replan import Landing, Replan, replan

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.planning.plan import Plan

__all__ = ["closed_months", "landings", "replan_from_status"]


def closed_months(plan: Plan, as_of: dt.date) -> list[str]:
    """The plan's months that ended before the month of ``as_of``."""
    current = month_key(as_of.year, as_of.month)
    return [m for m in plan.periods if m < current]


def replan_from_status(plan: Plan, result: StatusResult, year: Period, as_of: dt.date) -> Replan:
    """Re-plan ``plan`` from ``result``, the company status of every closed month
    and of the fiscal year ``year`` (to ``as_of``)."""
    months = closed_months(plan, as_of)
    actuals = {
        m: {
            row.node: None if row.status == "no_data" else row.actual
            for row in result.select(period=m, level=())
        }
        for m in months
    }
    out = replan(plan, actuals, month_key(as_of.year, as_of.month))
    out.landing = landings(out, result, year)
    return out


def landings(re: Replan, result: StatusResult, year: Period) -> dict[str, Landing]:
    """Every node's landing at the end of the fiscal year: actuals to date plus
    the run rate for the rest (the status forecast of the year), and the closed
    months' actuals plus the original plan of the open months (additive nodes)."""
    out: dict[str, Landing] = {}
    original = re.original or re
    for row in result.select(period=year.key, level=()):
        node = re.tree.nodes.get(row.node)
        if node is None:
            continue
        with_plan = None
        if node.is_additive:
            closed = [re.nodes[row.node].per_period.get(m) for m in re.closed]
            rest = [original.nodes[row.node].per_period.get(m) for m in re.open]
            if all(v is not None for v in (*closed, *rest)):
                with_plan = sum(v or 0.0 for v in (*closed, *rest))
        target = row.target if row.target is not None else original.nodes[row.node].value
        out[row.node] = Landing(row.node, row.actual, row.forecast, with_plan, target)
    return out
