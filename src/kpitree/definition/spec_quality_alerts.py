"""Located checks of the alert rules on the data-quality check
(``condition: data_quality``): its own keys ``level`` and ``rules`` (known
values, nowhere else), and none of the keys that place a rule on a node, a
segment or an SLA (it fires per quality finding)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, get_args

from kpitree.errors import Diagnostic, Severity
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft

__all__ = ["QUALITY_LEVELS", "check_quality_alerts"]

# The lowest level of finding that fires (warning: warnings and errors).
QUALITY_LEVELS = ("error", "warning")
_NOT_TAKEN = ("node", "by", "segment", "sla", "threshold", "days", "min_volume")


def check_quality_alerts(draft: Draft) -> Iterator[Diagnostic]:
    from kpitree.definition.spec_data import QualityRule

    if draft.head is None:
        return
    doc = draft.main
    known = list(get_args(QualityRule))
    for rid, rule in draft.head.alerts.items():
        path = ("alerts", rid)
        if rule.condition != "data_quality":
            for key in ("level", "rules"):
                if getattr(rule, key) is not None:
                    yield Diagnostic(
                        Severity.ERROR,
                        "KT331",
                        "alerts.def.quality_only",
                        {"rule": rid, "key": key, "condition": rule.condition},
                        doc.key_span((*path, key)),
                    )
            continue
        for key in _NOT_TAKEN:
            if getattr(rule, key) is not None:
                yield Diagnostic(
                    Severity.ERROR,
                    "KT331",
                    "alerts.def.quality_key",
                    {"rule": rid, "key": key},
                    doc.key_span((*path, key)),
                )
        if rule.level is not None and rule.level not in QUALITY_LEVELS:
            yield Diagnostic(
                Severity.ERROR,
                "KT331",
                "alerts.def.quality_level",
                {
                    "rule": rid,
                    "value": rule.level,
                    "hint": did_you_mean(rule.level, QUALITY_LEVELS),
                },
                doc.span((*path, "level")),
            )
        for i, name in enumerate(rule.rules or ()):
            if name not in known:
                yield Diagnostic(
                    Severity.ERROR,
                    "KT331",
                    "alerts.def.quality_rule",
                    {"rule": rid, "value": name, "hint": did_you_mean(name, known)},
                    doc.span((*path, "rules", i)),
                )
