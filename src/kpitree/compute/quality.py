"""The data-quality check in front of every number (``kpitree data check``).

Each rule of :mod:`kpitree.compute.quality_rules` is asked of every table it
looks at; a table where it finds records gives a :class:`Finding`: the rule,
its code and level, how many records, a few of their ids, and the metrics and
nodes that read the table (so a user knows which numbers to distrust). The
freshness of every table with data, per source that fed it, is measured by
:mod:`kpitree.compute.quality_freshness`.
Thresholds and levels come from ``data.quality`` in ``kpitree.yaml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from kpitree.compute.links import LINKED_STAGES
from kpitree.compute.quality_freshness import (
    STALE,
    Freshness,
    check_thresholds,
    measure_freshness,
    rule_key,
    stale_findings,
)
from kpitree.compute.quality_rules import RULES, RuleContext
from kpitree.data.schema import CANONICAL_STAGES

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.metrics import Catalogue, Metric
    from kpitree.definition.spec import QualitySpec
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine
    from kpitree.errors import Diagnostic

__all__ = [
    "LEVELS",
    "STALE",
    "Finding",
    "Freshness",
    "QualityReport",
    "check_failures",
    "check_quality",
    "rule_key",
]

LEVELS = ("error", "warning")
# Rules about cross-source links: they touch the lead conversions deals give.
_LINK_RULES = frozenset({"ambiguous_link", "unlinked_deal", "duplicate_across_sources"})
# A stage history an ELT tool's landed tables cannot give (engine.landed_gaps).
MISSING_HISTORY = ("history_missing", "KT572", "warning")


@dataclass(frozen=True)
class Finding:
    rule: str
    code: str
    level: str  # error | warning
    table: str
    count: int  # records found (stale_source: the table's rows)
    examples: tuple[str, ...]  # the first ids, in order
    metrics: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "code": self.code,
            "level": self.level,
            "table": self.table,
            "count": self.count,
            "examples": list(self.examples),
            "metrics": list(self.metrics),
            "nodes": list(self.nodes),
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True)
class QualityReport:
    as_of: dt.date
    findings: tuple[Finding, ...]
    freshness: tuple[Freshness, ...]

    def count(self, level: str) -> int:
        return sum(1 for f in self.findings if f.level == level)

    @property
    def status(self) -> str:
        """``error``, ``warning`` or ``ok``: the worst level found."""
        for level in LEVELS:
            if self.count(level):
                return level
        return "ok"

    def fails(self, fail_on: str) -> bool:
        """Whether a finding is at ``fail_on`` level or worse."""
        worse = LEVELS[: LEVELS.index(fail_on) + 1]
        return any(f.level in worse for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "findings": [f.to_json() for f in self.findings],
            "freshness": [f.to_json() for f in self.freshness],
        }


def _stage_event(event: str | None) -> bool:
    return event is not None and (event.startswith("stage:") or event in CANONICAL_STAGES)


def _reads(metric: Metric, table: str, rule: str) -> bool:
    """Whether ``metric`` reads the rows of ``table`` that ``rule`` is about."""
    ent = metric.entity
    if ent is None or metric.sla_rule is not None:
        return False
    spec = metric.spec
    if rule in _LINK_RULES and ent.name == "leads":
        # A lead's opportunity and won stages may come from its linked deals.
        events = (spec.time, spec.from_, spec.to)
        if any(e and e.removeprefix("stage:") in LINKED_STAGES for e in events):
            return True
    if table == ent.stages:
        return any(_stage_event(e) for e in (spec.time, spec.from_, spec.to))
    if table != ent.table:
        return False
    if rule == "deal_without_amount":
        return spec.measure == "amount"
    return True


def touched(catalogue: Catalogue, tree: Tree, table: str, rule: str) -> tuple[list[str], list[str]]:
    """The metrics that read ``table`` (as ``rule`` concerns it) and those
    computed from them, and the nodes measuring any of them (in tree order)."""
    found = {mid for mid, m in catalogue.metrics.items() if _reads(m, table, rule)}
    grew = True
    while grew:
        more = {
            mid
            for mid, m in catalogue.metrics.items()
            if mid not in found and any(u in found for u in m.uses)
        }
        found |= more
        grew = bool(more)
    nodes = [nid for nid in tree.order if tree.nodes[nid].metric in found]
    return sorted(found), nodes


# Engines that inline a table expression read twice in one query; DuckDB and
# PostgreSQL keep it whole (every column of the table, in memory) instead.
_INLINED = frozenset({"pyspark", "clickhouse"})


def _counted(
    engine: Engine, parts: list[ir.Table], examples: int
) -> list[tuple[int, tuple[str, ...]]]:
    """For each table of ids: how many, and the first ``examples`` of them
    (sorted). One query for all of them where the database inlines the tables
    several rules read; elsewhere one query per table of ids, so each reads
    only the columns it needs, and a result holding for the data is used again
    (:mod:`kpitree.compute.quality_kept`)."""
    from kpitree.compute.quality_kept import kept_count

    if engine.name in _INLINED:
        return _counted_together(engine, parts, examples)
    return [kept_count(engine, ids, partial(_counted_one, engine, ids, examples)) for ids in parts]


def _counted_one(engine: Engine, ids: ir.Table, examples: int) -> tuple[int, tuple[str, ...]]:
    return _counted_together(engine, [ids], examples)[0]


def _counted_together(
    engine: Engine, parts: list[ir.Table], examples: int
) -> list[tuple[int, tuple[str, ...]]]:
    """:func:`_counted` of ``parts`` in one query."""
    import ibis

    if not parts:
        return []
    tagged = [ids.select(__k=ibis.literal(i), id=ids.id) for i, ids in enumerate(parts)]
    union = ibis.union(*tagged) if len(tagged) > 1 else tagged[0]
    numbered = union.mutate(
        __n=ibis.row_number().over(group_by=union.__k, order_by=union.id),
        __total=union.id.count().over(group_by=union.__k),
    )
    first = numbered.filter(numbered.__n < max(examples, 1))  # row_number counts from 0
    rows = engine.execute(first.order_by([first.__k, first.id])).to_pylist()
    out: list[tuple[int, list[str]]] = [(0, []) for _ in parts]
    for row in rows:
        k = int(row["__k"])
        out[k] = (int(row["__total"]), [*out[k][1], str(row["id"])])
    return [(n, tuple(ids[:examples])) for n, ids in out]


def check_quality(
    engine: Engine, catalogue: Catalogue, tree: Tree, as_of: dt.date
) -> QualityReport:
    """Every rule on every table it looks at, and every table's freshness."""
    from kpitree.compute.quality_rules import DEFAULT_ORDER

    spec = tree.quality
    order: dict[str, tuple[str, ...]] = dict(DEFAULT_ORDER)
    order.update((k, tuple(v)) for k, v in spec.stage_order.items())
    ctx = RuleContext(engine, as_of, order)
    asked: list[tuple[str, str, str, str]] = []  # rule, code, level, table
    parts: list[ir.Table] = []
    for rule in RULES:
        level = spec.levels.get(rule.name, rule.level)  # type: ignore[call-overload]
        if level == "off":
            continue
        for table, ids in rule.find(ctx):
            asked.append((rule.name, rule.code, level, table))
            parts.append(ids)
    findings: list[Finding] = []
    counted = _counted(engine, parts, spec.examples)
    for (name, code, level, table), (count, examples) in zip(asked, counted, strict=True):
        if count:
            metrics, nodes = touched(catalogue, tree, table, name)
            findings.append(
                Finding(name, code, level, table, count, examples, tuple(metrics), tuple(nodes))
            )
    findings.extend(_missing_history(engine, spec, catalogue, tree))
    check_thresholds(engine, spec, (mapping for _, mapping, _ in tree.data_sources))
    freshness = measure_freshness(engine, as_of, spec)
    stale_level = spec.levels.get(STALE[0], STALE[2])  # type: ignore[call-overload]
    if stale_level != "off":
        findings.extend(stale_findings(freshness, stale_level, catalogue, tree))
    return QualityReport(as_of, tuple(findings), tuple(freshness))


