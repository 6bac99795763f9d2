"""From a checked :class:`Draft` to the frozen :class:`Tree`."""

from __future__ import annotations

from dataclasses import dataclass

from kpitree.definition.alerting_checks import check_alerting
from kpitree.definition.design import run_rules
from kpitree.definition.draft import Draft, read_draft
from kpitree.definition.formula import BinOp, Call, Expr, Neg, Num, Ref
from kpitree.definition.record_links import source_record_links
from kpitree.definition.spec import LocalizedText, NodeSpec
from kpitree.definition.spec_abm import check_abm
from kpitree.definition.spec_links import check_link_keys
from kpitree.definition.spec_metrics import DEFAULT_MIN_VOLUME
from kpitree.definition.spec_scorecards import ScorecardsSpec, check_scorecards
from kpitree.definition.tree import (
    Benchmark,
    Capacity,
    Department,
    Label,
    MetricDef,
    Node,
    Organisation,
    Pacing,
    PlanSettings,
    Scenario,
    Target,
    Team,
    Tree,
)
from kpitree.definition.units import unit
from kpitree.errors import DefinitionError, Diagnostic, Severity, Span

__all__ = ["CheckResult", "check_definition", "load_tree"]

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of reading and checking a definition: the tree when there
    are no errors, and every diagnostic found."""

    tree: Tree | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)

    @property
    def ok(self) -> bool:
        return not self.errors


def _label(text: str | LocalizedText | None, fallback: str | None = None) -> Label:
    if text is None:
        return Label(None, fallback) if fallback else Label(None, None)
    if isinstance(text, str):
        return Label(text, text)
    return Label(text.ja, text.en)


def _topological(draft: Draft) -> tuple[str, ...]:
    order: list[str] = []
    done: set[str] = set()

    def visit(node_id: str) -> None:
        # Iterative DFS: trees can be deep; cycles were rejected before.
        stack: list[tuple[str, list[str]]] = [(node_id, list(_children(draft, node_id)))]
        while stack:
            current, pending = stack[-1]
            if current in done:
                stack.pop()
                continue
            if pending:
                child = pending.pop(0)
                if child not in done:
                    stack.append((child, list(_children(draft, child))))
                continue
            stack.pop()
            done.add(current)
            order.append(current)

    for node_id in draft.nodes:
        visit(node_id)
    return tuple(order)


def _children(draft: Draft, node_id: str) -> list[str]:
    nd = draft.nodes[node_id]
    if nd.formula is None:
        return []
    from kpitree.definition.formula import refs

    return list(dict.fromkeys(r.name for r in refs(nd.formula)))


def _infer_aggregation(draft: Draft, order: tuple[str, ...]) -> dict[str, str]:
    """Whether each node adds up over time (``sum``) or not (``average``).

    Declared values win. Inputs: counts add up; ratios, durations, scores and
    plain numbers do not; a currency input is an average when the tree
    multiplies it by something that adds up (deals × average deal size), and
    adds up otherwise (budget × share). Formula nodes follow their formula.
    """
    specs: dict[str, NodeSpec] = {k: nd.spec for k, nd in draft.nodes.items() if nd.spec}
    flow: dict[str, bool | None] = {}
    for node_id, spec in specs.items():
        if spec.aggregation is not None:
            flow[node_id] = spec.aggregation == "sum"
        elif draft.nodes[node_id].formula is None:
            flow[node_id] = {"count": True, "currency": None}.get(spec.unit or "", False)

    def is_flow(expr: Expr) -> bool | None:
        match expr:
            case Num():
                return False
            case Ref(name=name):
                return flow.get(name)
            case Neg(operand=o):
                return is_flow(o)
            case BinOp(op=op, left=a, right=b):
                fa, fb = is_flow(a), is_flow(b)
                if op == "*":
                    for side, other in ((a, fb), (b, fa)):
                        if (
                            isinstance(side, Ref)
                            and flow.get(side.name) is None
                            and other is not None
                        ):
                            flow[side.name] = not other
                    fa, fb = is_flow(a), is_flow(b)
                    return None if fa is None or fb is None else fa or fb
                if op == "/":
                    if isinstance(b, Ref) and flow.get(b.name) is None and fa is not None:
                        flow[b.name] = False  # revenue / price = deals
                    fa, fb = is_flow(a), is_flow(b)
                    return None if fa is None or fb is None else fa and not fb
                return None if fa is None and fb is None else bool(fa or fb)
            case Call(args=args):
                return any(bool(is_flow(x)) for x in args)
        return None  # pragma: no cover

    # Two passes: a currency input decided by a parent's formula changes the
    # ancestors evaluated before that decision.
    for _ in range(2):
        for node_id in order:
            nd = draft.nodes[node_id]
            if nd.formula is not None and node_id in specs and specs[node_id].aggregation is None:
                flow[node_id] = is_flow(nd.formula)
    return {k: "sum" if flow.get(k, True) is not False else "average" for k in specs}


def _target(spec: NodeSpec) -> Target | None:
    if spec.target is None:
        return None
    if isinstance(spec.target, dict):
        per = {k: float(v) for k, v in spec.target.items() if k != "monthly"}
        monthly = spec.target.get("monthly")
        return Target(None, per, float(monthly) if monthly is not None else None)
    return Target(float(spec.target))


def _metric_spans(draft: Draft, metric_id: str) -> dict[str, Span]:
    """Spans of a metric's keys by YAML name, and of ``where.<column>``."""
    doc = draft.main
    raw = doc.data.get("metrics", {}).get(metric_id) if isinstance(doc.data, dict) else None
    spans: dict[str, Span] = {}
    for key in raw if isinstance(raw, dict) else {}:
        spans[key] = doc.span(("metrics", metric_id, key))
    where = raw.get("where") if isinstance(raw, dict) else None
    for column in where if isinstance(where, dict) else {}:
        spans[f"where.{column}"] = doc.key_span(("metrics", metric_id, "where", column))
    return spans


