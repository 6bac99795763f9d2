"""The design checks of ``kpitree check`` that the quarterly validity review
re-runs on the live definition: the SMART checks (a unit, a review period, an
owner that exists, a link to the KGI) and the count checks (3–5 KSFs, at most
5 organisation-level KPIs, 2–3 per department, a leading indicator). Each
check is listed with its result, so a review shows that it ran even when
nothing is found; a check silenced under ``checks.ignore`` says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kpitree.definition import guidance as rules
from kpitree.i18n import t

__all__ = ["DESIGN_CHECKS", "design_checks"]

DESIGN_CHECKS = (
    (rules.MissingUnitRule.code, "smart"),
    (rules.MissingPeriodRule.code, "smart"),
    (rules.MissingOwnerRule.code, "smart"),
    (rules.UnknownOwnerRule.code, "smart"),
    (rules.DisconnectedRule.code, "smart"),
    (rules.KsfCountRule.code, "count"),
    (rules.OrganisationKpiRule.code, "count"),
    (rules.DepartmentKpiRule.code, "count"),
    (rules.LeadingIndicatorRule.code, "count"),
)
"""(code, kind) of the checks re-run, in the order they are shown: the rules
of ``kpitree check`` themselves, so the list cannot drift from them."""


def design_checks(definition: Path, lang: str) -> list[dict[str, Any]] | None:
    """Each check with its state (``ok``, ``findings`` or ``silenced``) and
    findings (message and line), as ``kpitree check`` finds them on the file
    now; None when the definition file is not there."""
    from kpitree.definition.draft import read_draft
    from kpitree.definition.resolve import check_definition

    if not definition.is_file():
        return None
    draft = read_draft(str(definition))
    ignored = set(draft.head.checks.ignore) if draft.head is not None else set()
    found = check_definition(str(definition)).diagnostics
    rows = []
    for code, kind in DESIGN_CHECKS:
        mine = [d for d in found if d.code == code]
        state = "silenced" if code in ignored else "findings" if mine else "ok"
        rows.append(
            {
                "code": code,
                "kind": kind,
                "check": t(f"validity.check.{code}", lang=lang),
                "state": state,
                "state_text": t(f"validity.check_state.{state}", lang=lang, count=len(mine)),
                "findings": [
                    {"message": d.message(lang), "line": d.span.line if d.span else None}
                    for d in mine
                ],
            }
        )
    return rows