def _missing_history(
    engine: Engine, spec: QualitySpec, catalogue: Catalogue, tree: Tree
) -> list[Finding]:
    """A stage history the landed tables cannot give: every record of its table
    lacks its stage entries (the count), and what would have given them."""
    rule, code, default = MISSING_HISTORY
    level = spec.levels.get(rule, default)  # type: ignore[call-overload]
    if level == "off":
        return []
    out = []
    for table, missing in sorted(engine.landed_gaps.items()):
        records = table.removesuffix("_stage_history") + "s"
        count = int(engine.execute(engine.table(records).count()).column(0)[0].as_py())
        metrics, nodes = touched(catalogue, tree, table, rule)
        detail = {"records": records, "missing": missing}
        out.append(
            Finding(rule, code, level, table, count, (), tuple(metrics), tuple(nodes), detail)
        )
    return out


def check_failures(
    engine: Engine, catalogue: Catalogue, tree: Tree, as_of: dt.date, level: str
) -> list[Diagnostic]:
    """The findings at ``level`` (``error``, or ``warning`` and worse) as errors
    of ``kpitree check`` (KT863), each naming its records and nodes."""
    from kpitree.errors import Diagnostic, Severity
    from kpitree.i18n import Msg

    report = check_quality(engine, catalogue, tree, as_of)
    failing = ("error",) if level == "error" else ("error", "warning")
    return [
        Diagnostic(
            Severity.ERROR,
            "KT863",
            "quality.check_failed",
            {
                "code": f.code,
                "rule": Msg(rule_key(f.rule, f.detail), dict(f.detail)),
                "table": f.table,
                "count": f.count,
                "examples": ", ".join(f.examples) or "-",
                "nodes": ", ".join(f.nodes) or "-",
            },
            None,
        )
        for f in report.findings
        if f.level in failing
    ]
