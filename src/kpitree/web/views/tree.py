"""The Tree page: every node with actual, target, achievement, status, pace,
forecast and a small trend, laid out from the KGI down."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.compute.explain import describe_bottleneck
from kpitree.definition.tree import Node, Tree
from kpitree.i18n import t
from kpitree.web.views.burnup import burnup, year_status
from kpitree.web.views.common import (
    PageQuery,
    StatusSource,
    choices,
    history_periods,
    history_status,
    main_status,
    period_info,
    quality_by_node,
    resolve_period,
    rows_at,
    table,
    trend,
)
from kpitree.web.views.shown import fmt, node_info, node_numbers

if TYPE_CHECKING:
    from kpitree.compute.status import StatusResult

__all__ = ["layout", "tree_view"]


def layout(tree: Tree) -> list[dict[str, Any]]:
    """The diagram's boxes, nested from the KGI: formula children first, then
    influence links (``link: driver``). A node shows once; where a second parent
    uses it, the entry is a reference (``ref: true``) to the first box. Nodes the
    KGI does not reach come last, at the top level."""
    placed: set[str] = set()

    def place(node_id: str, link: str) -> dict[str, Any]:
        if node_id in placed:
            return {"id": node_id, "link": link, "ref": True, "children": []}
        placed.add(node_id)
        node = tree.nodes[node_id]
        kids = [place(c, "formula") for c in node.children if c in tree.nodes]
        kids += [place(d, "driver") for d in node.drivers if d in tree.nodes]
        return {"id": node_id, "link": link, "ref": False, "children": kids}

    roots = [place(tree.kgi, "root")]
    for node_id in tree.display_order():
        if node_id not in placed:
            roots.append(place(node_id, "root"))
    return roots


def tree_view(source: StatusSource, query: PageQuery) -> dict[str, Any]:
    """The view model of the Tree page (and of ``/api/tree``)."""
    project = source.project
    tree = project.tree
    lang = query.lang
    period = resolve_period(source, query.period)
    result = main_status(source, query, period)
    history = history_status(source, query, period)
    recent = history_periods(period)
    company = rows_at(result, period.key)
    absent = result.not_applicable.get((), {})
    yearly = year_status(source, query, period)
    year_key = yearly.periods[0].key
    nodes: dict[str, Any] = {}
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        row = company.get((node_id, ()))
        dims = absent.get(node_id)
        nodes[node_id] = {
            **node_info(tree, node_id, lang),
            **node_numbers(row, node, tree, lang),
            "trend": trend(history, node_id, recent, lang, tree),
            "landing": _landing(yearly, year_key, node_id, node, tree, lang),
            "not_applicable": None
            if dims is None
            else {
                "dimensions": list(dims),
                "text": t("pages.ui.not_applicable", lang=lang, dimensions=", ".join(dims)),
            },
        }
    bottleneck = result.bottleneck
    rows = [
        [
            n["id"],
            n["label"],
            n["kind"],
            n["owner"],
            n["actual"],
            n["target"],
            n["achievement"],
            n["expected"],
            n["pace"],
            n["forecast"],
            n["landing"]["value"],
            n["status"],
            n["source"],
        ]
        for n in nodes.values()
    ]
    columns = [
        (key, t(f"pages.col.{key}", lang=lang))
        for key in (
            "node",
            "label",
            "kind",
            "owner",
            "actual",
            "target",
            "achievement",
            "expected",
            "pace",
            "forecast",
            "landing",
            "status",
            "source",
        )
    ]
    return {
        "page": "tree",
        "project": tree.name,
        "query": query.to_json(),
        "period": period_info(period, lang),
        **choices(source, period, lang),
        "as_of": result.as_of.isoformat(),
        "kgi": tree.kgi,
        "layout": layout(tree),
        "nodes": nodes,
        # Per node: what ``kpitree data check`` finds in the facts it reads.
        "quality": quality_by_node(source),
        "bottleneck": None
        if bottleneck is None
        else {
            "node": bottleneck.node,
            "label": tree.nodes[bottleneck.node].display(lang),
            "actual": bottleneck.actual,
            "reference": bottleneck.reference,
            "basis": bottleneck.basis,
            "ratio": bottleneck.ratio,
            "impact": bottleneck.impact,
            "sentence": describe_bottleneck(tree, bottleneck, lang),
        },
        "burnup": burnup(source, query, period, tree.kgi, history),
        "compact_amounts": tree.amounts == "compact",
        "tables": {"nodes": table(columns, rows)},
    }


def _landing(
    yearly: StatusResult, year: str, node_id: str, node: Node, tree: Tree, lang: str
) -> dict[str, Any]:
    """Where the node lands at the end of the fiscal year at the current run rate."""
    try:
        row = yearly.row(node_id, year)
    except KeyError:
        return {"period": year, "value": None, "target": None, "display": "—"}
    return {
        "period": year,
        "value": row.forecast,
        "target": row.target,
        "display": fmt(row.forecast, node, tree, lang),
    }
