"""When leads arrive, through which campaign, and what marketing paid for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kpitree.data.demo.arrow import build_table, constant, dates, from_numpy, join, take
from kpitree.data.demo.business_calendar import US_PER_HOUR, BusinessCalendar
from kpitree.data.demo.truth import DemoTruth

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Trade shows per fiscal year: (name, month, day, business days). Leads are the
# cards scanned at the booth, so they arrive on the show's days.
EVENTS = (
    ("営業DX EXPO【春】", 5, 20, 3),
    ("SaaS World 東京", 7, 9, 3),
    ("マーケティングWeek 大阪", 9, 10, 2),
    ("営業DX EXPO【秋】", 10, 22, 3),
    ("BtoBマーケティング展 名古屋", 12, 3, 2),
    ("IT・DX展 福岡", 1, 28, 2),
    ("SaaS World 大阪", 2, 18, 3),
    ("年度末DXフォーラム", 3, 5, 2),
)
WEBINAR_TITLES = (
    "KPIツリー設計入門",
    "インサイドセールス立ち上げ",
    "営業DX事例セミナー",
    "The Model 実践講座",
    "解約率を下げるカスタマーサクセス",
    "ABM入門",
)
# Channels whose campaigns are drawn per lead: (campaigns, weights).
STANDING_CAMPAIGNS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "organic_search": (("SEO_ブログ", "SEO_導入事例", "SEO_料金ページ"), (0.55, 0.25, 0.20)),
    "paid_search": (("Google広告_指名", "Google広告_一般", "Yahoo!広告_一般"), (0.30, 0.50, 0.20)),
    "content": (
        ("WP_KPIツリー設計入門", "WP_営業DXチェックリスト", "料金資料ダウンロード"),
        (0.40, 0.30, 0.30),
    ),
    "referral": (("顧客紹介", "パートナー紹介"), (0.55, 0.45)),
    "outbound": (("ABMリスト_エンタープライズ", "新規開拓_中堅企業"), (0.50, 0.50)),
}


@dataclass(frozen=True, slots=True)
class ChannelCalendar:
    """Per channel: how lead volume spreads over the days of the data span."""

    day_weight: F64  # [channel, day], each row sums to 1
    campaigns: tuple[tuple[str, ...], ...]  # per channel
    campaign_weight: tuple[F64, ...]  # per channel; unused for dated campaigns
    campaign_of_day: I64  # [channel, day] -> campaign index, -1: drawn per lead


def _base_weight(cal: BusinessCalendar, span: int, truth: DemoTruth) -> F64:
    days = cal.days[:span]
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    seasonal = np.array([truth.month_seasonality[m] for m in range(1, 13)])[month - 1]
    obon = (month == 8) & (dom >= 13) & (dom <= 16)
    growth = (1 + truth.yoy_growth) ** (np.arange(span) / 365.25)
    business = np.where(cal.is_business[:span], 1.0, truth.non_business_day_weight)
    weight: F64 = business * seasonal * growth * np.where(obon, 0.4, 1.0)
    return weight


def channel_calendar(cal: BusinessCalendar, span: int, truth: DemoTruth) -> ChannelCalendar:
    """Day weights and campaigns for every channel of ``truth``."""
    base = _base_weight(cal, span, truth)
    on_business = base * cal.is_business[:span]
    weights, campaigns, campaign_w, of_day = [], [], [], []
    for channel in truth.channels:
        day_campaign = np.full(span, -1, dtype=np.int64)
        if channel == "event":
            names: list[str] = []
            for year in range(truth.period_start.year, truth.period_end.year + 1):
                for name, month, day, length in EVENTS:
                    if date(year, month, day) < cal.first_day:
                        continue
                    first = cal.next_business_day(date(year, month, day))
                    show = first + np.flatnonzero(cal.is_business[first:])[:length]
                    if show[-1] < span:
                        day_campaign[show] = len(names)
                        names.append(f"{name} {year}")
            w = np.where(day_campaign >= 0, on_business, 0.0)
            campaigns.append(tuple(names))
        elif channel == "webinar":
            # A webinar every other Wednesday; people register in the two weeks before.
            week = np.arange(span) // 7
            wednesday = (cal.weekday[:span] == 2) & cal.is_business[:span] & (week % 2 == 0)
            held = np.flatnonzero(wednesday)
            upcoming = np.searchsorted(held, np.arange(span))
            registering = upcoming < len(held)
            day_campaign[registering] = upcoming[registering]
            titles = [
                f"ウェビナー_{WEBINAR_TITLES[i % len(WEBINAR_TITLES)]}_{cal.days[d]}"
                for i, d in enumerate(held)
            ]
            w = np.where(registering, on_business, 0.0)
            campaigns.append(tuple(titles))
        else:
            names_w = STANDING_CAMPAIGNS.get(channel, ((channel,), (1.0,)))
            campaigns.append(names_w[0])
            campaign_w.append(np.array(names_w[1]))
            # Outbound leads come from calls, which happen on business days only.
            w = on_business if channel == "outbound" else base
        if channel in ("event", "webinar"):
            campaign_w.append(np.ones(1))
        weights.append(w / w.sum())
        of_day.append(day_campaign)
    return ChannelCalendar(np.array(weights), tuple(campaigns), tuple(campaign_w), np.array(of_day))


def time_of_day_us(
    channel: str, business_day: npt.NDArray[np.bool_], rng: np.random.Generator
) -> I64:
    """Offset from local midnight at which a lead of ``channel`` is created."""
    n = len(business_day)
    if channel == "event":  # booth hours
        hours = rng.uniform(10, 17, n)
    elif channel in ("outbound", "webinar"):
        hours = rng.uniform(9, 18, n)
    else:  # web forms: office hours mostly, evenings and weekends some
        office = rng.random(n) < 0.85
        hours = np.where(business_day & office, rng.uniform(9, 18, n), rng.uniform(7, 23.5, n))
    return (hours * US_PER_HOUR).astype(np.int64)


def marketing_spend(
    calendar: ChannelCalendar,
    cal: BusinessCalendar,
    leads_per_channel: I64,
    truth: DemoTruth,
    rng: np.random.Generator,
) -> pa.Table:
    """Spend booked so that spend ÷ expected leads is the channel's cost per lead.

    Paid search is booked daily, shows and webinars on their first day (a
    webinar's "first day" is the first registration day), other
    channels monthly on the first business day.
    """
    span = calendar.day_weight.shape[1]
    month_of = cal.days[:span].astype("datetime64[M]").astype(np.int64)
    month_of -= month_of[0]
    book_month = cal.next_business_index(np.searchsorted(month_of, np.arange(month_of[-1] + 1)))
    rows_day, rows_channel, rows_campaign, rows_amount = [], [], [], []
    for c, channel in enumerate(truth.channels):
        expected = leads_per_channel[c] * calendar.day_weight[c]
        cpl = truth.cost_per_lead[channel]
        names = calendar.campaigns[c]
        if (calendar.campaign_of_day[c] >= 0).any():
            campaign = calendar.campaign_of_day[c]
            dated = campaign >= 0
            amount = np.bincount(campaign[dated], expected[dated], minlength=len(names)) * cpl
            first_day = np.full(len(names), span, dtype=np.int64)
            np.minimum.at(first_day, campaign[dated], np.flatnonzero(dated))
            keep = first_day < span
            day, camp, amount = first_day[keep], np.flatnonzero(keep), amount[keep]
        else:
            share = calendar.campaign_weight[c]
            if channel == "paid_search":
                per_day, day = expected, np.arange(span)
            else:
                per_day, day = np.bincount(month_of, expected), book_month
            camp = np.tile(np.arange(len(names)), len(day))
            amount = np.repeat(per_day, len(names)) * np.tile(share, len(day)) * cpl
            day = np.repeat(day, len(names))
        rows_day.append(day)
        rows_channel.append(np.full(len(day), c))
        rows_campaign.append(take(names, camp))
        rows_amount.append(amount)
    amount = np.concatenate(rows_amount)
    noise = rng.lognormal(-(0.1**2) / 2, 0.1, len(amount))  # mean 1: CPL stays true
    day_idx = np.concatenate(rows_day)
    spend_date = dates(cal.days[day_idx])
    channel = take(truth.channels, np.concatenate(rows_channel))
    campaign = pa.concat_arrays(rows_campaign)
    spend_id = join(pc.cast(spend_date, pa.string()), channel, campaign, sep="|")
    table = build_table(
        "marketing_spend",
        {
            "spend_id": spend_id,
            "spend_date": spend_date,
            "channel": channel,
            "campaign": campaign,
            "amount": np.round(amount * noise),
            "currency": constant(truth.currency, len(amount)),
        },
    )
    return table.take(from_numpy(np.lexsort((np.concatenate(rows_channel), day_idx))))
