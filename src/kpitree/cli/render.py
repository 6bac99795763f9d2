"""Terminal views of trees, plans and explanations (rich)."""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console
from rich.table import Table
from rich.tree import Tree as RichTree

from kpitree.definition.tree import Node, Tree
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t
from kpitree.i18n.numbers import format_value
from kpitree.planning.plan import Plan
from kpitree.project import Explanation

console = Console(highlight=False)


def _fmt(tree: Tree, node: Node, value: float | Fraction | None) -> str:
    return format_value(None if value is None else float(value), node.unit_name, tree.currency)


def _node_title(node: Node) -> str:
    lang = current_lang()
    label = terminal_text(node.display(lang))
    kind = t(f"kind.{node.kind}")
    return (
        f"[bold]{label}[/bold] [dim]({node.id}, {kind})[/dim]"
        if label != node.id
        else (f"[bold]{node.id}[/bold] [dim]({kind})[/dim]")
    )


def owner_label(tree: Tree, owner: str | None) -> str:
    """A node's owner as people read it: the department's label (its key when it
    is not a department of the organisation)."""
    if not owner:
        return ""
    found = tree.organisation.departments.get(owner)
    return terminal_text(found.label.text(current_lang(), owner)) if found else owner


def tree_view(tree: Tree, plan: Plan | None = None) -> None:
    """The tree from the KGI down, with formula, owner, target and plan value."""
    shown: set[str] = set()

    def describe(node: Node) -> str:
        parts = [_node_title(node)]
        if node.formula_text:
            parts.append(f"= {node.formula_text}")
        if node.owner:
            owner = owner_label(tree, node.owner)
            parts.append(f"[cyan]{t('tree.owner', owner=owner)}[/cyan]")
        if node.target is not None and node.target.horizon is not None:
            parts.append(t("tree.target", value=_fmt(tree, node, node.target.horizon)))
        elif node.target is not None and node.target.monthly is not None:
            parts.append(t("tree.target_monthly", value=_fmt(tree, node, node.target.monthly)))
        if node.assume is not None:
            parts.append(t("tree.assume", value=_fmt(tree, node, node.assume)))
        if plan is not None:
            planned = plan.nodes[node.id].value
            parts.append(f"[green]{t('tree.plan', value=_fmt(tree, node, planned))}[/green]")
        return "  ".join(parts)

    def add(branch: RichTree, node_id: str) -> None:
        node = tree.nodes[node_id]
        if node_id in shown and node.children:
            branch.add(f"{_node_title(node)} [dim]{t('tree.see_above')}[/dim]")
            return
        shown.add(node_id)
        child = branch.add(describe(node))
        for c in node.children:
            add(child, c)
        for d in node.drivers:
            if d in tree.nodes:
                shown.add(d)
                child.add(f"[magenta]⇢ {t('tree.driver')}[/magenta] {describe(tree.nodes[d])}")

    root = tree.nodes[tree.kgi]
    top = RichTree(describe(root))
    shown.add(root.id)
    for c in root.children:
        add(top, c)
    for d in root.drivers:
        if d in tree.nodes:
            shown.add(d)
            top.add(f"[magenta]⇢ {t('tree.driver')}[/magenta] {describe(tree.nodes[d])}")
    console.print(f"[bold underline]{tree.name}[/bold underline]")
    console.print(top)
    others = [n for n in tree.nodes if n not in tree.descendants(tree.kgi) and n not in shown]
    if others:
        console.print(t("tree.others", nodes=", ".join(others)))


def plan_table(base: Plan, variants: list[tuple[str, Plan]], *, months: bool) -> None:
    tree = base.tree
    title = t("plan.title", name=terminal_text(tree.name), year=base.fiscal_year)
    table = Table(title=title, title_justify="left")
    table.add_column(t("col.node"))
    table.add_column(t("col.owner"))
    table.add_column(t("col.source"))
    table.add_column(t("col.base") if variants else t("col.year"), justify="right")
    for name, _ in variants:
        table.add_column(name, justify="right")
        table.add_column("Δ", justify="right")
    if months:
        for m in base.periods:
            table.add_column(m, justify="right")
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        np = base.nodes[node_id]
        row = [
            f"{terminal_text(node.display(current_lang()))} [dim]{node.id}[/dim]",
            owner_label(tree, node.owner),
            t(f"source.{np.source}") if np.source else "—",
            _fmt(tree, node, np.value),
        ]
        for _, p in variants:
            other = p.nodes[node_id].value
            row.append(_fmt(tree, node, other))
            delta = None if other is None or np.value is None else other - np.value
            row.append(_fmt(tree, node, delta) if delta else "")
        if months:
            row.extend(_fmt(tree, node, np.per_period.get(m)) for m in base.periods)
        table.add_row(*row)
    console.print(table)


