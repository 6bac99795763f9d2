"""Account-based marketing: account scores for any as-of day, tiers and their
changes, target accounts (see docs/abm.md).

The names below load on first use: a write asks :mod:`kpitree.abm.refresh`
whether the project declares ``abm:`` at all, and should not pay for the
scoring models (pydantic, Ibis) to hear "no"."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpitree.abm.changes import ScoreChange, compare_scores, score_changes, tier_rank
    from kpitree.abm.scoring import AccountScore, Scores, score_accounts, score_query, tier_of

_WHERE = {
    "AccountScore": "scoring",
    "Scores": "scoring",
    "score_accounts": "scoring",
    "score_query": "scoring",
    "tier_of": "scoring",
    "ScoreChange": "changes",
    "compare_scores": "changes",
    "score_changes": "changes",
    "tier_rank": "changes",
}

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"kpitree.abm.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'kpitree.abm' has no attribute {name!r}")
