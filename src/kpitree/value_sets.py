"""Value sets and what explains a change: the values of every node named by a
spec (``plan``, a scenario, a file, ``actual@2026-10`` ...), the inputs analysis
runs on, and :func:`explain` (sensitivity and attribution). The façade
(:meth:`kpitree.project.Project.values` and ``.explain``) delegates here."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.definition.tree import Tree
from kpitree.errors import Diagnostic, PlanError, Severity, Span, UserError
from kpitree.planning.attribution import Attribution, attribute
from kpitree.planning.sensitivity import Sensitivity, sensitivity

if TYPE_CHECKING:
    import datetime as dt

    from kpitree.project import Project

__all__ = ["Explanation", "explain", "value_set", "values_file"]


@dataclass
class Explanation:
    """Sensitivity at one set of values and, when two sets are given, the
    attribution of the KGI change between them."""

    at: str
    sensitivity: list[Sensitivity]
    attribution: Attribution | None = None
    compared: tuple[str, str] | None = None
    notes: list[Diagnostic] = field(default_factory=list)
    filled: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per value set from data, the inputs without data that took their plan
    value (expected-to-date for ``actual@``, the target for ``forecast@``)."""
    pace: bool = False
    """Whether the comparison is with the pace of a period still running
    (``expected@P``: the value expected by the as-of day)."""

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "at": self.at,
            "sensitivity": [s.to_json() for s in self.sensitivity],
            "attribution": None if self.attribution is None else self.attribution.to_json(),
            "compared": list(self.compared) if self.compared else None,
            "basis": "pace" if self.pace else None,
            "filled_from_plan": {spec: list(nodes) for spec, nodes in self.filled.items()},
            "diagnostics": [d.to_json(lang) for d in self.notes],
        }


# What a value set from data reads of a status row, and what an input without
# data falls back to.
_DATA_VALUES = {
    "actual": ("actual", "expected"),
    "target": ("target", "target"),
    "expected": ("expected", "expected"),
    "forecast": ("forecast", "target"),
    "previous": ("actual", "target"),
}
# Value sets that read what the data observed (not a plan value it carries).
_OBSERVED = ("actual", "forecast", "previous")


def value_set(
    project: Project,
    spec: str,
    *,
    fiscal_year: int | None = None,
    as_of: dt.date | None = None,
    measured: dict[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float], bool]:
    """:meth:`values`, the plan values its inputs fall back to when they have
    no data (for value sets from data), and whether the set is the pace of
    a period still running. ``measured``, when given, receives the values of
    the formula nodes the data measures (for a set from data)."""
    kind, at, when = spec.partition("@")
    if at and kind in _DATA_VALUES:
        period = project.period(when, as_of=as_of)
        if kind == "previous":
            period = period.previous()
        day = as_of or project.today()
        result = project.status(period, as_of=day, explain=False, compare=False)
        value_field, fallback_field = _DATA_VALUES[kind]
        company = result.select(period=period.key, level=())
        found = {
            r.node: float(getattr(r, value_field))
            for r in company
            if getattr(r, value_field) is not None and r.status != "no_data"
        }
        fallback = {
            r.node: float(getattr(r, fallback_field))
            for r in company
            if getattr(r, fallback_field) is not None
        }
        if measured is not None:
            # For analysis: a rate whose cohort is still open may still rise,
            # so it takes its plan value like an input without data.
            for r in company:
                if r.incomplete and r.node in project.tree.inputs and kind in _OBSERVED:
                    found.pop(r.node, None)
            measured.update(
                (r.node, found[r.node])
                for r in company
                if r.source == "measured"
                and r.node in found
                and project.tree.nodes[r.node].formula is not None
            )
        return found, fallback, kind == "expected" and not period.is_complete(day)
    if spec == "plan" or spec in project.tree.scenarios:
        plan = project.plan(fiscal_year=fiscal_year, scenario=None if spec == "plan" else spec)
        if not plan.ok:
            raise PlanError([d for d in plan.diagnostics if d.is_error])
        return plan.values(), {}, False
    path = Path(spec)
    if not path.exists():
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT305",
            "project.unknown_values",
            None,
            spec=spec,
            scenarios=", ".join(["plan", *project.tree.scenarios]),
            hint=did_you_mean(spec, ["plan", *project.tree.scenarios]),
        )
    return values_file(project.tree, path), {}, False


