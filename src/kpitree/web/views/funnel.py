"""The Funnel page: the tree's funnel (lead → MQL → … → won, as the tree
decomposes it: ``mqls = leads * mql_rate``), with stage counts against targets
and conversion rates in period view (second events over first events of the
period: the tree's own rate) and in cohort view (the period's entrants that
converted within the window), against targets and reference ranges, with the
bottleneck highlighted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.compute.explain import describe_bottleneck
from kpitree.definition.funnel import FunnelStep, funnel_steps
from kpitree.i18n import t
from kpitree.i18n.numbers import format_value
from kpitree.web.views.common import (
    PageQuery,
    StatusSource,
    choices,
    main_status,
    period_info,
    resolve_period,
    rows_at,
    table,
)
from kpitree.web.views.shown import fmt, node_info, node_numbers

if TYPE_CHECKING:
    from kpitree.compute.metrics import Catalogue, Metric
    from kpitree.compute.periods import Period
    from kpitree.definition.tree import Tree

__all__ = ["FunnelStep", "cohort_metric", "funnel_steps", "funnel_view"]

# Days a cohort has to convert, by step (as the built-in library counts them).
_WINDOWS = {("lead", "mql"): 90, ("mql", "sql"): 60, ("sql", "opportunity"): 60}
_DEFAULT_WINDOW = 90


def _event(catalogue: Catalogue, metric_id: str | None) -> tuple[str, str] | None:
    """(entity, event) a count metric counts: a lead created is ``lead``, a
    stage entered is the stage, a deal created is ``opportunity``."""
    if metric_id is None or metric_id not in catalogue:
        return None
    spec = catalogue[metric_id].spec
    if spec.type != "count" or spec.entity is None:
        return None
    time = spec.time or "created_at"
    if spec.entity == "leads":
        if time == "created_at":
            return "leads", "lead"
        return "leads", time.removeprefix("stage:")
    if spec.entity == "deals":
        return "deals", {"created_at": "opportunity", "won": "won"}.get(time, time)
    return None


def _conversion(catalogue: Catalogue, tree: Tree, step: FunnelStep, mode: str) -> Metric | None:
    """A conversion metric from the step's first event to its second."""
    from kpitree.compute.metrics import Metric
    from kpitree.definition.spec import MetricSpec
    from kpitree.definition.tree import Label

    first = _event(catalogue, tree.nodes[step.from_node].metric)
    second = _event(catalogue, tree.nodes[step.to_node].metric)
    if first is None or second is None:
        return None
    if first[0] == "deals" and second == ("deals", "won"):
        raw = {"entity": "deals", "from": "created_at", "to": "won", "window_days": 180}
    else:
        # Deals created and leads reaching the opportunity stage are the same
        # step seen from the lead: cohorts are counted on leads.
        names = (first[1], second[1])
        window = _WINDOWS.get(names, _DEFAULT_WINDOW)
        raw = {"entity": "leads", "from": names[0], "to": names[1], "window_days": window}
    spec = MetricSpec.model_validate({"type": "conversion", "mode": mode, **raw})
    mid = f"funnel__{step.rate_node}__{mode}"
    return Metric(mid, spec, Label(None, mid), builtin=True)


def cohort_metric(catalogue: Catalogue, tree: Tree, rate_node: str) -> Metric | None:
    """The cohort conversion the Funnel page shows for the step of ``rate_node``
    (``None``: no step has that rate, or its stages are not counts of events)."""
    for step in funnel_steps(tree):
        if step.rate_node == rate_node:
            return _conversion(catalogue, tree, step, "cohort")
    return None


def _cohort_rates(
    source: StatusSource,
    query: PageQuery,
    steps: list[FunnelStep],
    period: Period,
) -> dict[str, dict[str, Any]]:
    """Cohort conversion of every step for ``period`` (to date), with the
    number of entrants, how many of them converted and whether the window is
    still open."""
    import datetime as dt

    from kpitree.compute.measure import measure
    from kpitree.compute.metrics import Catalogue

    project = source.project
    tree = project.tree
    base = project.catalogue
    extra = {}
    for step in steps:
        metric = _conversion(base, tree, step, "cohort")
        if metric is not None:
            extra[step.rate_node] = metric
    if not extra:
        return {}
    as_of = source.today()
    measured_period = period.to_date(as_of)
    if measured_period is None:
        return {}
    catalogue = Catalogue({**base.metrics, **{m.id: m for m in extra.values()}}, ())

    def compute() -> dict[str, dict[str, Any]]:
        with project.engine() as engine:
            frames = measure(
                engine,
                catalogue,
                [m.id for m in extra.values()],
                [measured_period],
                [()],
                query.filter_map or None,
                as_of=as_of,
            )
        frame = frames[()]
        out: dict[str, dict[str, Any]] = {}
        for rate_node, metric in extra.items():
            window = metric.spec.window_days or 0
            value = frame[metric.id].iloc[0] if len(frame) else None
            den = frame[f"{metric.id}#den"].iloc[0] if len(frame) else None
            num = frame[f"{metric.id}#num"].iloc[0] if len(frame) else None
            out[rate_node] = {
                "value": None if value is None or value != value else float(value),
                "entrants": None if den is None or den != den else float(den),
                "converted": None if num is None or num != num else float(num),
                "window_days": window,
                "incomplete": period.end + dt.timedelta(days=window) > as_of,
            }
        return out

    key = ("funnel-cohort", period.key, query.filters, as_of.isoformat())
    return source.cached(key, compute)


