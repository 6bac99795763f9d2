"""The burn-up of a fiscal year: cumulative actual and cumulative target per
month, and the forecast line from the last actual to the end of the year.

Shown for the KGI on the Tree page and for any count or currency node on its
Node page. The months come from the status of the fiscal year's months up to
the as-of day (the current month to date); the target is the plan's per month,
cumulated; the forecast starts at the cumulative actual to date and reaches the
fiscal year's forecast (the run rate of :mod:`kpitree.compute.status`) at the
end of the year, spread over the remaining months by their targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.compute.landing import burnup_points
from kpitree.i18n import t
from kpitree.web.views.common import PageQuery, StatusSource
from kpitree.web.views.shown import fmt_card

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult

__all__ = ["burnup", "year_status"]


def _fiscal_months(source: StatusSource, period: Period) -> tuple[Period, list[Period]]:
    from kpitree.compute.periods import fiscal_year_period

    tree = source.project.tree
    year = fiscal_year_period(period.fiscal_year, tree.fiscal_year_start)
    months = year.split("month")
    return year, months


def year_status(source: StatusSource, query: PageQuery, period: Period) -> StatusResult:
    """The company status of the fiscal year of ``period`` to today, under the
    page's filters: its forecast is each node's landing (着地見込み)."""
    year, _ = _fiscal_months(source, period)
    return source.status(year, filters=query.filter_map, explain=False, compare=False)


def burnup(
    source: StatusSource,
    query: PageQuery,
    period: Period,
    node_id: str,
    history: StatusResult | None = None,
) -> dict[str, Any] | None:
    """The burn-up of ``node_id`` over the fiscal year of ``period``, under the
    page's filters (``None`` for nodes that do not add up over time, such as
    rates). The months are read from ``history`` when it has them all."""
    tree = source.project.tree
    node = tree.nodes[node_id]
    lang = query.lang
    if not node.is_additive:
        return None
    today = source.today()
    year, months = _fiscal_months(source, period)
    started = [m for m in months if m.start <= today]
    if not started:
        return None
    have = {p.key for p in history.periods} if history is not None else set()
    monthly = history
    if monthly is None or not {m.key for m in started} <= have:
        monthly = source.status(started, filters=query.filter_map, explain=False, compare=False)
    yearly = year_status(source, query, period)
    year_row = yearly.row(node_id, year.key)
    targets = _monthly_targets(source, node_id, months)
    actuals = {m.key: monthly.row(node_id, m.key).actual for m in started}
    points = burnup_points(months, actuals, targets, year_row.forecast, today, lang)
    return {
        "node": node_id,
        "unit": node.unit_name,
        "fiscal_year": year.key,
        "points": [p.to_json() for p in points],
        "target": year_row.target,
        "forecast": year_row.forecast,
        "display": {
            "target": fmt_card(year_row.target, node, tree, lang),
            "forecast": fmt_card(year_row.forecast, node, tree, lang),
        },
        "labels": {
            "actual": t("pages.burnup.actual", lang=lang),
            "target": t("pages.burnup.target", lang=lang),
            "forecast": t("pages.burnup.forecast", lang=lang),
            "in_progress": t("pages.burnup.in_progress", lang=lang),
        },
    }


def _monthly_targets(source: StatusSource, node_id: str, months: list[Period]) -> dict[str, float]:
    """The plan's value of each month, as valid then: a past month's from the
    revision of the definition in force at its end, the months to come from
    today's (none when the tree cannot be planned)."""
    project = source.project
    today = source.today()
    return source.cached(
        ("burnup_plan", node_id, months[0].key),
        lambda: project.monthly_plan(node_id, months, as_of=today),
    )
