"""Accounts and leads, and each lead's way down the funnel.

Every lead's *eventual* path is drawn first (one Bernoulli per transition with
the truth's probability for its channel and segment); stage times are then
laid on the business clock, and whatever would happen at or after ``as_of`` is
cut off. A cohort old enough to have matured therefore shows the truth's rates.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kpitree.data.demo.arrow import (
    build_table,
    constant,
    ids,
    join,
    json_objects,
    numbers,
    quoted,
    take,
    timestamps,
)
from kpitree.data.demo.business_calendar import US_PER_DAY, BusinessCalendar, local_us
from kpitree.data.demo.marketing import ChannelCalendar, time_of_day_us
from kpitree.data.demo.org import TEAM_NAMES, Organisation
from kpitree.data.demo.parameters import (
    ACCOUNT_SEGMENT_SHARE,
    EMPLOYEES,
    INDUSTRY_FIT,
    INDUSTRY_SHARE,
    REGION_SHARE,
    REGIONS,
    WEST_REGIONS,
)
from kpitree.data.demo.truth import FUNNEL, DemoTruth, LogNormal

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

COMPANY_STEMS = (
    "東洋", "日本", "大和", "富士", "さくら", "みらい", "中央", "北斗", "光", "東邦",
    "三和", "朝日", "平和", "昭和", "八洲", "瑞穂", "新星", "アオバ", "ミドリ", "ひかり",
)  # fmt: skip
COMPANY_KINDS = (
    "商事", "工業", "システム", "製作所", "物流", "フーズ", "ソリューションズ",
    "電機", "建設", "テクノロジー", "ホールディングス", "メディカル", "精機", "不動産",
)  # fmt: skip
INBOUND_IS = TEAM_NAMES.index("インバウンドIS")
OUTBOUND_IS = TEAM_NAMES.index("アウトバウンドIS")
FS_EAST = TEAM_NAMES.index("東日本営業部")
FS_WEST = TEAM_NAMES.index("西日本営業部")
FS_ENTERPRISE = TEAM_NAMES.index("エンタープライズ営業部")
NOT_YET = np.iinfo(np.int64).max


def lognormal(dist: LogNormal, n: int, rng: np.random.Generator) -> F64:
    """``n`` draws from ``dist``."""
    return rng.lognormal(np.log(dist.median), dist.sigma, n)


def lognormal_by(dists: list[LogNormal], group: I64, rng: np.random.Generator) -> F64:
    """One draw per row from ``dists[group]``."""
    mu = np.log([d.median for d in dists])[group]
    sigma = np.array([d.sigma for d in dists])[group]
    return np.exp(mu + sigma * rng.standard_normal(len(group)))


@dataclass(slots=True)
class Accounts:
    """Accounts; segment, region and industry are indices into the truth's tuples."""

    ids: pa.Array
    segment: I64
    region: I64
    industry: I64
    employees: I64
    created_us: I64  # NOT_YET until the first lead arrives
    imported_us: I64  # creation by CRM import, for accounts no lead ever names
    customer_since: npt.NDArray[np.datetime64]  # first contract month before the data, or NaT


def draw_accounts(
    n: int, n_customers: int, period_start: date, rng: np.random.Generator
) -> Accounts:
    """``n`` accounts; ``n_customers`` of them already customers when the data starts."""
    segment = rng.choice(3, n, p=ACCOUNT_SEGMENT_SHARE)
    region = rng.choice(len(REGION_SHARE), n, p=REGION_SHARE)
    industry = rng.choice(len(INDUSTRY_SHARE), n, p=INDUSTRY_SHARE)
    employees = np.zeros(n, dtype=np.int64)
    for s, (median, sigma, low, high) in enumerate(EMPLOYEES.values()):
        at = segment == s
        employees[at] = np.clip(rng.lognormal(np.log(median), sigma, at.sum()), low, high)
    # Customers and part of the prospects came from CRM imports of earlier years;
    # the other accounts are created by their first lead (see ``draw_leads``).
    start_us = local_us(period_start)
    day = rng.integers(400, 5 * 365, n) * US_PER_DAY
    imported = start_us - day + rng.integers(9 * 3600, 18 * 3600, n) * 1_000_000
    customer = np.zeros(n, dtype=bool)
    customer[rng.choice(n, min(n, n_customers), replace=False)] = True
    by_first_lead = ~customer & (rng.random(n) < 0.6)
    created = np.where(by_first_lead, NOT_YET, imported)
    months_before = rng.integers(1, 13, n)
    since = (np.datetime64(period_start, "M") - months_before).astype("datetime64[D]")
    since = np.where(customer, since, np.datetime64("NaT"))
    return Accounts(ids("A", n, 6), segment, region, industry, employees, created, imported, since)