def cohort_rates(source: StatusSource, query: PageQuery, period: Period) -> dict[str, Any]:
    """The Funnel page's cohort conversions for ``period`` (kept in the cache)."""
    return _cohort_rates(source, query, funnel_steps(source.project.tree), period)


def _rate_row(
    tree: Tree,
    step: FunnelStep,
    company: Mapping[str, Any],
    cohort: Mapping[str, Any],
    bottleneck: str | None,
    lang: str,
) -> dict[str, Any]:
    rate = tree.nodes[step.rate_node]
    row = company.get(step.rate_node)
    numbers = node_numbers(row, rate, tree, lang)
    found = cohort.get(step.rate_node) or {}
    cohort_value = found.get("value")
    bench = rate.benchmark
    below_range = (
        bench is not None
        and bench.low is not None
        and row is not None
        and row.actual is not None
        and row.actual < bench.low
    )
    period_rate, period_display = numbers["actual"], numbers["display"]["actual"]
    if row is not None and row.source == "measured":
        # A rate measured otherwise (a cohort 商談化率): the period view is
        # still the next stage's count over this one's in the period.
        before, after = company.get(step.from_node), company.get(step.to_node)
        counts = (
            None if before is None else before.actual,
            None if after is None else after.actual,
        )
        period_rate = counts[1] / counts[0] if counts[0] and counts[1] is not None else None
        period_display = format_value(period_rate, "ratio", lang=lang)
    return {
        "from": step.from_node,
        "to": step.to_node,
        "rate": node_info(tree, step.rate_node, lang),
        "period_rate": period_rate,
        "cohort_rate": cohort_value,
        "cohort_entrants": found.get("entrants"),
        "cohort_converted": found.get("converted"),
        "cohort_incomplete": bool(found.get("incomplete")),
        "target": numbers["target"],
        "achievement": numbers["achievement"],
        "status": numbers["status"],
        "status_label": numbers["status_label"],
        "status_icon": numbers["status_icon"],
        "below_range": below_range,
        "bottleneck": bottleneck == step.rate_node,
        "display": {
            "period_rate": period_display,
            "cohort_rate": format_value(cohort_value, "ratio", lang=lang),
            "target": numbers["display"]["target"],
            "achievement": numbers["display"]["achievement"],
        },
    }


def _records_href(node_id: str, query: PageQuery, **changes: str | None) -> str:
    from urllib.parse import quote, urlencode

    params = urlencode(query.params(by=None, drill=None, **changes))
    return f"/records/{quote(node_id, safe='')}?{params}"


def _period_rows(
    stages: list[dict[str, Any]], rates: list[dict[str, Any]], query: PageQuery, lang: str
) -> list[dict[str, Any]]:
    """The funnel of the period: every stage's count, and between two stages
    the tree's rate (the second count over the first)."""
    rows: list[dict[str, Any]] = []
    for i, stage in enumerate(stages):
        if i:
            rate, before = rates[i - 1], stages[i - 1]
            counts = [
                format_value(x, "count", lang=lang) for x in (stage["actual"], before["actual"])
            ]
            rows.append(
                {
                    "type": "link",
                    "key": rate["rate"]["id"],
                    "display": rate["display"]["period_rate"],
                    "detail": " / ".join(counts),
                    "warn": rate["bottleneck"],
                }
            )
        rows.append(
            {
                "type": "bar",
                "key": stage["id"],
                "label": stage["label"],
                "value": stage["actual"],
                "display": stage["display"]["actual"],
                "href": _records_href(stage["id"], query),
            }
        )
    return rows


