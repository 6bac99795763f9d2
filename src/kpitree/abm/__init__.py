"""Account-based marketing: account scores for any as-of day, tiers and their
changes, target accounts (see docs/abm.md)."""

from kpitree.abm.changes import ScoreChange, compare_scores, score_changes, tier_rank
from kpitree.abm.scoring import AccountScore, Scores, score_accounts, score_query, tier_of

__all__ = [
    "AccountScore",
    "ScoreChange",
    "Scores",
    "compare_scores",
    "score_accounts",
    "score_changes",
    "score_query",
    "tier_of",
    "tier_rank",
]
