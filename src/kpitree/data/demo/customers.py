"""Contracts with renewals, expansion and churn; upsell deals; NPS answers."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kpitree.data.demo.arrow import build_table, constant, dates, ids, take, timestamps
from kpitree.data.demo.business_calendar import US_PER_DAY, US_PER_HOUR, BusinessCalendar, local_us
from kpitree.data.demo.deals import DealDrafts
from kpitree.data.demo.funnel import lognormal
from kpitree.data.demo.org import TEAM_NAMES, Organisation
from kpitree.data.demo.truth import DemoTruth

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
D = npt.NDArray[np.datetime64]

ACCOUNT_MANAGEMENT = TEAM_NAMES.index("アカウントマネジメント")
ONBOARDING = TEAM_NAMES.index("オンボーディング")
CONTRACT_STATUS = ("active", "renewed", "churned")

NPS_COMMENTS = {
    "detractor": (
        "サポートの返答が遅い",
        "使いこなせていない",
        "価格に見合わない",
        "機能が足りない",
    ),
    "passive": ("おおむね満足", "レポート機能を強化してほしい", "もう少し安いと嬉しい"),
    "promoter": ("会議の準備が楽になった", "KPIが全員に見えるようになった", "サポートが丁寧"),
}


@dataclass(slots=True)
class Terms:
    """Contract terms; ``renewed_from`` indexes the previous term (-1: first term)."""

    account: I64
    segment: I64
    product: I64
    start: D
    arr: F64
    renewed_from: I64
    status: I64  # index into CONTRACT_STATUS

    def __len__(self) -> int:
        return len(self.account)

    @classmethod
    def first_terms(cls, account: I64, segment: I64, product: I64, start: D, arr: F64) -> Terms:
        """First terms of new contracts, status not yet known."""
        n = len(account)
        return cls(account, segment, product, start, arr, np.full(n, -1), np.zeros(n, np.int64))

    def end(self, months: int) -> D:
        """Last day of each term."""
        start_month = self.start.astype("datetime64[M]")
        return (start_month + months).astype("datetime64[D]") - 1

    def append(self, other: Terms, shift: int) -> Terms:
        """This and ``other``; ``other``'s links are moved by ``shift``."""
        parts = {
            f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
            for f in fields(self)
        }
        moved = np.where(other.renewed_from >= 0, other.renewed_from + shift, -1)
        parts["renewed_from"] = np.concatenate([self.renewed_from, moved])
        return Terms(**parts)