def _cohort_rows(
    stages: list[dict[str, Any]], rates: list[dict[str, Any]], query: PageQuery, lang: str
) -> list[dict[str, Any]]:
    """The cohort funnel: for every step, the period's entrants and how many of
    them converted within the step's window (steps do not chain: each has its
    own cohort, so a gap separates them)."""
    rows: list[dict[str, Any]] = []
    for i, rate in enumerate(rates):
        entrants, converted = rate["cohort_entrants"], rate["cohort_converted"]
        if entrants is None or converted is None:
            continue
        rid = rate["rate"]["id"]
        if rows:
            rows.append({"type": "gap"})
        count = [format_value(x, "count", lang=lang) for x in (converted, entrants)]
        rows += [
            {
                "type": "bar",
                "key": stages[i]["id"],
                "label": stages[i]["label"],
                "value": entrants,
                "display": count[1],
                "href": _records_href(rid, query, view="cohort", role="entrants"),
            },
            {
                "type": "link",
                "key": rid,
                "display": rate["display"]["cohort_rate"],
                "detail": " / ".join(count),
                "warn": rate["bottleneck"],
            },
            {
                "type": "bar",
                "key": stages[i + 1]["id"],
                "label": stages[i + 1]["label"],
                "value": converted,
                "display": count[0],
                "href": _records_href(rid, query, view="cohort", role="converted"),
            },
        ]
    return rows


def funnel_view(source: StatusSource, query: PageQuery) -> dict[str, Any]:
    """The view model of the Funnel page (and of ``/api/funnel``)."""
    tree = source.project.tree
    lang = query.lang
    period = resolve_period(source, query.period)
    result = main_status(source, query, period)
    company = {n: r for (n, _), r in rows_at(result, period.key).items()}
    steps = funnel_steps(tree)
    cohort = _cohort_rates(source, query, steps, period)
    stage_ids = [steps[0].from_node, *(s.to_node for s in steps)] if steps else []
    stages = []
    for i, node_id in enumerate(stage_ids):
        node = tree.nodes[node_id]
        stages.append(
            {
                **node_info(tree, node_id, lang),
                **node_numbers(company.get(node_id), node, tree, lang),
                "position": i,
            }
        )
    bottleneck = result.bottleneck.node if result.bottleneck else None
    rates = [_rate_row(tree, s, company, cohort, bottleneck, lang) for s in steps]
    running = not period.is_complete(result.as_of)
    stage_cols = [
        (k, t(f"pages.col.{k}", lang=lang))
        for k in ("node", "label", "actual", "target", "achievement", "status")
    ]
    rate_cols = [
        (k, t(f"pages.col.{k}", lang=lang))
        for k in (
            "node",
            "label",
            "period_rate",
            "cohort_rate",
            "target",
            "benchmark",
            "status",
            "bottleneck",
        )
    ]
    return {
        "page": "funnel",
        "project": tree.name,
        "query": query.to_json(),
        "period": period_info(period, lang),
        **choices(source, period, lang),
        "as_of": result.as_of.isoformat(),
        "stages": stages,
        "steps": rates,
        "chart": {
            "in_progress": running,
            "partial": t("pages.chart.partial", lang=lang, as_of=result.as_of.isoformat())
            if running
            else None,
            "period": _period_rows(stages, rates, query, lang),
            "cohort": _cohort_rows(stages, rates, query, lang),
        },
        "bottleneck": None
        if result.bottleneck is None
        else {
            "node": bottleneck,
            "label": tree.nodes[result.bottleneck.node].display(lang),
            "basis": result.bottleneck.basis,
            "reference": result.bottleneck.reference,
            "actual": result.bottleneck.actual,
            "impact": result.bottleneck.impact,
            "sentence": describe_bottleneck(tree, result.bottleneck, lang),
            "display": {
                "reference": fmt(
                    result.bottleneck.reference, tree.nodes[result.bottleneck.node], tree, lang
                ),
                "actual": fmt(
                    result.bottleneck.actual, tree.nodes[result.bottleneck.node], tree, lang
                ),
            },
        },
        "tables": {
            "stages": table(
                stage_cols,
                [
                    [s["id"], s["label"], s["actual"], s["target"], s["achievement"], s["status"]]
                    for s in stages
                ],
            ),
            "rates": table(
                rate_cols,
                [
                    [
                        r["rate"]["id"],
                        r["rate"]["label"],
                        r["period_rate"],
                        r["cohort_rate"],
                        r["target"],
                        (r["rate"]["benchmark"] or {}).get("display"),
                        r["status"],
                        r["bottleneck"],
                    ]
                    for r in rates
                ],
            ),
        },
    }