def values_file(tree: Tree, path: Path) -> dict[str, float]:
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except RecursionError:  # nested deeper than the parser can follow
            raise UserError.of(
                "KT001", "values.too_deep", Span(str(path), 1, 1), path=str(path)
            ) from None
        except json.JSONDecodeError as exc:
            raise UserError.of(
                "KT001",
                "values.bad_json",
                Span(str(path), exc.lineno, exc.colno),
                problem=exc.msg,
            ) from None
        doc_span = None
    else:
        from kpitree.source import load_yaml

        doc = load_yaml(path)
        data = doc.data
        doc_span = doc
    if isinstance(data, dict) and isinstance(data.get("nodes"), dict):
        data = data["nodes"]  # a plan --json output works as a values file
        data = {k: v.get("value") if isinstance(v, dict) else v for k, v in data.items()}
    if not isinstance(data, dict):
        raise UserError.of("KT306", "values.not_mapping", Span(str(path), 1, 1), path=str(path))
    errors = []
    values: dict[str, float] = {}
    for key, raw in data.items():
        span = doc_span.span((key,)) if doc_span is not None else Span(str(path), 1, 1)
        if key not in tree.nodes:
            from kpitree.source import did_you_mean

            errors.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT304",
                    "project.unknown_node",
                    {
                        "node": key,
                        "origin": str(path),
                        "hint": did_you_mean(key, list(tree.nodes)),
                    },
                    span,
                )
            )
        elif raw is None:
            continue
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            errors.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT012",
                    "def.expected_number",
                    {"key": key, "value": raw},
                    span,
                )
            )
        else:
            values[key] = float(raw)
    if errors:
        raise UserError(errors)
    return values


def _inputs(
    project: Project,
    spec: str,
    fiscal_year: int | None,
    as_of: dt.date | None,
    into: Explanation,
    measured: dict[str, float] | None = None,
) -> dict[str, float]:
    """Input values for analysis: given inputs, and inputs derived from given
    values of formula nodes are not accepted (inputs drive the tree). An
    input of a value set from data that has no data takes its plan value
    (recorded in ``into.filled``); ``measured`` receives the measured formula
    nodes of a set from data."""
    values, fallback, pace = value_set(
        project, spec, fiscal_year=fiscal_year, as_of=as_of, measured=measured
    )
    into.pace = into.pace or pace
    filled = [n for n in project.tree.inputs if n not in values and n in fallback]
    if filled:
        into.filled[spec] = tuple(filled)
        values = {**values, **{n: fallback[n] for n in filled}}
    missing = [n for n in project.tree.inputs if n not in values]
    if missing:
        raise UserError.of(
            "KT307", "explain.missing_inputs", None, spec=spec, nodes=", ".join(missing)
        )
    return {n: values[n] for n in project.tree.inputs}


def explain(
    project: Project,
    *,
    at: str = "plan",
    base: str | None = None,
    current: str | None = None,
    step: float = 0.10,
    fiscal_year: int | None = None,
    as_of: dt.date | None = None,
) -> Explanation:
    """Sensitivity of the KGI at ``at``; with ``base`` and ``current`` also the
    attribution of the KGI change between them. Value sets are named as in
    :meth:`values` (``plan``, a scenario, a file, ``actual@2026-10`` ...)."""
    if (base is None) != (current is None):
        raise UserError.of("KT308", "explain.need_both", None)
    result = Explanation(at, [])
    at_values = _inputs(project, at, fiscal_year, as_of, result)
    result.sensitivity = sensitivity(project.tree, at_values, step=step)
    if base is not None and current is not None:
        base_nodes: dict[str, float] = {}
        current_nodes: dict[str, float] = {}
        base_values = _inputs(project, base, fiscal_year, as_of, result, base_nodes)
        current_values = _inputs(project, current, fiscal_year, as_of, result, current_nodes)
        if current_nodes and not base_nodes:
            # Against a plan, a target or an expectation: a measured node's
            # reference is the value the tree computes from the reference's
            # inputs, so the measured change is still explained in full.
            base_nodes = _computed(project, base_values, current_nodes)
        if base_nodes and not current_nodes:
            current_nodes = _computed(project, current_values, base_nodes)
        result.attribution = attribute(
            project.tree,
            base_values,
            current_values,
            base_nodes=base_nodes,
            current_nodes=current_nodes,
        )
        result.compared = (base, current)
    return result


def _computed(
    project: Project, inputs: dict[str, float], nodes: dict[str, float]
) -> dict[str, float]:
    """The values the tree computes from ``inputs`` for the formula nodes of
    ``nodes`` (those it defines)."""
    from kpitree.planning.evaluate import evaluate_tree

    values = evaluate_tree(project.tree, inputs)
    return {n: float(values[n]) for n in nodes if isinstance(values.get(n), int | float)}
