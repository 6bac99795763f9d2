"""Sales activities: inside-sales calls and e-mails on MQLs, cold calls,
field-sales meetings on deals, customer-success meetings with customers.

The first activity on a lead at or after its MQL instant is the first
response (drawn from ``truth.first_response_business_hours``); every other
activity on that lead comes later, so hand-off SLAs can be measured exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kpitree.data.demo.arrow import build_table, ids, take, timestamps
from kpitree.data.demo.business_calendar import US_PER_HOUR, BusinessCalendar, local_us
from kpitree.data.demo.customers import ACCOUNT_MANAGEMENT, ONBOARDING, Terms
from kpitree.data.demo.deals import Deals
from kpitree.data.demo.funnel import OUTBOUND_IS, Leads
from kpitree.data.demo.org import Organisation
from kpitree.data.demo.truth import DemoTruth

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

TYPES = ("call", "email", "meeting")
CALL, EMAIL, MEETING = range(3)
OUTCOMES = (
    "connected", "no_answer", "voicemail", "wrong_number",
    "sent", "replied", "held", "no_show", "rescheduled",
)  # fmt: skip
CONNECTED, NO_ANSWER, VOICEMAIL, WRONG_NUMBER, SENT, REPLIED, HELD, NO_SHOW, RESCHEDULED = range(9)

# Follow-ups per MQL (Poisson means), meetings per deal by segment, e-mails per deal.
FOLLOW_UPS_BEFORE_SQL = 2.0
FOLLOW_UPS_NO_SQL = 3.0
NO_SQL_WINDOW_BUSINESS_HOURS = 15 * 9
DEAL_MEETINGS = (4.0, 2.5, 1.5)
DEAL_EMAILS = 2.5
CUSTOMER_TOUCHES = 2.5


@dataclass(slots=True)
class _Part:
    type: I64
    at: I64
    owner: I64
    lead: I64
    deal: I64
    account: I64
    outcome: I64

    def __post_init__(self) -> None:
        # Ten million activities: narrow types keep the peak memory down.
        for name in ("type", "outcome"):
            setattr(self, name, getattr(self, name).astype(np.int8))
        for name in ("owner", "lead", "deal", "account"):
            setattr(self, name, getattr(self, name).astype(np.int32))


def _outcomes(kind: I64, connect_rate: float, rng: np.random.Generator) -> I64:
    u = rng.random(len(kind))
    v = rng.random(len(kind))
    missed = np.where(v < 0.80, NO_ANSWER, np.where(v < 0.97, VOICEMAIL, WRONG_NUMBER))
    call = np.where(u < connect_rate, CONNECTED, missed)
    email = np.where(u < 0.15, REPLIED, SENT)
    meeting = np.where(u < 0.85, HELD, np.where(u < 0.90, NO_SHOW, RESCHEDULED))
    return np.select([kind == CALL, kind == EMAIL], [call, email], meeting)


def _durations(outcome: I64, rng: np.random.Generator) -> F64:
    """Seconds per activity; NaN (null in the table) where unknown."""
    seconds = np.full(len(outcome), np.nan)
    draws: dict[int, Callable[[int], F64]] = {
        CONNECTED: lambda k: rng.lognormal(np.log(240.0), 0.6, k),
        NO_ANSWER: lambda k: rng.uniform(15, 35, k),
        VOICEMAIL: lambda k: rng.uniform(30, 60, k),
        WRONG_NUMBER: lambda k: rng.uniform(5, 20, k),
        HELD: lambda k: np.where(rng.random(k) < 0.5, 1800.0, 3600.0),
    }
    for code, draw in draws.items():
        at = np.flatnonzero(outcome == code)
        seconds[at] = np.round(draw(len(at)))
    return seconds


def _between(cal: BusinessCalendar, start: I64, end: I64, u: F64) -> I64:
    """Instants a share ``u`` of the business time from ``start`` to ``end``."""
    b0 = cal.to_business(start)
    b1 = np.maximum(cal.to_business(end), b0)
    return cal.from_business(b0 + ((b1 - b0) * u).astype(np.int64))


def _lead_parts(
    leads: Leads,
    truth: DemoTruth,
    cal: BusinessCalendar,
    org: Organisation,
    rng: np.random.Generator,
) -> list[_Part]:
    parts = []
    # First response to every MQL.
    first = np.flatnonzero(leads.mql)
    kind = np.where(rng.random(len(first)) < 0.7, CALL, EMAIL)
    parts.append(_lead_part(leads, first, leads.response_at[first], kind, truth, cal, org, rng))
    # Follow-ups until the SQL meeting is set (the call at the SQL instant), or
    # for a few weeks when the lead does not become an SQL.
    sql = leads.sql
    k = rng.poisson(np.where(sql, FOLLOW_UPS_BEFORE_SQL, FOLLOW_UPS_NO_SQL)) * leads.mql
    idx = np.repeat(np.arange(len(leads)), k)
    window_end = np.where(
        sql[idx],
        leads.sql_at[idx],
        cal.from_business(
            cal.to_business(leads.response_at[idx]) + NO_SQL_WINDOW_BUSINESS_HOURS * US_PER_HOUR
        ),
    )
    window_end = np.where(
        leads.disqualified[idx], np.minimum(window_end, leads.disqualified_at[idx]), window_end
    )
    at = _between(cal, leads.response_at[idx], window_end, rng.uniform(0.02, 0.98, len(idx)))
    at = np.maximum(at, leads.response_at[idx] + 1)
    kind = np.where(rng.random(len(idx)) < 0.75, CALL, EMAIL)
    parts.append(_lead_part(leads, idx, at, kind, truth, cal, org, rng))
    appointment = np.flatnonzero(sql)
    part = _lead_part(
        leads,
        appointment,
        leads.sql_at[appointment],
        np.full(len(appointment), CALL),
        truth,
        cal,
        org,
        rng,
    )
    part.outcome[:] = CONNECTED
    parts.append(part)
    # Outbound leads exist because a cold call got through.
    out = np.flatnonzero(leads.team == OUTBOUND_IS)
    part = _lead_part(
        leads, out, leads.created_at[out], np.full(len(out), CALL), truth, cal, org, rng
    )
    part.outcome[:] = CONNECTED
    parts.append(part)
    return parts


def _lead_part(
    leads: Leads,
    idx: I64,
    at: I64,
    kind: I64,
    truth: DemoTruth,
    cal: BusinessCalendar,
    org: Organisation,
    rng: np.random.Generator,
) -> _Part:
    owner = org.keep_or_draw(leads.owner[idx], leads.team[idx], cal.day_index(at), rng)
    return _Part(
        type=kind,
        at=at,
        owner=owner,
        lead=idx,
        deal=np.full(len(idx), -1),
        account=leads.account[idx],
        outcome=_outcomes(kind, truth.call_connect_rate, rng),
    )


def _deal_part(
    deals: Deals, cal: BusinessCalendar, as_of: int, org: Organisation, rng: np.random.Generator
) -> _Part:
    d = deals.drafts
    n = len(d)
    meetings = 1 + rng.poisson(np.array(DEAL_MEETINGS)[d.segment])
    emails = rng.poisson(DEAL_EMAILS, n)
    idx = np.repeat(np.arange(n), meetings + emails)
    kind = np.where(
        np.arange(len(idx))
        - np.repeat(np.cumsum(meetings + emails) - meetings - emails, meetings + emails)
        < np.repeat(meetings, meetings + emails),
        MEETING,
        EMAIL,
    )
    first = np.r_[True, idx[1:] != idx[:-1]]  # the first meeting opens the deal
    u = np.where(first, 0.0, rng.random(len(idx)))
    at = _between(cal, d.created_at[idx], np.minimum(d.close_at[idx], as_of - 1), u)
    owner = org.keep_or_draw(d.owner[idx], d.team[idx], cal.day_index(at), rng)
    return _Part(kind, at, owner, d.lead[idx], idx, d.account[idx], _outcomes(kind, 0.0, rng))


def _customer_part(
    terms: Terms,
    truth: DemoTruth,
    cal: BusinessCalendar,
    as_of: int,
    org: Organisation,
    rng: np.random.Generator,
) -> _Part:
    start = np.maximum(
        terms.start.astype("datetime64[us]").astype(np.int64), local_us(truth.period_start)
    )
    end = np.minimum(
        (terms.end(truth.contract_months) + 1).astype("datetime64[us]").astype(np.int64), as_of - 1
    )
    k = rng.poisson(CUSTOMER_TOUCHES, len(terms)) * (start < end)
    idx = np.repeat(np.arange(len(terms)), k)
    at = _between(cal, start[idx], end[idx], rng.random(len(idx)))
    team = np.where(terms.segment[idx] == 2, ONBOARDING, ACCOUNT_MANAGEMENT)
    kind = np.where(rng.random(len(idx)) < 0.7, MEETING, EMAIL)
    owner = org.draw(team, cal.day_index(at), rng)
    n = len(idx)
    return _Part(
        kind,
        at,
        owner,
        np.full(n, -1),
        np.full(n, -1),
        terms.account[idx],
        _outcomes(kind, 0.0, rng),
    )


def _cold_part(
    n: int,
    n_accounts: int,
    truth: DemoTruth,
    cal: BusinessCalendar,
    as_of: int,
    org: Organisation,
    rng: np.random.Generator,
) -> _Part:
    start = np.full(n, local_us(truth.period_start))
    at = _between(cal, start, np.full(n, as_of - 1), rng.random(n))
    kind = np.full(n, CALL)
    owner = org.draw(np.full(n, OUTBOUND_IS), cal.day_index(at), rng)
    none = np.full(n, -1)
    account = rng.integers(0, n_accounts, n)
    return _Part(
        kind, at, owner, none, none, account, _outcomes(kind, truth.cold_call_connect_rate, rng)
    )


def activities_table(
    leads: Leads,
    lead_ids: pa.Array,
    deals: Deals,
    terms: Terms,
    account_ids: pa.Array,
    rep_ids: pa.Array,
    truth: DemoTruth,
    cal: BusinessCalendar,
    org: Organisation,
    as_of: int,
    rng: np.random.Generator,
) -> pa.Table:
    """Every activity before ``as_of``, in time order with ids ACT00000001…."""
    parts = _lead_parts(leads, truth, cal, org, rng)
    parts.append(_deal_part(deals, cal, as_of, org, rng))
    parts.append(_customer_part(terms, truth, cal, as_of, org, rng))
    n_cold = round(truth.cold_calls_per_lead * len(leads))
    parts.append(_cold_part(n_cold, len(account_ids), truth, cal, as_of, org, rng))

    def cat(name: str) -> I64:
        return np.concatenate([getattr(p, name) for p in parts])

    at = cat("at")
    keep = np.flatnonzero(at < as_of)
    order = keep[np.argsort(at[keep], kind="stable")]
    at = at[order]
    outcome = cat("outcome")[order]
    lead, deal = cat("lead")[order], cat("deal")[order]
    return build_table(
        "activities",
        {
            "activity_id": ids("ACT", len(order), 8),
            "type": take(TYPES, cat("type")[order]),
            "occurred_at": timestamps(at, truth.tz),
            "owner_id": take(rep_ids, cat("owner")[order]),
            "lead_id": take(lead_ids, lead, lead >= 0),
            "deal_id": take(deals.ids, deal, deal >= 0),
            "account_id": take(account_ids, cat("account")[order]),
            "outcome": take(OUTCOMES, outcome),
            "duration_seconds": _durations(outcome, rng),
        },
    )
