"""The KPI validity review as rows people read (CLI, web page, review pack)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kpitree.definition.draft import DEFINITION_FILE
from kpitree.i18n import t
from kpitree.review.service import ActionProject
from kpitree.review.validity import evidence_text, history_months, reasons_text, validity_review
from kpitree.review.validity_checks import design_checks

__all__ = ["validity_view"]


def validity_view(
    project: ActionProject, lang: str, as_of: dt.date | None = None, months: int = 24
) -> dict[str, Any]:
    """The verdicts with their evidence, KPIs first, then links, as JSON-ready data."""
    tree = project.tree
    day = as_of or project.today()
    periods = history_months(day, months, tree.fiscal_year_start)
    found = validity_review(project, day, months)
    rows = []
    for v in found:
        label = tree.nodes[v.node].display(lang)
        if v.link is not None:
            label = t(
                "validity.link", lang=lang, driver=tree.nodes[v.link].display(lang), node=label
            )
        owner = tree.nodes[v.link or v.node].owner
        rows.append(
            {
                **v.to_json(),
                "label": label,
                "verdict_text": t(f"validity.verdict.{v.verdict}", lang=lang),
                "why": reasons_text(v, lang),
                "evidence": evidence_text(v, lang),
                "owner": owner,
            }
        )
    return {
        "as_of": day.isoformat(),
        "start": periods[0].key,
        "end": periods[-1].key,
        "months": months,
        "intro": t(
            "validity.intro", lang=lang, start=periods[0].key, end=periods[-1].key, months=months
        ),
        "rows": rows,
        "checks": design_checks(project.path / DEFINITION_FILE, lang),
    }
