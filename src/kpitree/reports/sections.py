"""The sections of a review pack that are read off one status result: the
biggest gaps with their drivers and segments, the bottleneck, the funnel and
one section per department."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from kpitree.compute.explain import describe_bottleneck, gap_values
from kpitree.definition.formula import BinOp, Ref
from kpitree.i18n import t
from kpitree.planning.attribution import Attribution, attribute
from kpitree.reports.model import (
    BottleneckLine,
    DepartmentSection,
    Driver,
    FunnelStep,
    Gap,
    NodeLine,
    SegmentLine,
    Trend,
)

if TYPE_CHECKING:
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.compute.targets import SegmentKey
    from kpitree.definition.tree import Tree

__all__ = [
    "DEPARTMENTS",
    "bottleneck",
    "departments",
    "drivers",
    "funnel",
    "gaps",
    "segment_name",
]

# The Model's departments, in the order the funnel runs through them.
DEPARTMENTS = ("marketing", "inside_sales", "field_sales", "customer_success")
MAX_GAPS = 5
MAX_SEGMENTS = 3
BEHIND = ("off_track", "at_risk")


def department_label(tree: Tree, dept: str, lang: str) -> str:
    declared = tree.organisation.departments.get(dept)
    if declared is not None and (declared.label.ja or declared.label.en):
        return declared.label.text(lang, dept)
    if dept in DEPARTMENTS:
        return t(f"reports.department.{dept}", lang=lang)
    return dept


def segment_name(
    tree: Tree, segment: SegmentKey, lang: str, names: Mapping[str, str] | None = None
) -> str:
    """``フィールドセールス / 東日本営業部 / 加藤 隆``; the company for no segment.
    A rep is named by ``names`` (rep id -> name), by the id without one."""
    if not segment:
        return t("status.company", lang=lang)
    parts = []
    for dim, value in segment:
        if value is None:
            parts.append(t("status.unassigned", lang=lang))
        elif dim == "department":
            parts.append(department_label(tree, value, lang))
        elif dim == "rep" and names:
            parts.append(names.get(value, value))
        else:
            parts.append(value)
    return " / ".join(parts)


def _shortfall(tree: Tree, r: NodeStatus) -> float | None:
    """actual - expected-to-date, negative when behind (either direction)."""
    if r.actual is None or r.expected is None:
        return None
    gap = r.actual - r.expected
    return -gap if tree.nodes[r.node].direction == "lower_is_better" else gap


def _segment_line(
    tree: Tree, r: NodeStatus, lang: str, names: Mapping[str, str] | None
) -> SegmentLine:
    from kpitree.reports.build import clean_status, status_text

    node = tree.nodes[r.node]
    status = clean_status(r.status)
    return SegmentLine(
        segment=segment_name(tree, r.segment, lang, names),
        node=r.node,
        label=node.display(lang),
        unit=node.unit_name,
        actual=r.actual,
        expected=r.expected,
        pace=r.pace,
        gap=_shortfall(tree, r),
        status=status,
        status_text=status_text(status, lang, clean_status(r.reason)),
        # No filter can ask for "unassigned", so such a segment has no link.
        filters=()
        if any(value is None for _, value in r.segment)
        else tuple((dim, str(value)) for dim, value in r.segment),
    )


def _attribution(tree: Tree, company: Mapping[str, NodeStatus]) -> Attribution | None:
    """The KGI's gap to expected-to-date split over the inputs (Shapley).

    Status attributes the gap to the *whole* period's target; mid-period that
    blames every count for the part of the month still to come, so the review
    compares with expected-to-date (the same thing once the period is over)."""
    values = gap_values(tree, company)
    if values is None:
        return None
    return attribute(
        tree,
        values.base,
        values.current,
        base_nodes=values.base_nodes,
        current_nodes=values.current_nodes,
    )


def drivers(tree: Tree, result: StatusResult, lang: str) -> list[Driver]:
    """Every input with a share of the KGI's gap to expected-to-date, each once,
    and every measured formula node's reconciliation, largest effect first. The
    shares add up exactly to the gap of the KGI; an input under several nodes
    behind their pace is still one driver (listing it under each node would
    count its effect again)."""
    key = result.periods[-1].key
    company = {r.node: r for r in result.rows if r.period == key and r.segment == ()}
    attribution = _attribution(tree, company)
    if attribution is None:
        return []
    shares = {k: v for k, v in attribution.by_input.items() if v is not None and v != 0}
    # A measured formula node's reconciliation (measured − computed from its
    # parts) is a share of its own, so that the lines add up to the gap.
    gaps = {k: v for k, v in attribution.reconciliation.items() if v is not None and v != 0}
    found = []
    ranked = sorted([*shares.items(), *gaps.items()], key=lambda kv: (-abs(kv[1]), kv[0]))
    for node_id, share in ranked:
        r = company.get(node_id)
        if node_id in gaps:
            label = t(
                "pages.node.reconciliation_item", lang=lang, node=tree.nodes[node_id].display(lang)
            )
            actual, reference = (r.reconciliation if r else None), None
        else:
            label = tree.nodes[node_id].display(lang)
            actual, reference = (r.actual if r else None), (r.expected if r else None)
        found.append(
            Driver(
                node=node_id,
                label=label,
                amount=float(share),
                actual=actual,
                reference=reference,
                unit=tree.nodes[node_id].unit_name,
            )
        )
    return found


def gaps(
    tree: Tree,
    result: StatusResult,
    lines: Mapping[str, NodeLine],
    lang: str,
    names: Mapping[str, str] | None = None,
) -> list[Gap]:
    """The nodes furthest behind their pace (the KGI first when it is behind),
    each with the teams and reps furthest behind on it."""
    key = result.periods[-1].key
    company = {r.node: r for r in result.rows if r.period == key and r.segment == ()}
    behind = [
        line
        for line in lines.values()
        if line.pace is not None and line.pace < 1.0 and line.status is not None
    ]
    behind.sort(key=lambda line: (line.node != tree.kgi, line.pace or 0.0))
    found = []
    for line in behind[:MAX_GAPS]:
        r = company[line.node]
        segment_rows = [
            s
            for s in result.rows
            if s.node == line.node and s.period == key and s.segment and s.pace is not None
        ]
        segment_lines = [_segment_line(tree, s, lang, names) for s in segment_rows]
        worst = sorted(
            (s for s in segment_lines if s.gap is not None and s.gap < 0),
            key=lambda s: s.gap or 0.0,
        )
        found.append(
            Gap(
                line=line,
                gap=_shortfall(tree, r) or 0.0,
                segments=worst[:MAX_SEGMENTS],
            )
        )
    return found


def bottleneck(tree: Tree, result: StatusResult, lang: str) -> BottleneckLine | None:
    b = result.bottleneck
    if b is None:
        return None
    node = tree.nodes[b.node]
    key = result.periods[-1].key
    target = next(
        (r.target for r in result.rows if r.node == b.node and r.period == key and not r.segment),
        None,
    )
    bench = node.benchmark
    return BottleneckLine(
        node=b.node,
        label=node.display(lang),
        actual=b.actual,
        reference=b.reference,
        basis=b.basis,
        ratio=b.ratio,
        impact=b.impact,
        sentence=describe_bottleneck(tree, b, lang),
        target=target,
        benchmark_low=bench.low if bench else None,
        benchmark_high=bench.high if bench else None,
        benchmark_source=bench.source if bench else None,
    )


def _stage_formula(tree: Tree, node_id: str) -> tuple[str, str] | None:
    """``(previous stage, rate)`` when the node is ``stage * rate`` (a count
    times a ratio), the shape of a funnel step."""
    node = tree.nodes[node_id]
    f = node.formula
    if node.unit_name != "count" or not isinstance(f, BinOp) or f.op != "*":
        return None
    if not (isinstance(f.left, Ref) and isinstance(f.right, Ref)):
        return None
    a, b = tree.nodes.get(f.left.name), tree.nodes.get(f.right.name)
    if a is None or b is None:
        return None
    if a.unit_name == "count" and b.unit_name == "ratio":
        return a.id, b.id
    if b.unit_name == "count" and a.unit_name == "ratio":
        return b.id, a.id
    return None


def funnel(tree: Tree, lines: Mapping[str, NodeLine]) -> list[FunnelStep]:
    """The longest chain of ``stage = previous stage × rate`` in the tree, top
    of the funnel first (leads → MQLs → opportunities → won deals)."""
    step_of = {n: s for n in tree.nodes if (s := _stage_formula(tree, n)) is not None}
    next_of = {prev: (n, rate) for n, (prev, rate) in step_of.items()}
    best: list[str] = []
    for start in {prev for prev, _ in step_of.values()} - set(step_of):
        chain = [start]
        while chain[-1] in next_of and len(chain) <= len(tree.nodes):
            chain.append(next_of[chain[-1]][0])
        if len(chain) > len(best):
            best = chain
    steps = []
    for stage in best:
        if stage not in lines:
            continue
        rate_id = next_of[stage][1] if stage in next_of else None
        rate = lines.get(rate_id) if rate_id else None
        bench = tree.nodes[rate_id].benchmark if rate_id else None
        steps.append(
            FunnelStep(
                stage=lines[stage],
                rate=rate,
                benchmark_low=bench.low if bench else None,
                benchmark_high=bench.high if bench else None,
            )
        )
    return steps


def _department_ids(tree: Tree) -> list[str]:
    owners = {n.owner for n in tree.nodes.values() if n.owner}
    ordered = [d for d in DEPARTMENTS if d in owners]
    ordered += [d for d in tree.organisation.departments if d in owners and d not in ordered]
    ordered += sorted(o for o in owners if o not in ordered)
    return ordered


def departments(
    tree: Tree,
    result: StatusResult,
    trend: StatusResult,
    lines: Mapping[str, NodeLine],
    lang: str,
    names: Mapping[str, str] | None = None,
) -> list[DepartmentSection]:
    """Per department: its KPIs, their trend over the last periods, and its
    teams and reps ranked by pace on its first KPI that has them."""
    key = result.periods[-1].key
    out = []
    for dept in _department_ids(tree):
        kpis = [line for line in lines.values() if line.owner == dept]
        series: dict[str, tuple[list[float | None], list[float | None]]] = {}
        for line in kpis:
            actual: list[float | None] = []
            target: list[float | None] = []
            for p in trend.periods:
                row = next(
                    (
                        r
                        for r in trend.rows
                        if r.node == line.node and r.period == p.key and not r.segment
                    ),
                    None,
                )
                actual.append(row.actual if row else None)
                target.append(row.target if row else None)
            series[line.node] = (actual, target)
        in_dept = [
            r
            for r in result.rows
            if r.period == key
            and r.segment
            and r.segment[0] == ("department", dept)
            and len(r.segment) > 1
            and r.pace is not None
        ]
        focus = None
        for prefer_additive in (True, False):
            for line in kpis:
                additive = tree.nodes[line.node].is_additive
                if additive == prefer_additive and any(r.node == line.node for r in in_dept):
                    focus = line.node
                    break
            if focus:
                break
        ranked = sorted(
            (_segment_line(tree, r, lang, names) for r in in_dept if r.node == focus),
            key=lambda s: -(s.pace or 0.0),
        )
        # Only a team or rep genuinely ahead is "doing well": on track against a
        # target (never one at 0%, without a target or without data), and only
        # one behind is "behind".
        best = [s for s in ranked if s.status == "on_track"][:MAX_SEGMENTS]
        worst = [s for s in reversed(ranked) if s.status in BEHIND][:MAX_SEGMENTS]
        out.append(
            DepartmentSection(
                id=dept,
                label=department_label(tree, dept, lang),
                kpis=kpis,
                trend=Trend(
                    [p.label(lang) for p in trend.periods],
                    [p.key for p in trend.periods],
                    series,
                ),
                focus=focus,
                best=best,
                worst=worst,
            )
        )
    return out
