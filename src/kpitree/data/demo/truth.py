"""What the demo company is, by construction.

The generator draws every fact from the parameters held here, so a test (or a
user checking a dashboard) can compare what kpitree computes from the tables
with the value the data was made from. Rates are probabilities of eventual
conversion: compare them with cohorts old enough to have matured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from statistics import NormalDist

# Funnel stages in order; transition names are "<from>_to_<to>".
FUNNEL: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "won")


@dataclass(frozen=True, slots=True)
class LogNormal:
    """A lognormal distribution given by its median and log-scale sigma."""

    median: float
    sigma: float

    @property
    def mean(self) -> float:
        """Expected value: ``median * exp(sigma² / 2)``."""
        return self.median * math.exp(self.sigma**2 / 2)

    def cdf(self, x: float) -> float:
        """Probability of a value at most ``x``."""
        if x <= 0:
            return 0.0
        return NormalDist().cdf(math.log(x / self.median) / self.sigma)

    def quantile(self, q: float) -> float:
        """The value below which a share ``q`` of draws falls."""
        return self.median * math.exp(self.sigma * NormalDist().inv_cdf(q))


@dataclass(frozen=True, slots=True)
class RepMove:
    """A rep who changed team: facts before ``on`` stay with ``from_team``."""

    rep_id: str
    from_team: str
    to_team: str
    on: date


@dataclass(frozen=True, slots=True)
class DemoTruth:
    """The parameters the demo company was generated from.

    Probabilities are keyed ``[transition][channel][segment]`` where a
    transition is one of ``lead_to_mql``, ``mql_to_sql``, ``sql_to_opportunity``
    and ``opportunity_to_won``. Money is in JPY; lags in business hours are
    counted on the calendar's business clock (``business_hours`` on Japanese
    business days).
    """

    seed: int
    size: str
    fiscal_year: int
    fiscal_year_start: int
    tz: str
    currency: str
    period_start: date  # first day of the previous fiscal year
    period_end: date  # last day of ``fiscal_year``
    as_of: datetime  # exclusive end of the data, tz-aware (UTC)
    business_hours: tuple[int, int]
    departments: tuple[str, ...]
    teams: Mapping[str, str]  # team -> department
    regions: tuple[str, ...]
    segments: tuple[str, ...]
    channels: tuple[str, ...]
    industries: tuple[str, ...]
    labels_ja: Mapping[str, str]
    leads: int  # leads generated (all of them, before any censoring)
    channel_share: Mapping[str, float]
    segment_share: Mapping[str, Mapping[str, float]]  # channel -> segment -> share
    region_share: Mapping[str, float]
    month_seasonality: Mapping[int, float]  # calendar month -> lead volume multiplier
    yoy_growth: float  # lead volume growth of this fiscal year over the previous one
    non_business_day_weight: float  # lead volume of a weekend/holiday vs a business day
    stage_probability: Mapping[str, Mapping[str, Mapping[str, float]]]
    disqualify_probability: Mapping[str, float]  # stage -> P(disqualified | stalled there)
    lead_to_mql_business_hours: LogNormal
    first_response_business_hours: LogNormal  # MQL -> first call or e-mail
    response_sla_business_hours: float
    sql_after_response_business_hours: LogNormal
    opportunity_after_sql_business_hours: LogNormal
    sales_cycle_days: Mapping[str, LogNormal]  # segment -> opportunity to close (lost: x0.8)
    deal_amount: Mapping[str, LogNormal]  # segment -> new-business amount (= first ARR)
    call_connect_rate: float  # inside-sales follow-up calls
    cold_call_connect_rate: float
    cold_calls_per_lead: float  # outbound cold calls (on no lead) per lead generated
    contract_months: int
    renewal_probability: Mapping[str, float]  # segment
    expansion_probability: float  # at renewal
    expansion_uplift: LogNormal  # ARR growth when expanding, e.g. 0.2 = +20%
    contraction_probability: float
    contraction_factor: float
    upsell_deal_probability: float  # per contract term
    upsell_win_rate: float
    upsell_amount_share: LogNormal  # of the contract's ARR
    upsell_cycle_days: LogNormal
    cost_per_lead: Mapping[str, float]  # channel -> JPY per lead
    nps_response_rate: float
    # P(score = 0..10) for customers whose current term renews or will churn.
    nps_score_probability: Mapping[str, tuple[float, ...]]
    movers: tuple[RepMove, ...]

    def expected_rate(
        self,
        from_stage: str,
        to_stage: str,
        *,
        channel: str | None = None,
        segment: str | None = None,
    ) -> float:
        """Probability that a lead at ``from_stage`` eventually reaches ``to_stage``.

        Averaged over the channel and segment mix of the leads that reach
        ``from_stage`` unless ``channel`` / ``segment`` fix them.

        >>> truth.expected_rate("mql", "opportunity")  # doctest: +SKIP
        0.17
        """
        i, j = FUNNEL.index(from_stage), FUNNEL.index(to_stage)
        if j <= i:
            raise ValueError(f"{to_stage!r} does not come after {from_stage!r}")
        reach = num = 0.0
        for ch in self.channels if channel is None else (channel,):
            for seg in self.segments if segment is None else (segment,):
                w = self.channel_share[ch] * self.segment_share[ch][seg]
                for k in range(i):
                    w *= self._p(k, ch, seg)
                p = 1.0
                for k in range(i, j):
                    p *= self._p(k, ch, seg)
                reach += w
                num += w * p
        return num / reach

    def _p(self, k: int, channel: str, segment: str) -> float:
        name = f"{FUNNEL[k]}_to_{FUNNEL[k + 1]}"
        return self.stage_probability[name][channel][segment]

    @property
    def lead_to_opportunity_rate(self) -> float:
        """Expected lead → opportunity rate over the whole mix."""
        return self.expected_rate("lead", "opportunity")

    @property
    def mql_to_opportunity_rate(self) -> float:
        """Expected MQL → opportunity rate (商談化率) over the whole mix."""
        return self.expected_rate("mql", "opportunity")

    @property
    def win_rate(self) -> float:
        """Expected new-business win rate (受注率) over the opportunity mix."""
        return self.expected_rate("opportunity", "won")

    @property
    def response_within_sla_share(self) -> float:
        """Share of first responses within ``response_sla_business_hours``."""
        return self.first_response_business_hours.cdf(self.response_sla_business_hours)

    @property
    def churn_probability(self) -> dict[str, float]:
        """Per segment, the probability that a contract term ends in churn."""
        return {s: 1 - p for s, p in self.renewal_probability.items()}

    def expected_nrr(self, segment: str) -> float:
        """Expected net revenue retention of one contract term in ``segment``."""
        change = (
            self.expansion_probability * self.expansion_uplift.mean
            - self.contraction_probability * (1 - self.contraction_factor)
        )
        return self.renewal_probability[segment] * (1 + change)
