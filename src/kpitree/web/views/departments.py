"""The Departments pages: one view each for marketing, inside sales, field
sales and customer success (every department of the organisation and every
node owner): their own KPIs, for the company and for the department's own
segment, and how each feeds the KGI (the path up the tree, the KGI effect of
+10% on the KPI, and its share of the KGI's gap to target)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.compute.judge import STATUSES
from kpitree.i18n import t
from kpitree.web.errors import WebError
from kpitree.web.views.common import (
    PageQuery,
    StatusSource,
    choices,
    drill_text,
    history_periods,
    history_status,
    main_status,
    period_info,
    resolve_period,
    rows_at,
    table,
    trend,
)
from kpitree.web.views.node import segment_label
from kpitree.web.views.shown import fmt, node_info, node_numbers

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.definition.tree import Tree

__all__ = ["department_ids", "department_view", "departments_view"]


def department_ids(tree: Tree) -> list[str]:
    """Departments of the organisation, then any other owner of a node."""
    out = list(tree.organisation.departments)
    for node_id in tree.display_order():
        owner = tree.nodes[node_id].owner
        if owner and owner not in out:
            out.append(owner)
    return out


def _label(tree: Tree, dept: str, lang: str) -> str:
    found = tree.organisation.departments.get(dept)
    return found.label.text(lang, dept) if found else dept


def path_to_kgi(tree: Tree, node_id: str) -> list[str]:
    """Node ids from ``node_id`` up to the KGI along formula links (the first
    parent at each step); influence links count when there is no formula
    parent."""
    path = [node_id]
    while path[-1] != tree.kgi:
        current = path[-1]
        parents = [p for p in tree.parents(current) if p not in path]
        if not parents:
            parents = [
                n.id for n in tree.nodes.values() if current in n.drivers and n.id not in path
            ]
        if not parents:
            break
        path.append(parents[0])
    return path


def _sensitivities(source: StatusSource) -> dict[str, dict[str, Any]]:
    """KGI effect of +10% on each input, at the plan's values."""

    def compute() -> dict[str, dict[str, Any]]:
        from kpitree.planning.sensitivity import sensitivity

        project = source.project
        plan = project.plan()
        if not plan.ok:
            return {}
        values = plan.values()
        inputs = {n: values[n] for n in project.tree.inputs if n in values}
        if len(inputs) != len(project.tree.inputs):
            return {}
        return {
            s.node: {"effect": s.effect, "elasticity": s.elasticity, "step": s.step}
            for s in sensitivity(project.tree, inputs)
        }

    return source.cached(("sensitivity",), compute)


def _kpis(
    source: StatusSource,
    query: PageQuery,
    result: StatusResult,
    dept: str,
    period: Period,
    history: StatusResult,
) -> list[dict[str, Any]]:
    tree = source.project.tree
    lang = query.lang
    kgi = tree.nodes[tree.kgi]
    company = {n: r for (n, _), r in rows_at(result, period.key).items()}
    own = {
        n: r
        for (n, seg), r in rows_at(result, period.key, ("department",)).items()
        if seg == (("department", dept),)
    }
    effects = _sensitivities(source)
    gap = result.attribution_vs_target
    recent = history_periods(period)
    out = []
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        if node.owner != dept:
            continue
        effect = effects.get(node_id, {}).get("effect")
        share = gap.by_input.get(node_id) if gap is not None else None
        out.append(
            {
                **node_info(tree, node_id, lang),
                "company": node_numbers(company.get(node_id), node, tree, lang),
                "own": node_numbers(own.get(node_id), node, tree, lang),
                "path": [
                    {"node": n, "label": tree.nodes[n].display(lang)}
                    for n in path_to_kgi(tree, node_id)
                ],
                "kgi_effect": effect,
                "kgi_effect_display": fmt(effect, kgi, tree, lang),
                "gap_share": None if share is None else float(share),
                "gap_share_display": fmt(None if share is None else float(share), kgi, tree, lang),
                "trend": trend(history, node_id, recent, lang, tree),
            }
        )
    return out


def _unknown_department(tree: Tree, dept: str) -> WebError:
    from kpitree.source import did_you_mean

    ids = department_ids(tree)
    return WebError(
        404,
        "KT691",
        "pages.error.unknown_department",
        department=dept,
        departments=", ".join(ids),
        hint=did_you_mean(dept, ids),
    )


