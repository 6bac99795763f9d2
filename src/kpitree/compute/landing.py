"""From status to a re-plan: the closed months' actuals and the fiscal year's
landing forecast (着地見込み) of every node.

The status of the closed months gives each node's actual (measured, computed
from its children, or implied); the status of the whole fiscal year, measured to
the as-of day, gives the actual to date and the run-rate forecast. The re-plan
itself is pure arithmetic (:mod:`kpitree.planning.replan`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from kpitree.calendar import month_key
from kpitree.planning.replan import Landing, Replan, replan

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.planning.plan import Plan

__all__ = ["BurnupPoint", "burnup_points", "closed_months", "landings", "replan_from_status"]


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


@dataclass(frozen=True)
class BurnupPoint:
    """One month of a burn-up: cumulative actual (none for months not begun),
    cumulative target, and the forecast line (none before it starts)."""

    period: str
    label: str
    actual: float | None
    target: float | None
    forecast: float | None
    in_progress: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def burnup_points(
    months: Sequence[Period],
    actuals: Mapping[str, float | None],
    targets: Mapping[str, float],
    landing: float | None,
    today: dt.date,
    lang: str,
) -> list[BurnupPoint]:
    """The burn-up of a fiscal year's ``months``: actuals and targets summed
    month by month; the forecast runs from the cumulative actual of the last
    complete month to ``landing`` (the year's forecast) at the end of the year,
    over the month in progress and the later ones in proportion to their
    targets (evenly when there are none)."""
    actual_total = 0.0
    target_total: float | None = 0.0
    rows: list[dict[str, Any]] = []
    for m in months:
        target = targets.get(m.key)
        target_total = None if target is None or target_total is None else target_total + target
        actual = None
        if m.start <= today:
            actual_total += actuals.get(m.key) or 0.0
            actual = actual_total
        rows.append(
            {
                "period": m.key,
                "label": m.label(lang),
                "actual": actual,
                "target": target_total,
                "forecast": None,
                "in_progress": m.start <= today < m.end,
            }
        )
    _forecast(rows, landing, targets)
    return [BurnupPoint(**row) for row in rows]


def _forecast(
    points: list[dict[str, Any]], landing: float | None, targets: Mapping[str, float]
) -> None:
    if landing is None or not any(p["actual"] is not None for p in points):
        return
    closed = [i for i, p in enumerate(points) if p["actual"] is not None and not p["in_progress"]]
    start = points[closed[-1]]["actual"] if closed else 0.0
    if closed:
        points[closed[-1]]["forecast"] = start
    rest = points[closed[-1] + 1 :] if closed else points
    if not rest:
        return
    weights = [targets.get(p["period"], 0.0) for p in rest]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(rest), float(len(rest))
    running = start
    for p, w in zip(rest, weights, strict=True):
        running += (landing - start) * w / total
        p["forecast"] = running