def _cascade_segment(tree: Tree, key: str) -> str:
    """``field_sales/東日本`` as ``フィールドセールス / 東日本``: the department by
    its label, the team and rep as they are named in the organisation."""
    from kpitree.reports.sections import department_label

    department, *rest = key.split("/")
    return terminal_text(" / ".join([department_label(tree, department, current_lang()), *rest]))


def cascade_table(plan: Plan, by: str) -> None:
    depth = {"department": 0, "team": 1, "rep": 2}.get(by)
    if depth is None:
        from kpitree.errors import UserError

        raise UserError.of("KT310", "cli.bad_by", None, value=by)
    tree = plan.tree
    table = Table(title=t("plan.cascade_title", by=t(f"by.{by}")), title_justify="left")
    table.add_column(t("col.segment"))
    table.add_column(t("col.node"))
    table.add_column(t("col.year"), justify="right")
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        np = plan.nodes[node_id]
        if depth == 0 and node.owner and np.value is not None:
            table.add_row(
                _cascade_segment(tree, node.owner),
                terminal_text(node.display(current_lang())),
                _fmt(tree, node, np.value),
            )
        for key, seg in np.segments.items():
            if key.count("/") == depth:
                table.add_row(
                    _cascade_segment(tree, key),
                    terminal_text(node.display(current_lang())),
                    _fmt(tree, node, seg.value),
                )
    console.print(table)


def explanation(tree: Tree, result: Explanation) -> None:
    kgi = tree.nodes[tree.kgi]
    table = Table(
        title=t(
            "explain.sensitivity_title",
            at=result.at,
            kgi=terminal_text(kgi.display(current_lang())),
        ),
        title_justify="left",
    )
    table.add_column(t("col.node"))
    table.add_column(t("col.value"), justify="right")
    table.add_column(t("col.elasticity"), justify="right")
    table.add_column(
        t("col.effect", step=f"{result.sensitivity[0].step:+.0%}" if result.sensitivity else ""),
        justify="right",
    )
    for s in result.sensitivity:
        node = tree.nodes[s.node]
        table.add_row(
            f"{terminal_text(node.display(current_lang()))} [dim]{node.id}[/dim]",
            _fmt(tree, node, s.value),
            "—" if s.elasticity is None else f"{s.elasticity:.2f}",
            "—" if s.effect is None else ("+" if s.effect >= 0 else "") + _fmt(tree, kgi, s.effect),
        )
    console.print(table)
    for spec, nodes in result.filled.items():
        names = ", ".join(terminal_text(tree.nodes[n].display(current_lang())) for n in nodes)
        console.print(t("explain.filled", spec=spec, nodes=names))
    att = result.attribution
    if att is None or result.compared is None:
        return
    if result.pace:
        console.print(t("explain.pace"))
    console.print(
        t(
            "explain.attribution_head",
            kgi=terminal_text(kgi.display(current_lang())),
            base=result.compared[0],
            current=result.compared[1],
            before=_fmt(tree, kgi, att.base),
            after=_fmt(tree, kgi, att.current),
            change=_fmt(tree, kgi, att.change),
        )
    )
    rich_tree = RichTree(f"{_node_title(kgi)}  Δ {_fmt(tree, kgi, att.change)}")

    def add(branch: RichTree, c: object) -> None:
        from kpitree.planning.attribution import Contribution

        assert isinstance(c, Contribution)
        for child in c.children:
            node = tree.nodes[child.node]
            share = _fmt(tree, kgi, child.contribution)
            line = (
                f"{_node_title(node)}  {_fmt(tree, node, child.base)} → "
                f"{_fmt(tree, node, child.current)}  [bold]{share}[/bold]"
            )
            add(branch.add(line), child)
        if c.reconciliation:
            # A measured node: the part of its change its parts do not compute.
            share = _fmt(tree, kgi, c.reconciliation)
            branch.add(f"[dim]{t('explain.reconciliation')}[/dim]  [bold]{share}[/bold]")

    add(rich_tree, att.tree)
    console.print(rich_tree)
    console.print(
        t("explain.method", exact=t("explain.exact") if att.exact else t("explain.inexact"))
    )