def accounts_table(
    acc: Accounts, owner: I64, org: Organisation, truth: DemoTruth, rng: np.random.Generator
) -> pa.Table:
    """The ``accounts`` table, with an ABM score (size ≤30 + industry fit ≤25 + engagement)."""
    n = len(acc.segment)
    stem = rng.integers(0, len(COMPANY_STEMS), n)
    kind = rng.integers(0, len(COMPANY_KINDS), n)
    name = join("株式会社", take(COMPANY_STEMS, stem), take(COMPANY_KINDS, kind))
    size_points = np.minimum(30, np.round(6 * np.log10(acc.employees))).astype(np.int64)
    engagement = rng.integers(0, 46, n)
    score = size_points + np.array(INDUSTRY_FIT)[acc.industry] + engagement
    tier = 2 - np.digitize(score, [40, 60])  # A >= 60 > B >= 40 > C
    revenue_per_head = rng.lognormal(np.log(25e6), 0.5, n)
    return build_table(
        "accounts",
        {
            "account_id": acc.ids,
            "name": name,
            "industry": take(truth.industries, acc.industry),
            "employees": acc.employees,
            "annual_revenue": np.round(acc.employees * revenue_per_head, -6),
            "region": take(truth.regions, acc.region),
            "segment": take(truth.segments, acc.segment),
            "country": constant("JP", n),
            "owner_id": take(org.rep_ids, owner),
            "created_at": timestamps(acc.created_us, truth.tz),
            "attributes": json_objects(
                [("abm_score", numbers(score)), ("abm_tier", quoted(take(["A", "B", "C"], tier)))]
            ),
        },
    )


def field_sales_team(segment: I64, region: I64) -> I64:
    """The field sales team covering each (segment, region)."""
    west = np.isin(region, [REGIONS.index(r) for r in WEST_REGIONS])
    return np.where(segment == 0, FS_ENTERPRISE, np.where(west, FS_WEST, FS_EAST))


