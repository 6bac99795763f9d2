"""The Node page: one node's actual vs target vs last year over time, its
breakdown by segment with drill-down (company → department → team → rep), its
formula and drivers with their contributions to the gap, reconciliation notes
and its reference range."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from kpitree.errors import UserError
from kpitree.i18n import t, value_label
from kpitree.web.errors import WebError
from kpitree.web.views.burnup import burnup
from kpitree.web.views.common import (
    ORG_LEVELS,
    PageQuery,
    StatusSource,
    choices,
    drill_text,
    history_periods,
    history_status,
    main_status,
    period_info,
    quality_by_node,
    resolve_period,
    rows_at,
    table,
)
from kpitree.web.views.shown import fmt, node_info, node_numbers

if TYPE_CHECKING:
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.definition.tree import Tree

__all__ = ["node_view", "segment_label"]

# A reconciliation gap smaller than this share of the measured value is
# floating-point noise, not a note worth reading.
_RECON_TOLERANCE = 1e-9


def segment_label(
    tree: Tree,
    dim: str,
    value: str | None,
    lang: str,
    dept: str | None,
    names: Mapping[str, str] | None = None,
) -> str:
    """A segment value as people name it (organisation labels where known, a
    rep's name from ``names``)."""
    if value is None:
        return t("pages.segment.none", lang=lang)
    if dim == "rep" and names:
        return names.get(value, value)
    if dim == "channel":
        return value_label("channel", value, lang)
    org = tree.organisation.departments
    if dim == "department" and value in org:
        return org[value].label.text(lang, value)
    if dim == "team" and dept is not None and dept in org:
        for team in org[dept].teams:
            if team.id == value:
                return team.label.text(lang, value)
    return value


def _unknown_node(tree: Tree, node_id: str) -> WebError:
    from kpitree.source import did_you_mean

    return WebError(
        404,
        "KT690",
        "pages.error.unknown_node",
        node=node_id,
        hint=did_you_mean(node_id, list(tree.nodes)),
    )


def _breakdown_level(query: PageQuery) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(level of the rows shown, the drill prefix they must start with)."""
    by = query.by or "department"
    if by in ORG_LEVELS:
        asked = ORG_LEVELS.index(by) + 1
        depth = min(len(query.drill) + 1, len(ORG_LEVELS)) if query.drill else asked
        return ORG_LEVELS[:depth], query.drill[: depth - 1]
    return (by,), ()


def _breakdown(
    source: StatusSource,
    query: PageQuery,
    result: StatusResult,
    node_id: str,
    period: str,
) -> dict[str, Any]:
    tree = source.project.tree
    lang = query.lang
    node = tree.nodes[node_id]
    level, prefix = _breakdown_level(query)
    if level[0] not in ORG_LEVELS:
        try:
            result = source.status(period, by=level, filters=query.filter_map)
        except UserError as exc:
            # A dimension some metric of the tree lacks (renewals have no
            # channel): the rest of the page still answers.
            return {
                "by": level[0],
                "level": list(level),
                "crumbs": [],
                "rows": [],
                "error": "; ".join(d.message(lang) for d in exc.diagnostics),
            }
    names = source.cached(("rep_names",), source.project.rep_names) if "rep" in level else None
    rows = []
    for (nid, segment), row in rows_at(result, period, level).items():
        if nid != node_id:
            continue
        values = tuple(v for _, v in segment)
        if values[: len(prefix)] != prefix:
            continue
        dept = values[0] if level[0] == "department" else None
        leaf = values[-1]
        drill = (
            drill_text(values)
            if level[0] in ORG_LEVELS and len(level) < len(ORG_LEVELS) and None not in values
            else None
        )
        rows.append(
            {
                "segment": dict(segment),
                "value": leaf,
                "label": segment_label(tree, level[-1], leaf, lang, dept, names),
                "drill": drill,
                **node_numbers(row, node, tree, lang),
            }
        )
    rows.sort(key=lambda r: (r["actual"] is None, -(r["actual"] or 0.0)))
    crumbs = [{"label": t("pages.segment.company", lang=lang), "drill": ""}]
    for i, value in enumerate(prefix):
        dept = prefix[0] if i > 0 else None
        crumbs.append(
            {
                "label": segment_label(tree, ORG_LEVELS[i], value, lang, dept),
                "drill": drill_text(prefix[: i + 1]),
            }
        )
    return {
        "by": query.by or "department",
        "level": list(level),
        "crumbs": crumbs,
        "rows": rows,
        "error": None,
    }


def _contributions(
    tree: Tree, company: dict[str, NodeStatus], node_id: str, lang: str, basis: str
) -> dict[str, Any]:
    """The node's gap split over its inputs (Shapley attribution of actual
    against expected-to-date values of the inputs it is computed from: against
    pace while the period runs, the target once it is over; an input without
    data takes its plan value)."""
    from kpitree.compute.explain import gap_values
    from kpitree.planning.attribution import attribute

    node = tree.nodes[node_id]
    if node.formula is None:
        return {"available": False, "reason": t("pages.node.no_formula", lang=lang), "items": []}
    inputs = [n for n in tree.descendants(node_id) if tree.nodes[n].is_input]
    values = gap_values(tree, company, [n for n in tree.order if n in inputs])
    if values is None:
        missing = [n for n in inputs if company.get(n) is None or company[n].expected is None]
        return {
            "available": False,
            "reason": t(
                "pages.node.contrib_missing",
                lang=lang,
                nodes=", ".join(tree.nodes[n].display(lang) for n in missing),
            ),
            "items": [],
        }
    try:
        result = attribute(
            tree,
            values.base,
            values.current,
            root=node_id,
            base_nodes=values.base_nodes,
            current_nodes=values.current_nodes,
        )
    except (ZeroDivisionError, ArithmeticError, ValueError):
        return {
            "available": False,
            "reason": t("pages.node.contrib_undefined", lang=lang),
            "items": [],
        }
    items = []
    for child in result.tree.children:
        share = child.contribution
        value = None if share is None else float(share)
        items.append(
            {
                "node": child.node,
                "label": tree.nodes[child.node].display(lang),
                "target": child.base,
                "actual": child.current,
                # The input's measured actual (not a plan value filling a gap)
                # opens its records, as the same number does everywhere.
                "records": _measured(company.get(child.node), child.current),
                "contribution": value,
                "display": {
                    "target": fmt(child.base, tree.nodes[child.node], tree, lang),
                    "actual": fmt(child.current, tree.nodes[child.node], tree, lang),
                    "contribution": fmt(value, node, tree, lang),
                },
            }
        )
    if result.tree.reconciliation:
        # The node's measured value minus what its formula computes (a cohort
        # rate beside a count of the period): the part its parts do not explain.
        value = float(result.tree.reconciliation)
        items.append(
            {
                "node": node_id,
                "reconciliation": True,
                "label": _reconciliation_label(tree, node_id, lang),
                "target": None,
                "actual": None,
                "contribution": value,
                "display": {
                    "target": "",
                    "actual": "",
                    "contribution": fmt(value, node, tree, lang),
                },
            }
        )
    shares = [(n, v, tree.nodes[n].display(lang)) for n, v in result.by_input.items()]
    shares += [
        (n, v, _reconciliation_label(tree, n, lang)) for n, v in result.reconciliation.items()
    ]
    by_input = [
        {
            "node": n,
            "label": label,
            "contribution": None if v is None else float(v),
            "display": fmt(None if v is None else float(v), node, tree, lang),
        }
        for n, v, label in sorted(
            shares, key=lambda kv: abs(kv[1]) if kv[1] is not None else Fraction(0)
        )
    ]
    by_input.reverse()
    change = None if result.change is None else float(result.change)
    return {
        "available": True,
        "basis": basis,
        "basis_text": t(f"pages.node.gap_basis.{basis}", lang=lang),
        "filled": [tree.nodes[n].display(lang) for n in values.filled],
        "gap": change,
        "gap_display": fmt(change, node, tree, lang),
        "exact": result.exact,
        "items": items,
        "by_input": by_input,
    }


def _measured(row: NodeStatus | None, current: Any) -> bool:
    if row is None or row.actual is None or current is None:
        return False
    return abs(float(row.actual) - float(current)) <= 1e-9 * max(1.0, abs(float(row.actual)))


def _reconciliation_label(tree: Tree, node_id: str, lang: str) -> str:
    return t("pages.node.reconciliation_item", lang=lang, node=tree.nodes[node_id].display(lang))


def _notes(tree: Tree, row: NodeStatus | None, node_id: str, lang: str) -> list[str]:
    node = tree.nodes[node_id]
    notes = []
    if row is None:
        return [t("pages.node.no_row", lang=lang)]
    if row.source:
        notes.append(t(f"pages.source.{row.source}", lang=lang))
    rec = row.reconciliation
    if rec is not None and row.actual is not None:
        scale = max(1.0, abs(row.actual))
        if abs(rec) > _RECON_TOLERANCE * scale:
            notes.append(
                t(
                    "pages.node.reconciliation_gap",
                    lang=lang,
                    measured=fmt(row.actual, node, tree, lang),
                    computed=fmt(row.actual - rec, node, tree, lang),
                    gap=fmt(rec, node, tree, lang),
                    formula=node.formula_text or "",
                )
            )
        else:
            notes.append(t("pages.node.reconciled", lang=lang, formula=node.formula_text or ""))
    if row.incomplete:
        notes.append(t("pages.node.incomplete", lang=lang))
    return notes


def node_view(source: StatusSource, query: PageQuery, node_id: str) -> dict[str, Any]:
    """The view model of a Node page (and of ``/api/nodes/{node_id}``)."""
    tree = source.project.tree
    if node_id not in tree.nodes:
        raise _unknown_node(tree, node_id)
    lang = query.lang
    node = tree.nodes[node_id]
    period = resolve_period(source, query.period)
    result = main_status(source, query, period)
    company = {n: r for (n, _), r in rows_at(result, period.key).items()}
    row = company.get(node_id)
    history = history_status(source, query, period)
    by_key = {r.period: r for r in history.select(node=node_id, level=())}
    series = []
    for p in history_periods(period):
        now = by_key.get(p.key)
        ly = by_key.get(p.same_period_last_year().key)
        series.append(
            {
                "period": p.key,
                "label": p.label(lang),
                "actual": now.actual if now else None,
                "target": now.target if now else None,
                "last_year": ly.actual if ly else None,
                "in_progress": not p.is_complete(result.as_of),
            }
        )
    links = [
        {
            "node": other,
            "label": tree.nodes[other].display(lang),
            "relation": relation,
            **node_numbers(company.get(other), tree.nodes[other], tree, lang),
        }
        for relation, ids in (
            ("child", node.children),
            ("driver", node.drivers),
            ("parent", tree.parents(node_id)),
        )
        for other in ids
        if other in tree.nodes
    ]
    breakdown = _breakdown(source, query, result, node_id, period.key)
    series_cols = [
        (k, t(f"pages.col.{k}", lang=lang)) for k in ("period", "actual", "target", "last_year")
    ]
    seg_cols = [
        (k, t(f"pages.col.{k}", lang=lang))
        for k in ("segment", "actual", "target", "achievement", "status")
    ]
    return {
        "page": "node",
        "project": tree.name,
        "query": query.to_json(),
        "period": period_info(period, lang),
        **choices(source, period, lang),
        "as_of": result.as_of.isoformat(),
        "node": {**node_info(tree, node_id, lang), **node_numbers(row, node, tree, lang)},
        "series": series,
        "burnup": burnup(source, query, period, node_id, history),
        "compact_amounts": tree.amounts == "compact",
        "links": links,
        "breakdown": breakdown,
        "contributions": _contributions(
            tree,
            company,
            node_id,
            lang,
            "target" if period.is_complete(result.as_of) else "pace",
        ),
        "notes": _notes(tree, row, node_id, lang),
        # What ``kpitree data check`` finds in the facts this node reads.
        "quality": quality_by_node(source).get(node_id),
        "tables": {
            "series": table(
                series_cols,
                [[s["period"], s["actual"], s["target"], s["last_year"]] for s in series],
            ),
            "breakdown": table(
                seg_cols,
                [
                    [r["label"], r["actual"], r["target"], r["achievement"], r["status"]]
                    for r in breakdown["rows"]
                ],
            ),
        },
    }
