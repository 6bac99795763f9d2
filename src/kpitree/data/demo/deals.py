"""Deals (商談) and their stage history, for new business and upsell alike."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kpitree.data.demo.arrow import (
    build_table,
    constant,
    dates,
    ids,
    json_objects,
    quoted,
    take,
    timestamps,
)
from kpitree.data.demo.business_calendar import US_PER_DAY, BusinessCalendar
from kpitree.data.demo.org import TEAM_NAMES
from kpitree.data.demo.truth import DemoTruth

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

DEAL_STAGES = ("qualification", "proposal", "negotiation", "closed_won", "closed_lost")
# Where lost deals stop before closing; won deals pass every stage.
LOST_AT_STAGE = (0.40, 0.35, 0.25)
# When each open stage is entered, as a share of the way from creation to close.
STAGE_PROGRESS = (0.0, 0.3, 0.7)
LOST_REASONS = ("価格", "競合", "時期尚早", "機能不足", "予算凍結", "社内稟議")
PIPELINES = ("new_business", "upsell")


@dataclass(slots=True)
class DealDrafts:
    """Deals before ids are given; one entry per deal, in any order."""

    created_at: I64
    close_at: I64  # eventual close, whether or not it is before as_of
    won: B  # eventual outcome
    segment: I64
    region: I64
    amount: F64
    owner: I64
    team: I64
    account: I64
    lead: I64  # -1: not from a lead
    product: I64  # index into the products passed to ``build_deals``
    pipeline: I64  # index into PIPELINES

    def __len__(self) -> int:
        return len(self.created_at)

    @classmethod
    def concat(cls, parts: list[DealDrafts]) -> DealDrafts:
        """All ``parts`` one after another."""
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    def take(self, order: I64) -> DealDrafts:
        """The drafts in ``order``."""
        return DealDrafts(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


@dataclass(slots=True)
class Deals:
    """Deals as built: drafts in id order plus what was visible at ``as_of``."""

    ids: pa.Array
    drafts: DealDrafts
    closed: B
    table: pa.Table
    history: pa.Table


def build_deals(
    drafts: DealDrafts,
    products: tuple[str, ...],
    lead_ids: pa.Array,
    account_ids: pa.Array,
    rep_ids: pa.Array,
    truth: DemoTruth,
    cal: BusinessCalendar,
    as_of: int,
    rng: np.random.Generator,
) -> Deals:
    """Deals in creation order with ids D0000001…, and their stage history."""
    drafts = drafts.take(np.argsort(drafts.created_at, kind="stable"))
    n = len(drafts)
    deal_ids = ids("D", n, 7)
    closed = drafts.close_at < as_of
    won = drafts.won

    lost_at = rng.choice(len(LOST_AT_STAGE), n, p=LOST_AT_STAGE)
    duration = drafts.close_at - drafts.created_at
    stage_at, stage_on = [], []
    for k, share in enumerate(STAGE_PROGRESS):
        at = cal.snap_to_business(drafts.created_at + (duration * share).astype(np.int64))
        at = np.minimum(at, drafts.close_at)
        stage_at.append(at)
        stage_on.append((won | (lost_at >= k)) & (at < as_of))
    stage_at += [drafts.close_at, drafts.close_at]
    stage_on += [closed & won, closed & ~won]
    current = np.zeros(n, dtype=np.int64)
    for k, on in enumerate(stage_on):
        current[on] = k

    deal_idx = np.concatenate([np.flatnonzero(on) for on in stage_on])
    stage = np.concatenate([np.full(on.sum(), k) for k, on in enumerate(stage_on)])
    entered = np.concatenate([at[on] for at, on in zip(stage_at, stage_on, strict=True)])
    order = np.lexsort((stage, deal_idx))
    history = build_table(
        "deal_stage_history",
        {
            "deal_id": take(deal_ids, deal_idx[order]),
            "stage": take(DEAL_STAGES, stage[order]),
            "entered_at": timestamps(entered[order], truth.tz),
        },
    )

    status = np.where(closed, np.where(won, 1, 2), 0)
    lost = closed & ~won
    reason = take(LOST_REASONS, rng.integers(0, len(LOST_REASONS), n))
    close_day = (drafts.close_at // US_PER_DAY).astype("datetime64[D]")
    table = build_table(
        "deals",
        {
            "deal_id": deal_ids,
            "account_id": take(account_ids, drafts.account),
            "lead_id": take(lead_ids, drafts.lead, drafts.lead >= 0),
            "owner_id": take(rep_ids, drafts.owner),
            "team": take(TEAM_NAMES, drafts.team),
            "created_at": timestamps(drafts.created_at, truth.tz),
            "close_date": dates(close_day),
            "amount": drafts.amount,
            "currency": constant(truth.currency, n),
            "status": take(("open", "won", "lost"), status),
            "stage": take(DEAL_STAGES, current),
            "product": take(products, drafts.product),
            "pipeline": take(PIPELINES, drafts.pipeline),
            "region": take(truth.regions, drafts.region),
            "segment": take(truth.segments, drafts.segment),
            "attributes": json_objects([("lost_reason", quoted(reason))], lost),
        },
    )
    return Deals(deal_ids, drafts, closed, table, history)