def month_after(local: I64) -> D:
    """First day of the month after each instant: contracts start on the 1st."""
    return ((local // US_PER_DAY).astype("datetime64[D]").astype("datetime64[M]") + 1).astype(
        "datetime64[D]"
    )


def renew(terms: Terms, truth: DemoTruth, rng: np.random.Generator) -> Terms:
    """Follow every term through its renewals until the data ends.

    A term that ended before the last day of the data is decided: renewed
    (possibly with expansion or contraction) or churned. Others stay active.
    """
    last_day = np.datetime64(truth.period_end, "D")
    renewal_p = np.array([truth.renewal_probability[s] for s in truth.segments])
    out = terms
    current = np.arange(len(terms))
    while len(current):
        end = out.end(truth.contract_months)[current]
        decided = end < last_day
        renews = decided & (rng.random(len(current)) < renewal_p[out.segment[current]])
        out.status[current] = np.where(decided, np.where(renews, 1, 2), 0)
        prev = current[renews]
        m = len(prev)
        u = rng.random(m)
        change = np.where(
            u < truth.expansion_probability,
            1 + lognormal(truth.expansion_uplift, m, rng),
            np.where(
                u < truth.expansion_probability + truth.contraction_probability,
                truth.contraction_factor,
                1.0,
            ),
        )
        nxt = Terms(
            out.account[prev],
            out.segment[prev],
            out.product[prev],
            end[renews] + 1,
            np.round(out.arr[prev] * change, -3),
            prev,
            np.zeros(m, np.int64),
        )
        before = len(out)
        out = out.append(nxt, shift=0)
        current = np.arange(before, len(out))
    return out


def upsell_drafts(
    terms: Terms,
    region: I64,
    add_ons: int,
    first_product: int,
    truth: DemoTruth,
    cal: BusinessCalendar,
    org: Organisation,
    as_of: int,
    rng: np.random.Generator,
) -> DealDrafts:
    """Upsell deals account managers open during contract terms."""
    has = rng.random(len(terms)) < truth.upsell_deal_probability
    start_us = terms.start.astype("datetime64[us]").astype(np.int64)
    opened = start_us + rng.integers(45, 300, len(terms)) * US_PER_DAY + 10 * US_PER_HOUR
    created = cal.snap_to_business(opened)
    idx = np.flatnonzero(has & (created < as_of) & (opened >= local_us(truth.period_start)))
    n = len(idx)
    created = created[idx]
    cycle = lognormal(truth.upsell_cycle_days, n, rng)
    close = cal.snap_to_business(created + (cycle * US_PER_DAY).astype(np.int64))
    share = lognormal(truth.upsell_amount_share, n, rng)
    team = np.full(n, ACCOUNT_MANAGEMENT)
    return DealDrafts(
        created_at=created,
        close_at=close,
        won=rng.random(n) < truth.upsell_win_rate,
        segment=terms.segment[idx],
        region=region[terms.account[idx]],
        amount=np.maximum(np.round(terms.arr[idx] * share, -3), 10_000.0),
        owner=org.draw(team, cal.day_index(created), rng),
        team=team,
        account=terms.account[idx],
        lead=np.full(n, -1),
        product=first_product + rng.integers(0, add_ons, n),
        pipeline=np.ones(n, np.int64),
    )


def contracts_table(
    terms: Terms, products: tuple[str, ...], account_ids: pa.Array, truth: DemoTruth
) -> pa.Table:
    """Contracts in start order with ids C000001…."""
    order = np.lexsort((terms.account, terms.start))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    contract_ids = ids("C", len(terms), 6)
    prev = terms.renewed_from[order]
    end = terms.end(truth.contract_months)[order]
    arr = terms.arr[order]
    return build_table(
        "contracts",
        {
            "contract_id": contract_ids,
            "account_id": take(account_ids, terms.account[order]),
            "product": take(products, terms.product[order]),
            "start_date": dates(terms.start[order]),
            "end_date": dates(end),
            "mrr": np.round(arr / 12),
            "arr": arr,
            "currency": constant(truth.currency, len(terms)),
            "status": take(CONTRACT_STATUS, terms.status[order]),
            "renewed_from": take(contract_ids, np.where(prev >= 0, rank[prev], 0), prev >= 0),
        },
    )


def nps_table(
    terms: Terms,
    account_ids: pa.Array,
    truth: DemoTruth,
    cal: BusinessCalendar,
    as_of: int,
    rng: np.random.Generator,
) -> pa.Table:
    """Half-yearly NPS surveys (June and December) of customers under contract."""
    end = terms.end(truth.contract_months)
    waves = [
        date(y, m, 1)
        for y in range(truth.period_start.year, truth.period_end.year + 1)
        for m in (6, 12)
        if truth.period_start <= date(y, m, 1) <= truth.period_end
    ]
    parts_account, parts_at, parts_churn = [], [], []
    for wave in waves:
        day = np.datetime64(wave, "D")
        on = (terms.start <= day) & (day <= end)
        account, first = np.unique(terms.account[on], return_index=True)
        churning = (terms.status[on] == 2)[first]
        answers = rng.random(len(account)) < truth.nps_response_rate
        sent = local_us(wave) + 10 * US_PER_HOUR
        at = cal.add_business_hours(
            np.full(answers.sum(), sent, np.int64), rng.exponential(15.0, answers.sum())
        )
        parts_account.append(account[answers])
        parts_at.append(at)
        parts_churn.append(churning[answers])
    account = np.concatenate(parts_account)
    at = np.concatenate(parts_at)
    churning = np.concatenate(parts_churn)
    keep = at < as_of
    account, at, churning = account[keep], at[keep], churning[keep]
    n = len(account)
    probs = truth.nps_score_probability
    cum = np.cumsum([probs["retained"], probs["churning"]], axis=1)
    u = rng.random(n)
    score = np.where(
        churning, np.searchsorted(cum[1], u, side="right"), np.searchsorted(cum[0], u, side="right")
    ).clip(0, 10)
    band = np.digitize(score, [7, 9])  # 0 detractor, 1 passive, 2 promoter
    comments = [c for b in ("detractor", "passive", "promoter") for c in NPS_COMMENTS[b]]
    offsets = np.cumsum([0] + [len(NPS_COMMENTS[b]) for b in ("detractor", "passive", "promoter")])
    sizes = np.diff(offsets)
    pick = offsets[band] + (rng.random(n) * sizes[band]).astype(np.int64)
    order = np.argsort(at, kind="stable")
    return build_table(
        "nps_responses",
        {
            "response_id": ids("N", n, 6),
            "responded_at": timestamps(at[order], truth.tz),
            "account_id": take(account_ids, account[order]),
            "score": score[order].astype(np.int32),
            "comment": take(comments, pick[order], (rng.random(n) < 0.2)[order]),
        },
    )
