"""The KPI definitions book (KPI定義書): every node's name, meaning, formula
in symbols and in words, unit, owner, data source and metric definition,
targets, reference range, leading/lagging and the alerts and SLAs that
watch it — generated from the definition as it is now, so it never drifts from what is
computed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.compute.metrics import Catalogue
    from kpitree.definition.tree import Tree

__all__ = ["BOOK_FIELDS", "book_entries"]

BOOK_FIELDS = (
    "id",
    "name",
    "kind",
    "description",
    "formula",
    "formula_words",
    "drivers",
    "unit",
    "owner",
    "indicator",
    "direction",
    "source",
    "metric",
    "target",
    "benchmark",
    "alerts",
    "slas",
)
"""The columns of the book, in order (headings ``book.col.<field>``)."""


def _words(tree: Tree, formula: str, lang: str) -> str:
    """The formula with each node id replaced by its name."""

    def name(found: re.Match[str]) -> str:
        node = tree.nodes.get(found.group(0))
        return node.display(lang) if node else found.group(0)

    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", name, formula).replace("*", "×").replace("/", "÷")


def _metric(catalogue: Catalogue, metric_id: str, lang: str) -> str:
    metric = catalogue.metrics.get(metric_id)
    if metric is None:
        return metric_id
    spec = metric.spec
    parts = [f"{metric.display(lang)} ({metric_id}): {spec.type}"]
    if spec.entity:
        parts.append(t("book.metric.entity", lang=lang, entity=spec.entity))
    if spec.time:
        parts.append(t("book.metric.time", lang=lang, time=spec.time))
    if spec.measure:
        parts.append(t("book.metric.measure", lang=lang, measure=spec.measure))
    if spec.where:
        where = ", ".join(f"{k}={v}" for k, v in spec.where.items())
        parts.append(t("book.metric.where", lang=lang, where=where))
    if spec.numerator or spec.denominator:
        parts.append(f"{spec.numerator} ÷ {spec.denominator}")
    if spec.from_ or spec.to:
        parts.append(f"{spec.from_} → {spec.to}")
    if spec.window_days:
        parts.append(t("book.metric.window", lang=lang, days=spec.window_days, mode=spec.mode))
    if spec.credit:
        parts.append(t("book.metric.credit", lang=lang, credit=spec.credit))
    if metric.builtin:
        parts.append(t("book.metric.builtin", lang=lang))
    return "; ".join(parts)


def _target(tree: Tree, node_id: str) -> str:
    from kpitree.i18n.numbers import format_value

    node = tree.nodes[node_id]
    parts = []
    if node.target is not None:
        unit, cur = node.unit_name, tree.currency
        if node.target.horizon is not None:
            parts.append(format_value(node.target.horizon, unit, cur))
        if node.target.monthly is not None:
            parts.append(t("book.per_month", value=format_value(node.target.monthly, unit, cur)))
        parts += [f"{k}: {format_value(v, unit, cur)}" for k, v in node.target.per_period.items()]
    if node.assume is not None:
        value = format_value(node.assume, node.unit_name, tree.currency)
        parts.append(t("book.assume", value=value))
    return ", ".join(parts)


def _event(name: str | None) -> str:
    return (name or "").removeprefix("stage:")


def sla_watch(tree: Tree, catalogue: Catalogue) -> dict[str, list[str]]:
    """The SLAs (ids) that watch each node: one its ``sla_*`` metric measures,
    or one whose clock starts at the event its count counts (the SLA "first
    call within 24 hours of an MQL" watches the MQLs)."""
    out: dict[str, list[str]] = {}
    for node_id, node in tree.nodes.items():
        metric = catalogue.metrics.get(node.metric) if node.metric else None
        if metric is None:
            continue
        spec = metric.spec
        for sla_id, sla in tree.sla.items():
            counts_start = (
                spec.type == "count"
                and spec.entity == sla.entity
                and _event(spec.time) == _event(sla.from_)
            )
            if spec.sla == sla_id or counts_start:
                out.setdefault(node_id, []).append(sla_id)
    return out


def _sla_text(tree: Tree, sla_id: str, lang: str) -> str:
    """``MQL first call (mql_first_touch): within 24 business hours``."""
    sla = tree.sla[sla_id]
    label = sla.label
    if label is not None and not isinstance(label, str):
        label = getattr(label, lang, None) or label.ja or label.en
    name = f"{label} ({sla_id})" if label else sla_id
    clock = t(f"sla.cli.clock.{sla.clock}", lang=lang)
    return t("book.sla", lang=lang, name=name, within=f"{sla.within_hours:g}", clock=clock)


def book_entries(tree: Tree, catalogue: Catalogue, lang: str) -> list[dict[str, Any]]:
    """One entry per node, as a person reads the tree (the KGI first)."""
    from kpitree.i18n.numbers import format_value

    slas = sla_watch(tree, catalogue)
    watching: dict[str, list[str]] = {}
    for rule_id, rule in tree.alerts.items():
        if rule.node:
            watching.setdefault(rule.node, []).append(rule_id)
        elif rule.sla:  # an alert on an SLA's breaches watches what the SLA watches
            for node_id, found in slas.items():
                if rule.sla in found:
                    watching.setdefault(node_id, []).append(rule_id)
    entries = []
    for node_id in tree.display_order():
        node = tree.nodes[node_id]
        owner = tree.organisation.departments.get(node.owner or "")
        benchmark = ""
        if node.benchmark is not None:
            low = format_value(node.benchmark.low, node.unit_name, tree.currency, lang)
            high = format_value(node.benchmark.high, node.unit_name, tree.currency, lang)
            benchmark = f"{low}–{high}" + (
                f" ({node.benchmark.source})" if node.benchmark.source else ""
            )
        source = (
            "metric"
            if node.metric
            else "formula"
            if node.formula_text
            else "assumption"
            if node.assume is not None
            else "target"
        )
        entries.append(
            {
                "id": node_id,
                "name": node.display(lang),
                "kind": node.kind.upper(),
                "description": node.description.text(lang, "") if node.description else "",
                "formula": f"{node_id} = {node.formula_text}" if node.formula_text else "",
                "formula_words": (
                    f"{node.display(lang)} = {_words(tree, node.formula_text, lang)}"
                    if node.formula_text
                    else ""
                ),
                "drivers": ", ".join(
                    tree.nodes[d].display(lang) for d in node.drivers if d in tree.nodes
                ),
                "unit": node.unit_name or "",
                "owner": owner.label.text(lang, owner.id) if owner else (node.owner or ""),
                "indicator": t(f"book.indicator.{node.indicator}", lang=lang)
                if node.indicator
                else "",
                "direction": t(f"book.direction.{node.direction}", lang=lang),
                "source": t(f"book.source.{source}", lang=lang),
                "metric": _metric(catalogue, node.metric, lang) if node.metric else "",
                "target": _target(tree, node_id),
                "benchmark": benchmark,
                "alerts": ", ".join(watching.get(node_id, [])),
                "slas": "; ".join(_sla_text(tree, i, lang) for i in slas.get(node_id, [])),
            }
        )
    return entries