def departments_view(source: StatusSource, query: PageQuery) -> dict[str, Any]:
    """The view model of the Departments page (and of ``/api/departments``)."""
    tree = source.project.tree
    lang = query.lang
    period = resolve_period(source, query.period)
    result = main_status(source, query, period)
    history = history_status(source, query, period)
    departments: list[dict[str, Any]] = []
    for dept in department_ids(tree):
        kpis = _kpis(source, query, result, dept, period, history)
        counts = {s: sum(1 for k in kpis if k["company"]["status"] == s) for s in STATUSES}
        departments.append(
            {"id": dept, "label": _label(tree, dept, lang), "kpis": kpis, "counts": counts}
        )
    cols = [
        (k, t(f"pages.col.{k}", lang=lang))
        for k in (
            "department",
            "node",
            "label",
            "actual",
            "target",
            "achievement",
            "status",
            "own_actual",
            "kgi_effect",
        )
    ]
    rows = [
        [
            d["id"],
            k["id"],
            k["label"],
            k["company"]["actual"],
            k["company"]["target"],
            k["company"]["achievement"],
            k["company"]["status"],
            k["own"]["actual"],
            k["kgi_effect"],
        ]
        for d in departments
        for k in d["kpis"]
    ]
    return {
        "page": "departments",
        "project": tree.name,
        "query": query.to_json(),
        "period": period_info(period, lang),
        **choices(source, period, lang),
        "as_of": result.as_of.isoformat(),
        "kgi": {"id": tree.kgi, "label": tree.nodes[tree.kgi].display(lang)},
        "gap_basis": result.gap_basis,
        "departments": departments,
        "tables": {"kpis": table(cols, rows)},
    }


def department_view(source: StatusSource, query: PageQuery, dept: str) -> dict[str, Any]:
    """The view model of one department's page (and of ``/api/departments/{dept}``):
    its KPIs and each KPI by team."""
    tree = source.project.tree
    if dept not in department_ids(tree):
        raise _unknown_department(tree, dept)
    lang = query.lang
    period = resolve_period(source, query.period)
    result = main_status(source, query, period)
    history = history_status(source, query, period)
    kpis = _kpis(source, query, result, dept, period, history)
    teams_rows = rows_at(result, period.key, ("department", "team"))
    for kpi in kpis:
        node = tree.nodes[kpi["id"]]
        teams = []
        for (nid, seg), row in teams_rows.items():
            if nid != kpi["id"] or seg[0][1] != dept:
                continue
            team = seg[1][1]
            teams.append(
                {
                    "team": team,
                    "label": segment_label(tree, "team", team, lang, dept),
                    "drill": drill_text((dept, team)) if team is not None else None,
                    **node_numbers(row, node, tree, lang),
                }
            )
        teams.sort(key=lambda r: str(r["label"]))
        kpi["teams"] = teams
    cols = [
        (k, t(f"pages.col.{k}", lang=lang))
        for k in ("node", "label", "segment", "actual", "target", "achievement", "status")
    ]
    rows = []
    for k in kpis:
        rows.append(
            [
                k["id"],
                k["label"],
                "",
                k["own"]["actual"],
                k["own"]["target"],
                k["own"]["achievement"],
                k["own"]["status"],
            ]
        )
        for team in k["teams"]:
            rows.append(
                [
                    k["id"],
                    k["label"],
                    team["label"],
                    team["actual"],
                    team["target"],
                    team["achievement"],
                    team["status"],
                ]
            )
    return {
        "page": "department",
        "project": tree.name,
        "query": query.to_json(),
        "period": period_info(period, lang),
        **choices(source, period, lang),
        "as_of": result.as_of.isoformat(),
        "department": {"id": dept, "label": _label(tree, dept, lang)},
        "departments": [{"id": d, "label": _label(tree, d, lang)} for d in department_ids(tree)],
        "kgi": {"id": tree.kgi, "label": tree.nodes[tree.kgi].display(lang)},
        "kpis": kpis,
        "compact_amounts": tree.amounts == "compact",
        "tables": {"kpis": table(cols, rows)},
    }
