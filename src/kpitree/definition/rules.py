"""Design checks. Each rule is a small class that *collects* problems; none stops
at the first. Error rules guard what the rest of kpitree relies on (references,
cycles, one KGI, units); warning rules carry the SMART and sizing guidance."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from kpitree.definition.draft import Draft, NodeDraft
from kpitree.definition.formula import FUNCTIONS, BinOp, Call, Expr, Neg, Num, Ref, refs
from kpitree.definition.funnel import check_funnel
from kpitree.definition.graph import MAX_TREE_DEPTH, cycles, formula_graph, too_deep
from kpitree.definition.units import Unit, UnitMismatch, unit
from kpitree.errors import Diagnostic, Severity
from kpitree.source import did_you_mean

__all__ = ["STANDARD_DEPARTMENTS", "Rule"]

STANDARD_DEPARTMENTS = ("marketing", "inside_sales", "field_sales", "customer_success")
_ID = re.compile(r"[^\W\d]\w*")
_PERIOD_KEY = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class Rule:
    code: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        raise NotImplementedError

    def emit(self, key: str, span: object, /, **params: object) -> Diagnostic:
        # Positional-only: some messages have a ``{key}`` field of their own.
        from kpitree.errors import Span

        return Diagnostic(
            self.severity, self.code, key, params, span if isinstance(span, Span) else None
        )


# --- errors ---------------------------------------------------------------------------


class NodeIdRule(Rule):
    code = "KT027"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.nodes.values():
            if not _ID.fullmatch(nd.id) or nd.id in FUNCTIONS:
                yield self.emit("def.bad_id", nd.key_span(), id=nd.id)


class UnknownReferenceRule(Rule):
    code = "KT021"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        known = list(draft.nodes)
        for nd in draft.nodes.values():
            if nd.formula is None:
                continue
            for ref in refs(nd.formula):
                if ref.name not in draft.nodes:
                    yield self.emit(
                        "def.unknown_reference",
                        nd.formula_pos_span(*ref.pos),
                        node=nd.id,
                        ref=ref.name,
                        hint=did_you_mean(ref.name, known),
                    )


class CycleRule(Rule):
    code = "KT022"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for cycle in cycles(formula_graph(draft)):
            nd = draft.nodes[cycle[0]]
            yield self.emit("def.cycle", nd.span("formula"), cycle=" → ".join(cycle))


class DepthRule(Rule):
    code = "KT041"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for node_id in too_deep(formula_graph(draft)):
            nd = draft.nodes[node_id]
            yield self.emit("def.too_deep", nd.span("formula"), node=node_id, limit=MAX_TREE_DEPTH)


def _declares_kgi(nd: NodeDraft) -> bool:
    """Whether an invalid node says ``kind: kgi``: it is the KGI with another error,
    and reporting "no KGI" on top would send the user the wrong way."""
    if nd.spec is not None:
        return False
    raw = nd.doc.data.get("nodes") if isinstance(nd.doc.data, dict) else None
    node = raw.get(nd.id) if isinstance(raw, dict) else None
    return isinstance(node, dict) and node.get("kind") == "kgi"


class SingleKgiRule(Rule):
    code = "KT023"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        kgis = [nd for nd in draft.valid_nodes.values() if nd.spec and nd.spec.kind == "kgi"]
        # No node at all (``nodes: {}``) has no KGI either; nodes that are all
        # invalid already say why, so "no KGI" on top would be noise.
        some = draft.valid_nodes or not draft.nodes
        if not kgis and some and not any(map(_declares_kgi, draft.nodes.values())):
            yield self.emit("def.no_kgi", draft.main.key_span(("nodes",)))
        for extra in kgis[1:]:
            yield self.emit(
                "def.many_kgi",
                extra.span("kind"),
                node=extra.id,
                first=kgis[0].id,
            )


def infer_unit(expr: Expr, units: dict[str, Unit | None]) -> Unit | None:
    """The unit of ``expr`` given node units, or ``None`` when a referenced node
    has no unit. Raises :class:`UnitMismatch` (with ``.pos`` set)."""
    match expr:
        case Num():
            return Unit()
        case Ref(name=name):
            return units.get(name)
        case Neg(operand=o):
            return infer_unit(o, units)
        case BinOp(op=op, left=a, right=b):
            left, right = infer_unit(a, units), infer_unit(b, units)
            if left is None or right is None:
                return None
            try:
                if op in "+-":
                    return left.add(right, op)
                return left.mul(right) if op == "*" else left.div(right)
            except UnitMismatch as exc:
                exc.pos = expr.pos  # type: ignore[attr-defined]
                raise
        case Call(func=func, args=args):
            inferred = [infer_unit(a, units) for a in args]
            if any(u is None for u in inferred):
                return None
            result = inferred[0]
            assert result is not None
            for other in inferred[1:]:
                assert other is not None
                try:
                    result = result.add(other, func)
                except UnitMismatch as exc:
                    exc.pos = expr.pos  # type: ignore[attr-defined]
                    raise
            return result
    return None  # pragma: no cover


class UnitRule(Rule):
    code = "KT024"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        units: dict[str, Unit | None] = {
            nd.id: unit(nd.spec.unit) if nd.spec and nd.spec.unit else None
            for nd in draft.nodes.values()
        }
        for nd in draft.valid_nodes.values():
            if nd.formula is None or any(r.name not in draft.nodes for r in refs(nd.formula)):
                continue
            try:
                inferred = infer_unit(nd.formula, units)
            except UnitMismatch as exc:
                start, end = getattr(exc, "pos", (0, 0))
                yield self.emit(
                    "def.unit_mismatch",
                    nd.formula_pos_span(start, end),
                    node=nd.id,
                    left=str(exc.left),
                    op=exc.op,
                    right=str(exc.right),
                )
                continue
            declared = units[nd.id]
            if inferred is not None and declared is not None and not declared.accepts(inferred):
                yield self.emit(
                    "def.unit_declared",
                    nd.span("formula"),
                    node=nd.id,
                    inferred=str(inferred),
                    declared=str(declared),
                )


class RatioRangeRule(Rule):
    code = "KT025"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            assert nd.spec is not None
            if nd.spec.unit != "ratio":
                continue
            for key in ("target", "assume"):
                value = getattr(nd.spec, key)
                values = value.items() if isinstance(value, dict) else [(None, value)]
                for period, v in values:
                    if v is not None and not 0 <= v <= 1:
                        path = (key,) if period is None else (key, period)
                        yield self.emit(
                            "def.ratio_range", nd.span(*path), node=nd.id, key=key, value=v
                        )
        for sc in draft.scenarios.values():
            for node_id, v in sc.spec.set.items():
                target = draft.nodes.get(node_id)
                if target and target.spec and target.spec.unit == "ratio" and not 0 <= v <= 1:
                    yield self.emit(
                        "def.ratio_range", sc.span("set", node_id), node=node_id, key="set", value=v
                    )


class MinVolumeRule(Rule):
    """``min_volume`` guards rates and averages; a count never waits for volume."""

    code = "KT545"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            assert nd.spec is not None
            if nd.spec.min_volume is None:
                continue
            if nd.spec.unit == "count" or nd.spec.aggregation == "sum":
                yield self.emit("def.min_volume_on_sum", nd.span("min_volume"), node=nd.id)


class ReferenceRangeRule(Rule):
    code = "KT546"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            assert nd.spec is not None
            bench = nd.spec.benchmark
            low = None if bench is None else bench.min
            high = None if bench is None else bench.max
            if low is not None and high is not None and low > high:
                yield self.emit(
                    "def.reference_order", nd.span("benchmark"), node=nd.id, low=low, high=high
                )


class TargetPeriodRule(Rule):
    code = "KT028"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for nd in draft.valid_nodes.values():
            assert nd.spec is not None
            if isinstance(nd.spec.target, dict):
                for key in nd.spec.target:
                    if key != "monthly" and not _PERIOD_KEY.fullmatch(key):
                        yield self.emit(
                            "def.bad_period_key",
                            nd.doc.key_span((*nd.path, "target", key)),
                            node=nd.id,
                            key=key,
                        )


class CapacityRule(Rule):
    code = "KT452"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        if draft.head is None:
            return
        for dept_id, dept in draft.head.organisation.items():
            cap = dept.capacity
            if cap is None:
                continue
            path = ("organisation", dept_id, "capacity")
            if cap.node not in draft.nodes:
                yield self.emit(
                    "def.capacity_unknown_node",
                    draft.main.span((*path, "node")),
                    department=dept_id,
                    node=cap.node,
                    hint=did_you_mean(cap.node, list(draft.nodes)),
                )
            if cap.min is not None and cap.min > cap.max:
                yield self.emit(
                    "def.capacity_range", draft.main.span((*path, "min")), department=dept_id
                )


class ScenarioRule(Rule):
    code = "KT031"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        for sc in draft.scenarios.values():
            for node_id in sc.spec.set:
                if node_id not in draft.nodes:
                    yield self.emit(
                        "def.scenario_unknown",
                        sc.doc.key_span(("scenarios", sc.id, "set", node_id)),
                        scenario=sc.id,
                        node=node_id,
                        hint=did_you_mean(node_id, list(draft.nodes)),
                    )


class SharesRule(Rule):
    code = "KT030"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        if draft.head is None:
            return
        for dept_id, dept in draft.head.organisation.items():
            if dept.teams:
                total = sum(t.share for t in dept.teams.values())
                if abs(total - 1) > 1e-9:
                    yield self.emit(
                        "def.shares_sum",
                        draft.main.span(("organisation", dept_id, "teams")),
                        where=dept_id,
                        total=round(total, 6),
                    )
            for team_id, team in dept.teams.items():
                if team.reps:
                    total = sum(team.reps.values())
                    if abs(total - 1) > 1e-9:
                        yield self.emit(
                            "def.shares_sum",
                            draft.main.span(("organisation", dept_id, "teams", team_id, "reps")),
                            where=f"{dept_id}/{team_id}",
                            total=round(total, 6),
                        )


class FunnelRule(Rule):
    code = "KT560"

    def check(self, draft: Draft) -> Iterator[Diagnostic]:
        yield from check_funnel(draft)