def _resolve(draft: Draft) -> Tree:
    head = draft.head
    assert head is not None
    order = _topological(draft)
    aggregation = _infer_aggregation(draft, order)
    nodes: dict[str, Node] = {}
    for node_id, nd in draft.nodes.items():
        spec = nd.spec
        assert spec is not None
        nodes[node_id] = Node(
            id=node_id,
            label=_label(spec.label, node_id),
            kind=spec.kind,
            unit_name=spec.unit,
            unit=unit(spec.unit) if spec.unit else None,
            aggregation=aggregation[node_id],
            owner=spec.owner,
            description=_label(spec.description) if spec.description else None,
            indicator=spec.indicator,
            direction=spec.direction,
            formula=nd.formula,
            formula_text=spec.formula,
            drivers=tuple(spec.drivers),
            target=_target(spec),
            assume=spec.assume,
            benchmark=Benchmark(spec.benchmark.min, spec.benchmark.max, spec.benchmark.source)
            if spec.benchmark
            else None,
            metric=spec.metric,
            period=spec.period or head.period,
            span=nd.key_span(),
            min_volume=spec.min_volume,
        )
    kgi = next(n.id for n in nodes.values() if n.kind == "kgi")
    departments = {
        dept_id: Department(
            dept_id,
            _label(dept.label, dept_id),
            tuple(
                Team(team_id, _label(team.label, team_id), team.share, dict(team.reps))
                for team_id, team in dept.teams.items()
            ),
            None
            if dept.capacity is None
            else Capacity(dept.capacity.node, dept.capacity.max, dept.capacity.min),
        )
        for dept_id, dept in head.organisation.items()
    }
    weights = None
    if head.plan.weights:
        weights = {int(k.split("-")[-1]): float(v) for k, v in head.plan.weights.items()}
    return Tree(
        name=head.name,
        nodes=nodes,
        kgi=kgi,
        order=order,
        fiscal_year_start=head.fiscal_year_start,
        fiscal_year=head.fiscal_year,
        currency=head.currency,
        timezone=head.timezone,
        amounts=head.display.amounts,
        plan=PlanSettings(
            head.plan.allocation, weights, head.plan.holidays, tuple(head.plan.closed_days)
        ),
        organisation=Organisation(departments),
        scenarios={
            sid: Scenario(sid, _label(sc.spec.label, sid), dict(sc.spec.set))
            for sid, sc in draft.scenarios.items()
        },
        root=draft.root,
        data_sources=tuple((s.file, s.mapping, s.sheet) for s in head.data.sources),
        warehouse=head.data.warehouse,
        landed=head.data.landed,
        quality=head.data.quality,
        metrics={
            mid: MetricDef(
                mid,
                spec,
                draft.main.key_span(("metrics", mid)),
                _metric_spans(draft, mid),
            )
            for mid, spec in head.metrics.items()
        },
        pacing=Pacing(
            head.pacing.on_track,
            head.pacing.at_risk,
            head.pacing.basis,
            {**DEFAULT_MIN_VOLUME, **{str(k): v for k, v in head.pacing.min_volume.items()}},
        ),
        funnel=tuple(head.funnel or ()),
        target_files=tuple(head.data.targets),
        record_links={
            **source_record_links(draft.sources),
            **{str(k): v for k, v in head.data.record_links.items()},
        },
        alerts=dict(head.alerts),
        notifications=head.notifications,
        sla=dict(head.sla),
        web=head.web,
        abm=head.abm,
        scorecards=head.scorecards or ScorecardsSpec(),
    )


def check_definition(path: str) -> CheckResult:
    """Read and check the definition at ``path``; all problems at once."""
    draft = read_draft(path)
    draft.diagnostics.extend(run_rules(draft))
    draft.diagnostics.extend(check_alerting(draft))
    draft.diagnostics.extend(check_link_keys(draft))
    draft.diagnostics.extend(check_abm(draft))
    draft.diagnostics.extend(check_scorecards(draft))
    ignored = set(draft.head.checks.ignore) if draft.head else set()
    diagnostics = [d for d in draft.diagnostics if d.is_error or d.code not in ignored]
    diagnostics.sort(
        key=lambda d: (
            _SEVERITY_ORDER[d.severity],
            d.span.file or "" if d.span else "",
            d.span.line if d.span else 0,
            d.span.column if d.span else 0,
        )
    )
    has_errors = any(d.is_error for d in diagnostics)
    tree = None if has_errors or draft.head is None else _resolve(draft)
    return CheckResult(tree, tuple(diagnostics))


def load_tree(path: str) -> Tree:
    """The checked tree at ``path``; raises :class:`DefinitionError` with every
    error when there is any."""
    result = check_definition(path)
    if result.tree is None:
        raise DefinitionError(result.errors)
    return result.tree
