"""The metric catalogue of a project: the built-in library merged with the
project's own ``metrics:``, resolved and checked.

Checks collect every problem with its place in kpitree.yaml (like the tree's
own checks), so ``kpitree check`` reports a misspelt column or stage together
with everything else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kpitree.compute.account_columns import ACCOUNT_COLUMNS, account_key
from kpitree.compute.entities import ENTITIES, Entity
from kpitree.data.schema import CANONICAL_STAGES
from kpitree.definition.formula import BinOp, Expr, FormulaSyntaxError, Ref, parse, refs
from kpitree.definition.spec_metrics import MetricSpec
from kpitree.definition.tree import Label, Tree
from kpitree.errors import Diagnostic, Severity, Span
from kpitree.source import did_you_mean

__all__ = ["FILTER_OPS", "Catalogue", "Metric", "builtin_specs", "catalogue"]

FILTER_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_null")
_AGGREGATES = ("count", "count_distinct", "sum", "average", "median", "min", "max")
_NEEDS_MEASURE = ("count_distinct", "sum", "average", "median", "min", "max")
_COMPOSITE = ("ratio", "derived")


@dataclass(frozen=True)
class Metric:
    """A resolved metric. ``expr`` is set for ratio and derived metrics (over
    other metric ids); the others read an entity."""

    id: str
    spec: MetricSpec
    label: Label
    builtin: bool
    expr: Expr | None = None
    span: Span | None = None
    sla_rule: Any = None  # compute.sla.SlaRule of an sla_* metric

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def entity(self) -> Entity | None:
        """The entity counted, crediting its facts as the metric's ``credit`` says."""
        found = ENTITIES.get(self.spec.entity or "")
        return None if found is None else found.credited(self.spec.credit)

    @property
    def uses(self) -> tuple[str, ...]:
        """Metric ids a ratio or derived metric is computed from."""
        if self.expr is None:
            return ()
        return tuple(dict.fromkeys(r.name for r in refs(self.expr)))

    @property
    def additive(self) -> bool:
        """Whether values of disjoint segments add up (counts and sums)."""
        return self.type in ("count", "sum")

    def display(self, lang: str) -> str:
        return self.label.text(lang, self.id)


@dataclass(frozen=True)
class Catalogue:
    """The resolved metrics, built-in and the project's, with what checking them found."""

    metrics: Mapping[str, Metric]
    diagnostics: tuple[Diagnostic, ...]

    def __getitem__(self, metric_id: str) -> Metric:
        return self.metrics[metric_id]

    def __contains__(self, metric_id: object) -> bool:
        return metric_id in self.metrics

    def closure(self, ids: list[str]) -> list[str]:
        """``ids`` and every metric they are computed from, dependencies first."""
        out: dict[str, None] = {}
        for start in ids:  # depth-first, iterative: chains of metrics can be long
            stack: list[tuple[str, Iterator[str]]] = []
            if start not in out and start in self.metrics:
                stack.append((start, iter(self.metrics[start].uses)))
            while stack:
                mid, deps = stack[-1]
                dep = next(deps, None)
                if dep is None:
                    stack.pop()
                    out[mid] = None
                elif dep not in out and dep in self.metrics and all(dep != m for m, _ in stack):
                    stack.append((dep, iter(self.metrics[dep].uses)))
        return list(out)


def library_data(text: str) -> dict[str, Any]:
    """The metrics of ``library.yaml``'s ``text``, as its YAML reads."""
    import yaml

    # libyaml's loader when the wheel has it: the pure-Python one costs a tenth
    # of a second on every command that computes.
    raw: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return raw


def library_digest(text: str) -> str:
    """The digest of ``library.yaml``'s text that ``library.json`` was written from."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def specs_code() -> str:
    """The digest of what makes the validated metrics that ``library.json``
    keeps: the metric models' code and pydantic's version."""
    import hashlib
    from pathlib import Path

    import pydantic

    from kpitree.definition import spec_metrics

    digest = hashlib.sha256(Path(spec_metrics.__file__).read_bytes())
    digest.update(pydantic.VERSION.encode("utf-8"))
    return digest.hexdigest()


@cache
def builtin_specs() -> dict[str, MetricSpec]:
    """The built-in library (``compute/library.yaml``), read from its JSON twin
    ``library.json`` (written by ``scripts/gen_metric_docs.py``) while that was
    written from this very YAML: importing and running a YAML parser costs
    every command more than the rest of reading the library. The twin also
    keeps the metrics as validated (:func:`kpitree.definition.kept.plain`),
    used while the models and pydantic are those that validated them:
    building the models' validator and validating costs more than reading."""
    import json

    folder = resources.files("kpitree.compute")
    text = folder.joinpath("library.yaml").read_text("utf-8")
    raw: dict[str, Any] | None = None
    try:
        twin = json.loads(folder.joinpath("library.json").read_text("utf-8"))
        if twin.get("library_yaml_sha256") == library_digest(text):
            raw = twin["metrics"]
            if twin.get("specs_code") == specs_code():
                from kpitree.definition.kept import from_plain

                specs = from_plain(twin["specs"])
                if isinstance(specs, dict) and all(
                    isinstance(k, str) and type(v) is MetricSpec for k, v in specs.items()
                ):
                    return specs
    except (OSError, ValueError, AttributeError, KeyError, TypeError, ImportError):
        pass
    if raw is None:
        raw = library_data(text)
    return {k: MetricSpec.model_validate(v) for k, v in raw.items()}


