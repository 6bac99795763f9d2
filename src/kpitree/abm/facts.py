"""What the metrics of the tree read about accounts (the columns of
:mod:`kpitree.compute.account_columns`): one row per account and day, with
whether the account is a target account that day, its score, engagement
points and tier, from the project's kept daily scores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.abm.daily import STORE_DIR, DailyScores
from kpitree.definition.spec_abm import AbmSpec

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.engines import Engine

__all__ = ["account_days", "install_account_facts"]


def account_days(store: DailyScores, first: dt.date, last: dt.date) -> pa.Table:
    """``__abm_account``, ``__abm_day``, ``target_account``, ``abm_score``,
    ``abm_engagement``, ``abm_tier`` of every account on every day from
    ``first`` to ``last`` (accounts existing that day)."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rows = store.rows(days)
    return rows.select(
        ["account_id", "day", "target_account", "score", "engagement", "tier"]
    ).rename_columns(
        ["__abm_account", "__abm_day", "target_account", "abm_score", "abm_engagement", "abm_tier"]
    )


def install_account_facts(
    engine: Engine, abm: AbmSpec, root: Path, today: dt.date, folder: Path | None
) -> DailyScores:
    """Give ``engine`` its kept daily scores (``engine.abm_scores``), its
    ``account_days(first, last)`` and the day facts after the as-of day are
    read on when no as-of day is given (``engine.abm_today``)."""
    store = DailyScores(engine, abm, root, folder and folder / STORE_DIR)

    def days(first: dt.date, last: dt.date) -> pa.Table:
        return account_days(store, first, last)

    engine.abm_scores = store  # type: ignore[attr-defined]
    engine.account_days = days  # type: ignore[attr-defined]
    engine.abm_today = today  # type: ignore[attr-defined]
    return store
