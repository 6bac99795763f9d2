"""Terminal and JSON views of status results, query results and metrics."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t
from kpitree.i18n.numbers import format_value

if TYPE_CHECKING:
    import pyarrow
    from rich.console import Console

    from kpitree.cli.json_text import Records
    from kpitree.compute.metrics import Catalogue
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.definition.tree import Node, Tree
    from kpitree.engines import Engine
    from kpitree.project import Project


def __getattr__(name: str) -> Any:
    # The console is made on first use: ``--json`` output never imports rich.
    if name == "console":
        from rich.console import Console

        made = Console(highlight=False)
        globals()["console"] = made
        return made
    raise AttributeError(name)


def _console() -> Console:
    console: Console = getattr(sys.modules[__name__], "console")  # noqa: B009
    return console


# Status is never colour alone: an icon and a word go with it.
_STYLE = {
    "on_track": ("green", "●"),
    "at_risk": ("yellow", "▲"),
    "off_track": ("red", "✕"),
    "no_data": ("bright_black", "○"),
    "low_volume": ("bright_black", "…"),
}


def _sentence(tree: Any, bottleneck: Any, lang: str) -> str:
    """The bottleneck in a sentence (explaining is imported only when there is one)."""
    from kpitree.compute.explain import describe_bottleneck

    return describe_bottleneck(tree, bottleneck, lang)


def status_text(status: str | None, reason: str | None = None) -> str:
    if status is None:
        if reason in ("no_target", "nothing_due"):
            return f"[dim]– {t(f'status.reason.{reason}')}[/dim]"
        return "—"
    colour, icon = _STYLE[status]
    return f"[{colour}]{icon} {t(f'status.{status}')}[/{colour}]"


def status_notes(r: NodeStatus) -> list[str]:
    """Short notes saying why a row has the status it has."""
    notes = []
    if r.status == "no_data":
        notes.append(
            t("status.no_data_never")
            if r.data_until is None
            else t("status.no_data_since", date=r.data_until.isoformat())
        )
    if r.status == "low_volume" and r.volume is not None and r.min_volume is not None:
        notes.append(
            t("status.low_volume_detail", volume=f"{r.volume:,.0f}", minimum=f"{r.min_volume:,.0f}")
        )
    if r.basis == "schedule":
        notes.append(t("status.schedule"))
    if r.reason == "nothing_due":
        notes.append(t("status.reason.nothing_due"))
    return notes


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:,.0f}%"


def _segment_title(
    segment: tuple[tuple[str, str | None], ...],
    names: Mapping[str, str] | None = None,
    tree: Tree | None = None,
) -> str:
    """``部門: インサイドセールス / チャネル: 有料検索``: dimensions and values by
    the names people use (a department by the organisation's own label)."""
    from kpitree.i18n import value_label

    if not segment:
        return t("status.company")
    parts = []
    for d, v in segment:
        name = t(f"dimension.{d}") if d in _DIMS else d
        if v is None:
            value = t("status.unassigned")
        else:
            # Reps by name (the id when the organisation has none); imported text.
            if d == "rep":
                value = terminal_text(names.get(v, v) if names else v)
            elif d == "department" and tree is not None:
                from kpitree.reports.sections import department_label

                value = terminal_text(department_label(tree, v, current_lang()))
            else:
                value = terminal_text(value_label(d, v))
        parts.append(f"{name}: {value}")
    return " / ".join(parts)


def rep_names_of(
    project: Project, result: StatusResult, engine: Engine | None = None
) -> dict[str, str]:
    """Names of the reps among the result's segments (none asked: no query),
    read with ``engine`` when given (else one is opened)."""
    if not any("rep" in level for level in result.levels):
        return {}
    return project.rep_names(engine)


_DIMS = ("department", "team", "rep", "region", "channel", "segment", "product", "industry")


def _depths(project: Project) -> dict[str, int]:
    tree = project.tree
    depth: dict[str, int] = {}
    stack = [(tree.kgi, 0)]
    while stack:
        node_id, d = stack.pop()
        if node_id in depth or node_id not in tree.nodes:
            continue
        depth[node_id] = d
        node = tree.nodes[node_id]
        stack.extend((c, d + 1) for c in reversed([*node.children, *node.drivers]))
    return depth


def status_view(
    project: Project, result: StatusResult, names: dict[str, str] | None = None
) -> None:
    from rich.table import Table

    console = _console()
    tree = project.tree
    lang = current_lang()
    depth = _depths(project)
    names = rep_names_of(project, result) if names is None else names
    for period in result.periods:
        rows = [r for r in result.rows if r.period == period.key]
        segments = list(dict.fromkeys(r.segment for r in rows))
        for segment in segments:
            table = Table(
                title=(
                    f"{terminal_text(tree.name)} — {period.label(lang)} — "
                    f"{_segment_title(segment, names, tree)}"
                ),
                caption=t("status.as_of", date=result.as_of.isoformat()),
            )
            for key, justify in (
                ("status.col.node", "left"),
                ("status.col.actual", "right"),
                ("status.col.target", "right"),
                ("status.col.achievement", "right"),
                ("status.col.expected", "right"),
                ("status.col.forecast", "right"),
                ("status.col.status", "left"),
                ("status.col.previous", "right"),
            ):
                table.add_column(t(key), justify=justify)  # type: ignore[arg-type]
            for r in rows:
                if r.segment != segment:
                    continue
                if segment and r.actual is None and r.target is None:
                    continue
                node = tree.nodes[r.node]

                def fmt(v: float | None, n: Node = node) -> str:
                    return format_value(v, n.unit_name, tree.currency)

                name = "  " * depth.get(r.node, 0) + terminal_text(node.display(lang))
                notes = []
                if r.source == "implied":
                    notes.append(t("status.implied"))
                if r.incomplete:
                    notes.append(t("status.incomplete"))
                if r.missing_values:
                    notes.append(t("status.missing_values", count=f"{r.missing_values:,.0f}"))
                if r.negative_durations:
                    notes.append(
                        t("status.negative_durations", count=f"{r.negative_durations:,.0f}")
                    )
                if r.reconciliation is not None and abs(r.reconciliation) > 1e-9 * max(
                    1.0, abs(r.actual or 0.0)
                ):
                    notes.append(t("status.reconciliation", gap=fmt(r.reconciliation)))
                notes.extend(f"⚠ {t(f'flag.badge.{f.code}')}" for f in r.flags)
                label = name + (f" [dim]({', '.join(notes)})[/dim]" if notes else "")
                table.add_row(
                    label,
                    fmt(r.actual),
                    fmt(r.target),
                    _pct(r.achievement),
                    fmt(r.expected),
                    fmt(r.forecast),
                    status_text(r.status, r.reason),
                    fmt(r.previous),
                )
            console.print(table)
            for r in rows:
                if r.segment != segment:
                    continue
                name = tree.nodes[r.node].display(lang)
                if notes := status_notes(r):
                    console.print(f"[dim]{name}: {', '.join(notes)}[/dim]")
                for flag in r.flags:
                    console.print(f"[yellow]⚠[/yellow] {name}: {flag.message(tree, lang)}")
    _explanations(project, result)


def _explanations(project: Project, result: StatusResult) -> None:
    console = _console()
    tree = project.tree
    lang = current_lang()
    b = result.bottleneck
    if b is not None:
        console.print(t("status.bottleneck", sentence=_sentence(tree, b, lang)))
    kgi = tree.nodes[tree.kgi]
    pace = result.gap_basis == "pace"
    for attribution, key in (
        (result.attribution_vs_target, "status.gap.vs_pace" if pace else "status.gap.vs_target"),
        (result.attribution_forecast_vs_target if pace else None, "status.gap.forecast"),
        (result.attribution_vs_previous, "status.gap.vs_previous"),
    ):
        if attribution is None or attribution.change is None:
            continue
        console.print(
            t(key, change=format_value(float(attribution.change), kgi.unit_name, tree.currency))
        )
        for node_id, share in attribution.ranked()[:5]:
            if share is None or share == 0:
                continue
            console.print(
                f"  {tree.nodes[node_id].display(lang)}: "
                f"{format_value(float(share), kgi.unit_name, tree.currency)}"
            )
        for node_id, share in attribution.reconciliation.items():
            if share:
                console.print(
                    f"  {tree.nodes[node_id].display(lang)} ({t('explain.reconciliation')}): "
                    f"{format_value(float(share), kgi.unit_name, tree.currency)}"
                )
    if result.filled_from_plan:
        names = ", ".join(tree.nodes[n].display(lang) for n in result.filled_from_plan)
        console.print(t("status.gap.filled", nodes=names))


def _rows_json(project: Project, result: StatusResult, lang: str) -> Records:
    """Each row's node (label, unit, kind), then the row as ``NodeStatus.to_json``
    gives it, flags with their message in ``lang``: columns that ``--json``
    writes a column at a time."""
    from kpitree.cli.json_text import Records

    if not len(result.table):
        return Records([], [])
    tree = project.tree
    keys, columns = result.json_columns(lambda f: f.to_json(tree, lang))
    nodes = columns[keys.index("node")]
    heads = {n: tree.nodes[n] for n in dict.fromkeys(nodes)}
    label = {n: node.display(lang) for n, node in heads.items()}
    unit = {n: node.unit_name for n, node in heads.items()}
    kind = {n: node.kind for n, node in heads.items()}
    head_columns = [list(map(part.__getitem__, nodes)) for part in (label, unit, kind)]
    return Records(["label", "unit", "kind", *keys], [*head_columns, *columns])


def status_json(
    project: Project, result: StatusResult, names: dict[str, str] | None = None
) -> dict[str, Any]:
    def attribution(a: Any) -> Any:
        return None if a is None else a.to_json()

    lang = current_lang()  # read once: it looks at the environment
    return {
        "project": project.tree.name,
        "as_of": result.as_of.isoformat(),
        "periods": [
            {"key": p.key, "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in result.periods
        ],
        "levels": [list(level) for level in result.levels],
        "rep_names": rep_names_of(project, result) if names is None else names,
        "rows": _rows_json(project, result, lang),
        "bottleneck": None
        if result.bottleneck is None
        else {
            **vars(result.bottleneck),
            "sentence": _sentence(project.tree, result.bottleneck, current_lang()),
        },
        "attribution": {
            "basis": result.gap_basis,
            "vs_target": attribution(result.attribution_vs_target),
            "forecast_vs_target": attribution(result.attribution_forecast_vs_target),
            "vs_previous": attribution(result.attribution_vs_previous),
            "filled_from_plan": list(result.filled_from_plan),
        },
        "segment_gaps": {
            "/".join(level): [{"segment": dict(seg), "gap": gap} for seg, gap in gaps]
            for level, gaps in result.segment_gaps.items()
        },
    }


def arrow_table(table: pyarrow.Table) -> None:
    from rich.table import Table

    console = _console()
    out = Table()
    for name in table.column_names:
        out.add_column(name)
    for row in table.to_pylist():
        # Values are imported text: never Rich markup, never terminal escapes.
        out.add_row(*["" if v is None else terminal_text(v) for v in row.values()])
    console.print(out)
    console.print(t("cli.rows", count=table.num_rows))


def metric_list(catalogue: Catalogue) -> None:
    from rich.table import Table

    console = _console()
    lang = current_lang()
    out = Table()
    for key in ("metrics.col.id", "metrics.col.label", "metrics.col.type", "metrics.col.source"):
        out.add_column(t(key))
    for mid, m in catalogue.metrics.items():
        what = m.spec.entity or (m.spec.expr or f"{m.spec.numerator} / {m.spec.denominator}")
        out.add_row(
            mid,
            m.display(lang),
            f"{m.type} ({what})",
            t("metrics.builtin") if m.builtin else t("metrics.project"),
        )
    console.print(out)