@dataclass(slots=True)
class Leads:
    """Leads in creation order, with their eventual path and stage instants.

    ``*_at`` arrays are local microseconds; a stage was reached iff its
    eventual flag is set and its instant is before ``as_of``.
    """

    channel: I64
    campaign: I64  # index into ``campaigns``
    campaigns: tuple[str, ...]
    segment: I64
    account: I64
    region: I64
    industry: I64
    owner: I64
    team: I64
    created_at: I64
    mql: B
    sql: B
    opportunity: B
    won: B
    disqualified: B
    mql_at: I64
    response_at: I64
    sql_at: I64
    opportunity_at: I64
    close_at: I64
    disqualified_at: I64

    def __len__(self) -> int:
        return len(self.channel)

    def take(self, idx: I64) -> Leads:
        """The leads at positions ``idx`` (in that order)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Leads(**{k: v if k == "campaigns" else v[idx] for k, v in values.items()})


def draw_leads(
    truth: DemoTruth,
    cal: BusinessCalendar,
    channels: ChannelCalendar,
    acc: Accounts,
    org: Organisation,
    rng: np.random.Generator,
) -> Leads:
    """``truth.leads`` leads spread over the data span by channel and season."""
    span = channels.day_weight.shape[1]
    counts = rng.multinomial(truth.leads, [truth.channel_share[c] for c in truth.channels])
    parts: dict[str, list[I64]] = {"channel": [], "campaign": [], "segment": [], "at": []}
    offset = np.cumsum([0] + [len(c) for c in channels.campaigns])
    for c, name in enumerate(truth.channels):
        n = int(counts[c])
        day = rng.choice(span, n, p=channels.day_weight[c])
        campaign = channels.campaign_of_day[c][day]
        drawn = rng.choice(len(channels.campaign_weight[c]), n, p=channels.campaign_weight[c])
        campaign = np.where(campaign >= 0, campaign, drawn)
        shares = [truth.segment_share[name][s] for s in truth.segments]
        at = cal.day_start_us(day) + time_of_day_us(name, cal.is_business[day], rng)
        parts["channel"].append(np.full(n, c))
        parts["campaign"].append(offset[c] + campaign)
        parts["segment"].append(rng.choice(len(shares), n, p=shares))
        parts["at"].append(at)
    created = np.concatenate(parts["at"])
    order = np.argsort(created, kind="stable")  # lead ids increase with time
    created = created[order]
    channel = np.concatenate(parts["channel"])[order]
    campaign = np.concatenate(parts["campaign"])[order]
    segment = np.concatenate(parts["segment"])[order]
    n = len(created)

    # Leads land on a random account of their segment; bigger segments share more.
    account = np.empty(n, dtype=np.int64)
    for s in range(len(truth.segments)):
        at = segment == s
        pool = np.flatnonzero(acc.segment == s)
        account[at] = pool[rng.integers(0, len(pool), at.sum())]
    np.minimum.at(acc.created_us, account, created)
    acc.created_us = np.where(acc.created_us == NOT_YET, acc.imported_us, acc.created_us)

    team = np.where(channel == truth.channels.index("outbound"), OUTBOUND_IS, INBOUND_IS)
    day = cal.day_index(created)
    owner = org.draw(team, day, rng)

    p = {
        name: np.array([[by_ch[ch][seg] for seg in truth.segments] for ch in truth.channels])
        for name, by_ch in truth.stage_probability.items()
    }
    eventual = [np.ones(n, dtype=bool)]
    for k in range(len(FUNNEL) - 1):
        name = f"{FUNNEL[k]}_to_{FUNNEL[k + 1]}"
        eventual.append(eventual[-1] & (rng.random(n) < p[name][channel, segment]))
    _, mql, sql, opportunity, won = eventual

    add = cal.add_business_hours
    mql_at = add(created, lognormal(truth.lead_to_mql_business_hours, n, rng))
    response_at = add(mql_at, lognormal(truth.first_response_business_hours, n, rng))
    sql_at = add(response_at, lognormal(truth.sql_after_response_business_hours, n, rng))
    opportunity_at = add(sql_at, lognormal(truth.opportunity_after_sql_business_hours, n, rng))
    cycles = [truth.sales_cycle_days[s] for s in truth.segments]
    cycle_days = lognormal_by(cycles, segment, rng) * np.where(won, 1.0, 0.8)
    close_at = cal.snap_to_business(opportunity_at + (cycle_days * US_PER_DAY).astype(np.int64))

    # Stalled MQLs and SQLs are often closed out as disqualified by inside sales.
    stalled_mql = mql & ~sql
    stalled_sql = sql & ~opportunity
    dq_p = truth.disqualify_probability
    disqualified = (stalled_mql & (rng.random(n) < dq_p["mql"])) | (
        stalled_sql & (rng.random(n) < dq_p["sql"])
    )
    dq_from = np.where(stalled_sql, sql_at, response_at)
    disqualified_at = add(dq_from, rng.lognormal(np.log(70.0), 0.8, n))

    return Leads(
        channel=channel,
        campaign=campaign,
        campaigns=tuple(c for cs in channels.campaigns for c in cs),
        segment=segment,
        account=account,
        region=acc.region[account],
        industry=acc.industry[account],
        owner=owner,
        team=team,
        created_at=created,
        mql=mql,
        sql=sql,
        opportunity=opportunity,
        won=won,
        disqualified=disqualified,
        mql_at=mql_at,
        response_at=response_at,
        sql_at=sql_at,
        opportunity_at=opportunity_at,
        close_at=close_at,
        disqualified_at=disqualified_at,
    )


def lead_tables(
    leads: Leads,
    lead_ids: pa.Array,
    acc: Accounts,
    org: Organisation,
    truth: DemoTruth,
    as_of: int,
    rng: np.random.Generator,
) -> tuple[pa.Table, pa.Table]:
    """The ``leads`` and ``lead_stage_history`` tables, cut off at ``as_of``."""
    n = len(leads)
    mql = leads.mql & (leads.mql_at < as_of)
    sql = leads.sql & (leads.sql_at < as_of)
    opportunity = leads.opportunity & (leads.opportunity_at < as_of)
    closed = opportunity & (leads.close_at < as_of)
    won = closed & leads.won
    lost = closed & ~leads.won
    disqualified = leads.disqualified & (leads.disqualified_at < as_of)
    reached = {
        "lead": (np.ones(n, dtype=bool), leads.created_at),
        "mql": (mql, leads.mql_at),
        "sql": (sql, leads.sql_at),
        "opportunity": (opportunity, leads.opportunity_at),
        "won": (won, leads.close_at),
        "lost": (lost, leads.close_at),
        "disqualified": (disqualified, leads.disqualified_at),
    }
    stage_names = tuple(reached)
    current = np.zeros(n, dtype=np.int64)
    for k, (flag, _) in enumerate(reached.values()):
        current[flag] = k

    lead_idx = np.concatenate([np.flatnonzero(flag) for flag, _ in reached.values()])
    stage = np.concatenate([np.full(flag.sum(), k) for k, (flag, _) in enumerate(reached.values())])
    entered = np.concatenate([at[flag] for flag, at in reached.values()])
    order = np.lexsort((stage, lead_idx))
    history = build_table(
        "lead_stage_history",
        {
            "lead_id": take(lead_ids, lead_idx[order]),
            "stage": take(stage_names, stage[order]),
            "entered_at": timestamps(entered[order], truth.tz),
        },
    )

    # A score the MA tool would show: higher for leads that go further.
    score = 30 + 25 * leads.mql + 15 * leads.sql + rng.normal(0, 10, n)
    table = build_table(
        "leads",
        {
            "lead_id": lead_ids,
            "created_at": timestamps(leads.created_at, truth.tz),
            "channel": take(truth.channels, leads.channel),
            "campaign": take(leads.campaigns, leads.campaign),
            "owner_id": take(org.rep_ids, leads.owner),
            "team": take(TEAM_NAMES, leads.team),
            "region": take(truth.regions, leads.region),
            "segment": take(truth.segments, leads.segment),
            "industry": take(truth.industries, leads.industry),
            "account_id": take(acc.ids, leads.account),
            "current_stage": take(stage_names, current),
            "attributes": json_objects(
                [("lead_score", numbers(np.clip(np.round(score), 0, 100).astype(np.int64)))]
            ),
        },
    )
    return table, history
