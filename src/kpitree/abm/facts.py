"""What the metrics of the tree read about accounts (the columns of
:mod:`kpitree.compute.account_columns`): one row per account scored on the
as-of day, with whether it is a target account, its score, engagement points
and tier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.abm.scoring import score_accounts
from kpitree.abm.targets import target_membership
from kpitree.definition.spec_abm import AbmSpec

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.engines import Engine

__all__ = ["account_facts", "install_account_facts"]


def account_facts(engine: Engine, abm: AbmSpec, root: Path, as_of: dt.date) -> pa.Table:
    """``__abm_account``, ``target_account``, ``abm_score``, ``abm_engagement``,
    ``abm_tier`` of every account existing on ``as_of``."""
    import pyarrow as pa

    scores = score_accounts(engine, abm, as_of)
    members = target_membership(engine, abm, root, [as_of], {as_of: scores})[as_of]
    rows = scores.accounts
    return pa.table(
        {
            "__abm_account": pa.array([a.account_id for a in rows], pa.string()),
            "target_account": pa.array([a.account_id in members for a in rows], pa.bool_()),
            "abm_score": pa.array([a.score for a in rows], pa.float64()),
            "abm_engagement": pa.array([a.engagement(abm) for a in rows], pa.float64()),
            "abm_tier": pa.array([a.tier for a in rows], pa.string()),
        }
    )


def install_account_facts(engine: Engine, abm: AbmSpec, root: Path, today: dt.date) -> None:
    """Give ``engine`` its ``account_facts(as_of)`` (``None``: ``today``),
    computed once per day asked."""
    known: dict[dt.date, pa.Table] = {}

    def facts(as_of: dt.date | None) -> pa.Table:
        day = as_of or today
        if day not in known:
            known[day] = account_facts(engine, abm, root, day)
        return known[day]

    engine.account_facts = facts  # type: ignore[attr-defined]
