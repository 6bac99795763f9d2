"""The alert condition on the data-quality check (``data_quality``): one
finding per quality finding (a rule on a table) at the rule's ``level`` or
worse, optionally only for the quality rules it names. It holds while the
check still finds those records and resolves when they are gone (a corrected
import, an undone one)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kpitree.alerts.evaluate import Finding

if TYPE_CHECKING:
    from kpitree.alerts.project_view import ProjectView as Project
    from kpitree.definition.spec_alerts import AlertRuleSpec

__all__ = ["QUALITY_PREFIX", "cleared_quality", "quality_findings", "quality_summary"]

QUALITY_PREFIX = "quality:"
_WORSE = {"error": ("error",), "warning": ("error", "warning")}


def _node(rule: str, table: str, detail: Mapping[str, Any]) -> str:
    # A table fed by several sources can have a stale finding per source.
    source = detail.get("source")
    return f"{QUALITY_PREFIX}{rule}:{table}" + ("" if source is None else f"@{source}")


def quality_findings(
    project: Project, rules: Mapping[str, AlertRuleSpec], today: dt.date
) -> list[Finding]:
    """A holding finding per (alert rule, quality finding) it watches."""
    from kpitree.compute.quality import check_quality

    wanted = {rid: r for rid, r in rules.items() if r.condition == "data_quality"}
    if not wanted:
        return []
    with project.engine() as engine:
        report = check_quality(engine, project.catalogue, project.tree, today)
    tree = project.tree
    out: list[Finding] = []
    for rid, rule in wanted.items():
        levels = _WORSE[rule.level or "error"]
        for f in report.findings:
            if f.level not in levels or (rule.rules and f.rule not in rule.rules):
                continue
            facts: dict[str, Any] = {
                "quality_rule": f.rule,
                "code": f.code,
                "level": f.level,
                "table": f.table,
                "count": f.count,
                "examples": list(f.examples),
                "nodes": list(f.nodes),
                "node_labels": {
                    n: {"ja": tree.nodes[n].label.ja, "en": tree.nodes[n].label.en}
                    for n in f.nodes
                    if n in tree.nodes
                },
                "detail": dict(f.detail),
            }
            node = _node(f.rule, f.table, f.detail)
            out.append(Finding(rid, node, (), True, today.isoformat(), facts))
    return out


def cleared_quality(
    project: Project,
    findings: list[Finding],
    states: Mapping[tuple[str, str, str], Any],
    today: dt.date,
    event: Callable[[int], Any],
) -> list[Finding]:
    """A firing quality finding the check no longer reports is gone: the
    condition is false (its records were fixed or removed). Its resolution
    says what was found, as the event that fired said it (``event`` reads a
    stored event)."""
    rules = project.tree.alerts
    seen = {(f.rule, f.node) for f in findings}
    out = []
    for (rid, node, segment), state in states.items():
        rule = rules.get(rid)
        if state["state"] != "firing" or rule is None or rule.condition != "data_quality":
            continue
        if (rid, node) in seen or not node.startswith(QUALITY_PREFIX):
            continue
        name, _, table = node.removeprefix(QUALITY_PREFIX).partition(":")
        table = table.partition("@")[0]
        facts: dict[str, Any] = {"quality_rule": name, "table": table}
        if state["last_event_id"] is not None:
            facts.update(json.loads(event(state["last_event_id"])["facts"]))
        facts.update(count=0, cleared=True)
        parts = tuple((k, v) for k, v in json.loads(segment))
        out.append(Finding(rid, node, parts, False, today.isoformat(), facts))
    return out


def quality_summary(event: Mapping[str, Any], lang: str) -> str:
    """The finding in one sentence: what, where, how many, a few ids and the
    nodes whose numbers rest on those records (by their stored labels)."""
    from kpitree.compute.quality_freshness import rule_key
    from kpitree.i18n import t

    facts: Mapping[str, Any] = event["facts"]
    detail = facts.get("detail") or {}
    about = t(rule_key(str(facts.get("quality_rule")), detail), lang=lang, **detail)
    params = {"about": about, "table": facts.get("table", ""), "code": facts.get("code", "")}
    if facts.get("cleared"):
        return t("alerts.condition.data_quality_cleared", lang=lang, **params)
    labels = facts.get("node_labels") or {}

    def label(nid: str) -> str:
        text = labels.get(nid) or {}
        first, second = (text.get("ja"), text.get("en"))
        if lang != "ja":
            first, second = second, first
        return str(first or second or nid)

    return t(
        "alerts.condition.data_quality",
        lang=lang,
        level=t(f"quality.level.{facts.get('level', 'error')}", lang=lang),
        count=facts.get("count", 0),
        examples=", ".join(facts.get("examples") or ()) or "—",
        nodes=", ".join(label(n) for n in facts.get("nodes") or ()) or "—",
        **params,
    )