def _label(spec: MetricSpec, metric_id: str) -> Label:
    if spec.label is None:
        return Label(None, metric_id)
    if isinstance(spec.label, str):
        return Label(spec.label, spec.label)
    return Label(spec.label.ja, spec.label.en)


class _Checker:
    def __init__(self, specs: Mapping[str, tuple[MetricSpec, bool, Span | None]], tree: Tree):
        self.specs = specs
        self.tree = tree
        self.diagnostics: list[Diagnostic] = []

    def span(self, metric_id: str, key: str | None = None) -> Span | None:
        _, builtin, span = self.specs[metric_id]
        if builtin:
            return None
        mdef = self.tree.metrics.get(metric_id)
        if mdef is not None and key is not None:
            return mdef.spans.get(key, span)
        return span

    def error(self, code: str, key: str, span: Span | None, /, **params: Any) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, key, params, span))

    def column(self, mid: str, ent: Entity, column: str | None, key: str) -> None:
        if column is None or column in ent.columns():
            return
        if column in ACCOUNT_COLUMNS and account_key(ent) is not None:
            return  # added from abm: (kpitree.compute.account_columns)
        self.error(
            "KT522",
            "compute.metric.unknown_column",
            self.span(mid, key),
            metric=mid,
            column=column,
            entity=ent.name,
            hint=did_you_mean(column, ent.columns()),
        )

    def event(self, mid: str, ent: Entity, event: str | None, key: str) -> None:
        if event is None:
            return
        # Plain stage names must be canonical ones, so that a misspelt column
        # is not silently read as a custom stage nobody entered.
        ok = (
            (event in ent.columns() and event.endswith(("_at", "_date")))
            or event in ent.closes
            or (
                ent.stages is not None
                and (event.startswith("stage:") or event in CANONICAL_STAGES)
                and event != "stage:"
            )
            or (key == "to" and event == "first_activity" and ent.name in ("leads", "deals"))
        )
        if not ok:
            self.error(
                "KT524",
                "compute.metric.unknown_event",
                self.span(mid, key),
                metric=mid,
                event=event,
                entity=ent.name,
                events=", ".join(ent.events()),
            )

    def required(self, mid: str, spec: MetricSpec, *fields: str) -> bool:
        missing = [f for f in fields if getattr(spec, "from_" if f == "from" else f) is None]
        for f in missing:
            self.error(
                "KT523",
                "compute.metric.missing",
                self.span(mid),
                metric=mid,
                type=spec.type,
                field=f,
            )
        return not missing

    def filters(self, mid: str, ent: Entity, spec: MetricSpec) -> None:
        for column, value in spec.where.items():
            self.column(mid, ent, column, f"where.{column}")
            if isinstance(value, dict):
                for op in value:
                    if op not in FILTER_OPS:
                        self.error(
                            "KT526",
                            "compute.metric.bad_filter",
                            self.span(mid, f"where.{column}"),
                            metric=mid,
                            op=op,
                            ops=", ".join(FILTER_OPS),
                        )

    def credit(self, mid: str, ent: Entity | None, spec: MetricSpec) -> None:
        """``credit``: owner, lead_owner (entities linked to a lead) or a column
        of the entity (``attributes.<key>`` inside its JSON column)."""
        credit = spec.credit
        if credit is None or credit == "owner":
            return
        span = self.span(mid, "credit")
        if ent is None:
            self.error("KT561", "compute.metric.credit_composite", span, metric=mid)
            return
        if credit == "lead_owner":
            if ent.lead_column is None and ent.name != "leads":
                self.error(
                    "KT561", "compute.metric.credit_no_lead", span, metric=mid, entity=ent.name
                )
            return
        column, _, key = credit.partition(".")
        columns = [c for c in ent.columns() if c != "attributes"]
        ok = (column == "attributes" and key != "" and "attributes" in ent.columns()) or (
            not key and column in columns
        )
        if not ok:
            self.error(
                "KT561",
                "compute.metric.credit_unknown",
                span,
                metric=mid,
                credit=credit,
                entity=ent.name,
                hint=did_you_mean(credit, ["owner", "lead_owner", *columns]),
            )

    def check(self, mid: str, spec: MetricSpec) -> Metric:
        builtin = self.specs[mid][1]
        expr: Expr | None = None
        if spec.type.startswith("sla_"):
            from kpitree.compute.sla import check_sla_metric

            return check_sla_metric(self, mid, spec, _label(spec, mid))
        if spec.type in _COMPOSITE:
            if spec.type == "ratio" and self.required(mid, spec, "numerator", "denominator"):
                assert spec.numerator and spec.denominator
                expr = BinOp("/", Ref(spec.numerator), Ref(spec.denominator))
            elif spec.type == "derived" and self.required(mid, spec, "expr"):
                assert spec.expr is not None
                try:
                    expr = parse(spec.expr)
                except FormulaSyntaxError as exc:
                    self.error(
                        "KT525",
                        exc.key,
                        self.span(mid, "expr"),
                        node=mid,
                        **exc.params,
                    )
            self.credit(mid, None, spec)
            for ref in refs(expr) if expr is not None else ():
                if ref.name not in self.specs:
                    self.error(
                        "KT525",
                        "compute.metric.unknown_metric",
                        self.span(mid, "expr" if spec.type == "derived" else "numerator"),
                        metric=mid,
                        name=ref.name,
                        hint=did_you_mean(ref.name, self.specs),
                    )
        else:
            ent = ENTITIES.get(spec.entity or "")
            if ent is None:
                self.error(
                    "KT521",
                    "compute.metric.unknown_entity",
                    self.span(mid, "entity"),
                    metric=mid,
                    entity=spec.entity or "",
                    entities=", ".join(ENTITIES),
                    hint=did_you_mean(spec.entity or "", ENTITIES),
                )
            else:
                self.credit(mid, ent, spec)
                if spec.type in _NEEDS_MEASURE and self.required(mid, spec, "measure"):
                    self.column(mid, ent, spec.measure, "measure")
                self.filters(mid, ent, spec)
                if spec.type in _AGGREGATES:
                    self.event(mid, ent, spec.time, "time")
                    if spec.snapshot:
                        self.column(mid, ent, spec.closed_by, "closed_by")
                else:
                    needed = ["from", "to"]
                    if spec.type == "conversion" and spec.mode == "cohort":
                        needed.append("window_days")
                    if self.required(mid, spec, *needed):
                        self.event(mid, ent, spec.from_, "from")
                        self.event(mid, ent, spec.to, "to")
        rng = spec.reference
        if rng is not None and rng.min is not None and rng.max is not None and rng.min > rng.max:
            self.error(
                "KT546",
                "compute.metric.reference_order",
                self.span(mid, "reference"),
                metric=mid,
                low=rng.min,
                high=rng.max,
            )
        return Metric(mid, spec, _label(spec, mid), builtin, expr, self.span(mid))

    def cycles(self, metrics: dict[str, Metric]) -> None:
        """Metrics defined in terms of themselves, and chains of metrics deeper
        than the tree's own limit (both walks iterative)."""
        from kpitree.definition.graph import MAX_TREE_DEPTH, cycles, too_deep

        graph = {mid: [d for d in m.uses if d in metrics] for mid, m in metrics.items()}
        for cycle in cycles(graph):
            mid = cycle[0]
            self.error(
                "KT525",
                "compute.metric.cycle",
                self.span(mid),
                metric=mid,
                cycle=" -> ".join(cycle),
            )
        for mid in too_deep(graph):
            self.error(
                "KT525", "compute.metric.too_deep", self.span(mid), metric=mid, limit=MAX_TREE_DEPTH
            )


def catalogue(tree: Tree) -> Catalogue:
    """Built-in and project metrics, resolved; unknown names on nodes reported."""
    specs: dict[str, tuple[MetricSpec, bool, Span | None]] = {
        k: (v, True, None) for k, v in builtin_specs().items()
    }
    for mid, mdef in tree.metrics.items():
        specs[mid] = (mdef.spec, False, mdef.span)
    checker = _Checker(specs, tree)
    metrics = {mid: checker.check(mid, spec) for mid, (spec, _, _) in specs.items()}
    checker.cycles(metrics)
    for node in tree.nodes.values():
        if node.metric is not None and node.metric not in metrics:
            checker.error(
                "KT520",
                "compute.metric.unknown_on_node",
                node.span,
                node=node.id,
                metric=node.metric,
                hint=did_you_mean(node.metric, metrics),
            )
    return Catalogue(metrics, tuple(checker.diagnostics))
