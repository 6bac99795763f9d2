"""The Plan page: the reverse calculation (逆算) made interactive. Change the
KGI target or an assumption and see the required value of every node for the
year and each month, next to the saved plan; save the changes as a scenario.

Changed values travel in the URL as ``set=node=value`` (as ``kpitree plan
--set`` takes them), so an edited plan can be shared as a link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from kpitree.errors import Diagnostic, Severity, UserError
from kpitree.i18n import t
from kpitree.i18n.parse import input_text, parse_number
from kpitree.planning.replan import Replan
from kpitree.web.views.common import PageQuery, StatusSource, table
from kpitree.web.views.plan_actuals import capacity_view, replan_view
from kpitree.web.views.shown import fmt, node_info

if TYPE_CHECKING:
    from kpitree.planning.plan import Plan
    from kpitree.project import Project

__all__ = ["editable_nodes", "parse_sets", "plan_view", "replanned"]


def parse_sets(items: Sequence[str], project: Project | None = None) -> dict[str, float]:
    """``["win_rate=25%", "revenue=¥3億"...]`` -> values; each bad item is
    reported (KT692) with the text given. With the ``project``, a rate typed
    as a bare number above one (``72`` for 72%) is refused too (KT780)."""
    values: dict[str, float] = {}
    raw_text: dict[str, str] = {}
    problems = []
    for item in items:
        if not item.strip():
            continue
        name, sep, raw = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            # As the page writes it (¥3億, 25%, ¥2,940,000,000) or plain.
            values[name.strip()] = parse_number(raw)
            raw_text[name.strip()] = raw
        except ValueError:
            problems.append(
                Diagnostic(Severity.ERROR, "KT692", "pages.error.bad_set", {"value": item})
            )
    if project is not None and raw_text:
        from kpitree.planning.rate_inputs import bare_percent_mistakes

        plan = project.plan
        problems += bare_percent_mistakes(project.tree, raw_text, values, lambda: plan().values())
    if problems:
        raise UserError(problems)
    return values


def editable_nodes(project: Project) -> list[str]:
    """Nodes a planner changes: the KGI, then every node with a target or an
    assumption, in the order of the tree."""
    tree = project.tree
    out = [tree.kgi]
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        if node_id != tree.kgi and (node.target is not None or node.assume is not None):
            out.append(node_id)
    return out


def _node_rows(project: Project, base: Plan, current: Plan, lang: str) -> list[dict[str, Any]]:
    tree = project.tree
    rows = []
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        now = current.nodes.get(node_id)
        was = base.nodes.get(node_id)
        value = now.value if now else None
        before = was.value if was else None
        months = [
            {
                "period": m,
                "value": now.per_period.get(m) if now else None,
                "display": fmt(now.per_period.get(m) if now else None, node, tree, lang),
            }
            for m in current.periods
        ]
        changed = (
            value is not None
            and before is not None
            and abs(value - before) > 1e-9 * max(1.0, abs(before))
        )
        rows.append(
            {
                **node_info(tree, node_id, lang),
                "value": value,
                "base": before,
                "changed": changed,
                "source": now.source if now else None,
                "months": months,
                "display": {
                    "value": fmt(value, node, tree, lang),
                    "base": fmt(before, node, tree, lang),
                },
            }
        )
    return rows


def replanned(source: StatusSource, sets: Mapping[str, float], fiscal_year: int | None) -> Replan:
    """The plan with ``sets`` re-planned from the data as of the source's today."""
    from kpitree.compute.landing import closed_months, replan_from_status
    from kpitree.compute.periods import fiscal_year_period

    project = source.project
    plan = project.plan(fiscal_year=fiscal_year, overrides=sets)
    today = source.today()
    year = fiscal_year_period(plan.fiscal_year, project.tree.fiscal_year_start)
    months = [project.period(m) for m in closed_months(plan, today)]
    result = source.status([*months, year], explain=False, compare=False)
    return replan_from_status(plan, result, year, today)


def plan_view(
    project: Project,
    query: PageQuery,
    sets: Mapping[str, float] | None = None,
    fiscal_year: int | None = None,
    actuals: StatusSource | None = None,
) -> dict[str, Any]:
    """The view model of the Plan page (and of ``/api/plan``): the base plan and
    the plan with ``sets`` applied, per node for the year and every month. With
    ``actuals``, the changed plan is re-planned from the data (past months take
    their actuals) and shown against the original plan."""
    tree = project.tree
    lang = query.lang
    sets = dict(sets or {})
    base = project.plan(fiscal_year=fiscal_year)
    if actuals is not None:
        current: Plan = replanned(actuals, sets, fiscal_year)
    else:
        current = project.plan(fiscal_year=fiscal_year, overrides=sets) if sets else base
    rows = _node_rows(project, base, current, lang)
    inputs = []
    for node_id in editable_nodes(project):
        node = tree.nodes[node_id]
        planned = base.nodes[node_id].value if node_id in base.nodes else None
        given = sets.get(node_id)
        inputs.append(
            {
                **node_info(tree, node_id, lang),
                "base": planned,
                "value": given if given is not None else planned,
                "changed": given is not None,
                "text": input_text(
                    given if given is not None else planned, node.unit_name, tree.currency
                ),
                "display": {"base": fmt(planned, node, tree, lang)},
            }
        )
    cols = [("node", t("pages.col.node", lang=lang)), ("label", t("pages.col.label", lang=lang))]
    cols += [("base", t("pages.col.base", lang=lang)), ("value", t("pages.col.value", lang=lang))]
    cols += [(m, m) for m in current.periods]
    table_rows = [
        [r["id"], r["label"], r["base"], r["value"], *(m["value"] for m in r["months"])]
        for r in rows
    ]
    return {
        "page": "plan",
        "project": tree.name,
        "query": query.to_json(),
        "fiscal_year": current.fiscal_year,
        "periods": current.periods,
        "sets": sets,
        "ok": current.ok,
        "inputs": inputs,
        "nodes": rows,
        "scenarios": [
            {
                "id": s.id,
                "label": s.label.text(lang, s.id),
                "values": dict(s.values),
                "link": "/plan?"
                + urlencode(
                    [("lang", lang), *(("set", f"{k}={v!r}") for k, v in s.values.items())]
                ),
            }
            for s in tree.scenarios.values()
        ],
        "diagnostics": [d.to_json(lang) for d in current.diagnostics],
        "tables": {"plan": table(cols, table_rows)},
        "capacity": capacity_view(current, lang),
        "from_actuals": replan_view(current, lang) if isinstance(current, Replan) else None,
    }
