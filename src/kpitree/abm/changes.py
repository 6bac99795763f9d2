"""What moved between two as-of days: tier changes and engagement surges,
per account (the conditions of the ``tier_change`` and ``engagement_surge``
alert rules, and the "change since last period" of the Accounts page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpitree.abm.scoring import Scores, score_accounts
from kpitree.definition.spec_abm import AbmSpec

if TYPE_CHECKING:
    from kpitree.engines import Engine

__all__ = ["ScoreChange", "compare_scores", "score_changes", "tier_rank"]


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """One account between ``before`` and ``after`` (an account that did not
    exist before has no score then, and no tier)."""

    account_id: str
    name: str | None
    tier_before: str | None
    tier_after: str | None
    score_before: float | None
    score_after: float
    engagement_before: float | None
    engagement_after: float
    move: str | None  # up, down or None (same tier)
    surge: bool  # engagement rose by at least the surge points

    @property
    def engagement_change(self) -> float:
        return self.engagement_after - (self.engagement_before or 0.0)


def tier_rank(abm: AbmSpec, tier: str | None) -> int:
    """0 for the highest tier, one more for each lower one; no tier is lowest."""
    order = [name for name, _ in sorted(abm.tiers.items(), key=lambda kv: -kv[1])]
    return order.index(tier) if tier in order else len(order)


def compare_scores(
    abm: AbmSpec, before: Scores, after: Scores, surge_points: float | None = None
) -> list[ScoreChange]:
    """Every account of ``after`` compared with ``before``."""
    earlier = before.by_id()
    surge = abm.surge_points if surge_points is None else surge_points
    out = []
    for a in after.accounts:
        b = earlier.get(a.account_id)
        tier_b = b.tier if b is not None else None
        rank_b, rank_a = tier_rank(abm, tier_b), tier_rank(abm, a.tier)
        move = None if rank_a == rank_b else ("up" if rank_a < rank_b else "down")
        eng_b = b.engagement(abm) if b is not None else None
        eng_a = a.engagement(abm)
        out.append(
            ScoreChange(
                a.account_id,
                a.name,
                tier_b,
                a.tier,
                b.score if b is not None else None,
                a.score,
                eng_b,
                eng_a,
                move,
                eng_a - (eng_b or 0.0) >= surge,
            )
        )
    return out


def score_changes(
    engine: Engine,
    abm: AbmSpec,
    before: dt.date,
    after: dt.date,
    surge_points: float | None = None,
) -> list[ScoreChange]:
    """Scores of ``after`` compared with those of ``before``."""
    return compare_scores(
        abm, score_accounts(engine, abm, before), score_accounts(engine, abm, after), surge_points
    )
