"""Alert conditions on accounts (``abm:``): ``tier_change`` holds for an account
whose tier today differs from its tier at the end of the previous period (in
the rule's ``direction``); ``engagement_surge`` for one whose engagement points
rose since then by at least the rule's threshold (default
``abm.surge_points``). One finding per account, so an alert fires once per
account and resolves when the next period starts from the new tier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kpitree.alerts.evaluate import Finding

if TYPE_CHECKING:
    from kpitree.alerts.project_view import ProjectView as Project
    from kpitree.definition.spec_alerts import AlertRuleSpec

__all__ = ["ACCOUNTS_NODE", "account_findings"]

ACCOUNTS_NODE = "abm:accounts"


def account_findings(
    project: Project, rules: Mapping[str, AlertRuleSpec], today: dt.date
) -> list[Finding]:
    from kpitree.abm.changes import compare_scores
    from kpitree.abm.daily import daily_store
    from kpitree.compute.periods import period_of
    from kpitree.definition.spec_alerts import ACCOUNT_CONDITIONS

    abm = project.tree.abm
    wanted = {rid: r for rid, r in rules.items() if r.condition in ACCOUNT_CONDITIONS}
    if abm is None or not wanted:
        return []
    out: list[Finding] = []
    cache: dict[dt.date, Any] = {}
    with project.engine() as engine:

        def scores(day: dt.date) -> Any:
            if day not in cache:
                cache[day] = daily_store(engine, abm, project.path).scores(day)
            return cache[day]

        for rid, rule in wanted.items():
            period = period_of(today, rule.period, project.tree.fiscal_year_start)
            before = period.start - dt.timedelta(days=1)
            for change in compare_scores(abm, scores(before), scores(today), rule.threshold):
                if rule.condition == "tier_change":
                    holds = change.move is not None and rule.direction in ("both", change.move)
                else:
                    holds = change.surge
                facts = {
                    "account": change.account_id,
                    "account_name": change.name,
                    "tier_before": change.tier_before,
                    "tier_after": change.tier_after,
                    "score_before": change.score_before,
                    "score_after": change.score_after,
                    "engagement_before": change.engagement_before,
                    "engagement_after": change.engagement_after,
                    "threshold_points": abm.surge_points
                    if rule.threshold is None
                    else rule.threshold,
                    "compared_with": before.isoformat(),
                }
                segment = (("account", change.account_id),)
                out.append(Finding(rid, ACCOUNTS_NODE, segment, holds, period.key, facts))
    return out
