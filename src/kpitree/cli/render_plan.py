"""Text output of a re-plan from actuals and of the plan's capacity checks."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from kpitree.cli.render import owner_label
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t
from kpitree.i18n.numbers import format_value
from kpitree.planning.plan import Plan
from kpitree.planning.replan import Replan

__all__ = ["capacity_lines", "replan_table"]

console = Console()


def _fmt(plan: Plan, node_id: str, value: float | None) -> str:
    node = plan.tree.nodes[node_id]
    return format_value(value, node.unit_name, plan.tree.currency)


def _change(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+.0%}"


def replan_table(re: Replan, *, months: bool) -> None:
    """The original and re-planned value per open month of every node, the
    change, and where the year lands."""
    tree = re.tree
    closed_to = re.closed[-1] if re.closed else "—"
    table = Table(
        title=t(
            "plan.replan_title",
            name=terminal_text(tree.name),
            year=re.fiscal_year,
            closed_to=closed_to,
        ),
        title_justify="left",
    )
    table.add_column(t("col.node"))
    table.add_column(t("col.owner"))
    table.add_column(t("col.original_monthly"), justify="right")
    table.add_column(t("col.replanned_monthly"), justify="right")
    table.add_column(t("col.change"), justify="right")
    table.add_column(t("col.year_replanned"), justify="right")
    table.add_column(t("col.landing_run_rate"), justify="right")
    table.add_column(t("col.landing_with_plan"), justify="right")
    if months:
        for m in re.periods:
            label = m if m not in re.closed else t("plan.actual_month", month=m)
            table.add_column(label, justify="right")
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        change = re.changes.get(node_id)
        landing = re.landing.get(node_id)
        row = [
            f"{terminal_text(node.display(current_lang()))} [dim]{node.id}[/dim]",
            owner_label(tree, node.owner),
            _fmt(re, node_id, change.before if change else None),
            _fmt(re, node_id, change.after if change else None),
            _change(change.change if change else None),
            _fmt(re, node_id, re.nodes[node_id].value),
            _fmt(re, node_id, landing.run_rate if landing else None),
            _fmt(re, node_id, landing.with_plan if landing else None),
        ]
        if months:
            row.extend(_fmt(re, node_id, re.nodes[node_id].per_period.get(m)) for m in re.periods)
        table.add_row(*row)
    console.print(table)
    for node_id in tree.display_order():
        change = re.changes.get(node_id)
        if change is None or change.change is None or abs(change.change) < 0.005:
            continue
        console.print(
            t(
                "plan.change_line",
                node=terminal_text(tree.nodes[node_id].display(current_lang())),
                before=_fmt(re, node_id, change.before),
                after=_fmt(re, node_id, change.after),
                change=_change(change.change),
            )
        )
    kgi = re.landing.get(tree.kgi)
    if kgi is not None and kgi.gap is not None and kgi.target:
        key = "plan.landing_short" if kgi.gap > 0 else "plan.landing_ahead"
        console.print(
            t(
                key,
                node=terminal_text(tree.nodes[tree.kgi].display(current_lang())),
                landing=_fmt(re, tree.kgi, kgi.run_rate),
                target=_fmt(re, tree.kgi, kgi.target),
                gap=_fmt(re, tree.kgi, abs(kgi.gap)),
            )
        )
    if re.fallback:
        nodes = sorted({n for names in re.fallback.values() for n in names})
        console.print(t("plan.replan_fallback", nodes=", ".join(nodes)))


def capacity_lines(plan: Plan) -> None:
    """One sentence per department with a capacity: the monthly load, the
    headcount it implies and the reps today; then the overloaded months."""
    tree = plan.tree
    for check in plan.capacity():
        dept = tree.organisation.departments[check.department]
        fewest, most = check.headcount or (None, None)
        headcount = "—" if fewest is None else (f"{fewest}–{most}" if most else f"{fewest}+")
        console.print(
            t(
                "plan.capacity_line",
                node=terminal_text(tree.nodes[check.node].display(current_lang())),
                monthly=_fmt(plan, check.node, check.monthly),
                department=terminal_text(dept.label.text(current_lang(), dept.id)),
                headcount=headcount,
                reps=check.reps,
            )
        )
        for month in check.overloaded_months:
            worst = max(
                (load for load in check.loads if load.month == month and load.per_rep is not None),
                key=lambda load: load.per_rep or 0.0,
            )
            console.print(
                t(
                    "plan.capacity_overloaded",
                    month=month,
                    segment=worst.segment,
                    per_rep=_fmt(plan, check.node, worst.per_rep),
                    max=_fmt(plan, check.node, check.max),
                )
            )
