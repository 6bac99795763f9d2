"""Raw definition models: what ``kpitree.yaml`` may say, before any resolving.

These pydantic models reject unknown keys and are the source of the published
JSON Schema (``kpitree schema``); a test keeps the shipped schema file in sync.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
)

from kpitree.definition.spec_abm import AbmSpec, BandSpec, CriterionSpec, SignalSpec, TargetListSpec
from kpitree.definition.spec_alerts import (
    AlertRuleSpec,
    ChannelSpec,
    NotificationsSpec,
    QuietHoursSpec,
    RetrySpec,
    SlaSpec,
)
from kpitree.definition.spec_data import (
    DataSourceSpec,
    DataSpec,
    QualitySpec,
)
from kpitree.definition.spec_reports import ReportSpec
from kpitree.definition.spec_scorecards import ScoreAccessSpec, ScoreBandSpec, ScorecardsSpec
from kpitree.definition.spec_sources import SourceSpec
from kpitree.definition.spec_web import WebSpec

__all__ = [
    "AbmSpec",
    "AlertRuleSpec",
    "BandSpec",
    "BenchmarkSpec",
    "ChannelSpec",
    "ChecksSpec",
    "CriterionSpec",
    "DataSourceSpec",
    "DataSpec",
    "DepartmentSpec",
    "LocalizedText",
    "MetricSpec",
    "NodeFileSpec",
    "NodeSpec",
    "NotificationsSpec",
    "PacingSpec",
    "PlanSpec",
    "ProjectSpec",
    "QualitySpec",
    "QuietHoursSpec",
    "ReferenceSpec",
    "RetrySpec",
    "ScenarioSpec",
    "ScoreAccessSpec",
    "ScoreBandSpec",
    "ScorecardsSpec",
    "SignalSpec",
    "SlaSpec",
    "TargetListSpec",
    "TeamSpec",
    "WebSpec",
]

Grain = Literal["day", "week", "month", "quarter", "half", "year"]
UnitName = Literal["count", "currency", "ratio", "days", "hours", "score", "number"]
VolumeUnit = Literal["ratio", "score", "currency", "days", "hours", "number"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class LocalizedText(_Strict):
    """Text in Japanese and/or English: ``{ja: 売上, en: Revenue}``."""

    ja: str | None = None
    en: str | None = None


Text = str | LocalizedText


class BenchmarkSpec(_Strict):
    """A reference range people quote for this KPI (shown as a reference, never
    as truth)."""

    min: float | None = Field(None, description="Lower end of the range.")
    max: float | None = Field(None, description="Upper end of the range.")
    source: str | None = Field(None, description="Where the range comes from.")


class ReferenceSpec(_Strict):
    """The range a metric's values normally fall in; a value outside it is
    flagged (``outside_reference``)."""

    min: float | None = Field(None, description="Lower end of the range.")
    max: float | None = Field(None, description="Upper end of the range.")


class NodeSpec(_Strict):
    """One node of the tree. Its id is its key under ``nodes``."""

    label: Text | None = Field(None, description="Display name, text or {ja, en}.")
    description: Text | None = None
    kind: Literal["kgi", "ksf", "kpi"] = Field(
        "kpi", description="kgi (the one goal), ksf (success factor) or kpi (driver)."
    )
    unit: UnitName | None = Field(None, description="Unit of the value.")
    owner: str | None = Field(
        None,
        description="Owning department: marketing, inside_sales, field_sales, "
        "customer_success, or one declared under organisation.",
    )
    indicator: Literal["leading", "lagging"] | None = None
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    formula: str | None = Field(
        None, description="Arithmetic over other node ids: + - * / ( ) min max abs."
    )
    drivers: list[str] = Field(
        default_factory=list, description="Influence links without arithmetic (node ids)."
    )
    target: float | dict[str, float] | None = Field(
        None,
        description="Target for the plan horizon (one fiscal year), or per period: "
        "{monthly: 34} or {'2026-04': 30, '2026-05': 34, ...}.",
    )
    assume: float | None = Field(None, description="Value assumed for planning.")
    benchmark: BenchmarkSpec | None = None
    metric: str | None = Field(None, description="Data metric that measures this node.")
    period: Grain | None = Field(None, description="Review period (SMART: time-bound).")
    aggregation: Literal["sum", "average"] | None = Field(
        None,
        description="How values combine over time: sum (counts, money: split over months) "
        "or average (rates, prices, durations). Inferred when omitted.",
    )
    min_volume: float | None = Field(
        None,
        ge=0,
        description="Rates and averages: the volume (denominator, number of facts) below "
        "which the status is low_volume instead of on/off track. Default: pacing.min_volume "
        "for the node's unit. Not for nodes that add up (counts, money).",
    )


class TeamSpec(_Strict):
    label: Text | None = None
    share: float = Field(description="Share of the department's plan (shares add up to 1).")
    reps: dict[str, float] = Field(
        default_factory=dict, description="Rep name -> share of the team's plan."
    )


class CapacitySpec(_Strict):
    node: str = Field(description="The node the department's reps carry (e.g. opportunities).")
    min: float | None = Field(
        None, ge=0, description="Fewest per rep per month (lower end of the reference range)."
    )
    max: float = Field(gt=0, description="Most one rep can carry per month.")
    source: str | None = Field(None, description="Where the range comes from.")


class DepartmentSpec(_Strict):
    label: Text | None = None
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    capacity: CapacitySpec | None = Field(
        None, description="What one rep can carry per month (体制の逆算: headcount from the plan)."
    )


class ScenarioSpec(_Strict):
    label: Text | None = None
    description: Text | None = None
    set: dict[str, float] = Field(
        default_factory=dict, description="Node id -> value replacing its target/assumption."
    )


class PlanSpec(_Strict):
    allocation: Literal["even", "business_days", "weights"] = Field(
        "even", description="How horizon values are split over the months of the year."
    )
    weights: dict[str, float] | None = Field(
        None,
        description="With allocation: weights. Month (1-12 or YYYY-MM) -> relative weight.",
    )
    holidays: str = Field("JP", description="Country whose public holidays are closed days.")
    closed_days: list[str] = Field(
        default_factory=list, description="Extra closed days (YYYY-MM-DD), e.g. 12-29..01-03."
    )


class ChecksSpec(_Strict):
    ignore: list[str] = Field(
        default_factory=list, description="Warning codes to silence, e.g. KT106."
    )


FilterScalar = str | int | float | bool | None
FilterValue = FilterScalar | list[FilterScalar] | dict[str, FilterScalar | list[FilterScalar]]


class MetricSpec(_Strict):
    """A data metric over the canonical tables (like a dbt MetricFlow metric).
    A node measures one with ``metric:``; built-in metrics can be redefined."""

    label: Text | None = None
    description: Text | None = None
    type: Literal[
        "count",
        "count_distinct",
        "sum",
        "average",
        "median",
        "min",
        "max",
        "ratio",
        "derived",
        "conversion",
        "duration",
        "sla_compliance",
        "sla_breaches",
        "sla_open",
        "sla_response_p50",
        "sla_response_p95",
    ] = Field(description="What is computed.")
    entity: str | None = Field(
        None,
        description="What is counted: leads, deals, activities, contracts, renewals, "
        "marketing_spend, nps_responses or accounts.",
    )
    measure: str | None = Field(
        None, description="Column summed / averaged / counted distinct (not for count)."
    )
    time: str | None = Field(
        None,
        description="When a fact happens, placing it in a period: a column (created_at, "
        "close_date, ...) or stage:<name> (first entry of a lifecycle stage).",
    )
    where: dict[str, FilterValue] = Field(
        default_factory=dict,
        description="Filters: column -> value, [values] or {op: value} with op one of "
        "eq, ne, lt, le, gt, ge, in, not_in, is_null.",
    )
    numerator: str | None = Field(None, description="ratio: metric counted on top.")
    denominator: str | None = Field(None, description="ratio: metric counted below.")
    expr: str | None = Field(
        None, description="derived: arithmetic over other metrics, e.g. 100 * (a - b) / c."
    )
    from_: str | None = Field(
        None,
        alias="from",
        description="conversion/duration: starting event (stage name, stage:<name> or a "
        "column such as created_at).",
    )
    to: str | None = Field(
        None,
        description="conversion/duration: ending event (stage, column, or first_activity).",
    )
    window_days: int | None = Field(
        None, ge=1, description="conversion: days allowed from the first event to the second."
    )
    mode: Literal["cohort", "period"] = Field(
        "cohort",
        description="conversion: cohort (entrants of the period, converted within the "
        "window) or period (second events over first events in the period).",
    )
    stat: Literal["average", "median"] = Field(
        "average", description="duration: how durations are combined."
    )
    duration_unit: Literal["days", "hours"] = Field("days", description="duration: unit.")
    place_by: Literal["from", "to"] = Field(
        "from", description="duration: which event places a duration in a period."
    )
    credit: str | None = Field(
        None,
        description="Who a fact counts for in department, team and rep views: owner (the "
        "fact's owner, the default), lead_owner (the owner of the lead it came from: the "
        "inside-sales rep who created an opportunity), or a column of the entity holding a "
        "rep id (a canonical column, or attributes.<key> for a source column kept in "
        "attributes: attributes.sourced_by); the fact's owner when that is empty.",
    )
    snapshot: bool = Field(
        False,
        description="Measured at the end of each period over facts open then "
        "(time = opened, close column = closed), e.g. open pipeline.",
    )
    closed_by: str | None = Field(
        None, description="snapshot: column that closes a fact (e.g. close_date)."
    )
    sla: str | None = Field(None, description="sla_*: the SLA rule measured (under sla:).")
    reference: ReferenceSpec | None = Field(
        None,
        description="Range the metric's values normally fall in (a value outside it is "
        "flagged on the nodes that measure it, unless the node has its own benchmark).",
    )

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,
    )


DEFAULT_MIN_VOLUME: dict[str, float] = {
    "ratio": 30.0,
    "score": 30.0,
    "currency": 10.0,
    "days": 10.0,
    "hours": 10.0,
    "number": 10.0,
}


class PacingSpec(_Strict):
    on_track: float = Field(
        1.0, description="Achievement of expected-to-date at or above which a node is on track."
    )
    at_risk: float = Field(
        0.9, description="Achievement at or above which (and below on_track) a node is at risk."
    )
    basis: Literal["business_days", "calendar_days"] = Field(
        "business_days", description="How expected-to-date is paced within a period."
    )
    min_volume: dict[VolumeUnit, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Per unit, the volume (denominator of a rate, number of facts behind "
        "an average) below which a rate or average is low_volume instead of on/off track. "
        "Defaults: ratio 30, score 30, currency 10, days 10, hours 10, number 10; units left "
        "out keep theirs. Counts and sums are never low_volume.",
    )


class DisplaySpec(_Strict):
    amounts: Literal["compact", "full"] = Field(
        "compact",
        description="How amounts read in cards, chart axes and report summaries: compact "
        "(¥2.77億, ¥277M) or full (¥277,131,148). Tables always keep full figures.",
    )


class ProjectSpec(_Strict):
    """The top of ``kpitree.yaml``."""

    kpitree: Literal[1] = Field(description="Format version.")
    name: str
    description: Text | None = None
    fiscal_year_start: int = Field(4, ge=1, le=12, description="First month of the fiscal year.")
    fiscal_year: int | None = Field(
        None, description="Fiscal year of the plan horizon (default: the current one)."
    )
    currency: str = "JPY"
    timezone: str = "Asia/Tokyo"
    period: Grain | None = Field(None, description="Default review period of every node.")
    include: list[str] = Field(
        default_factory=list, description="More node files (glob patterns, relative)."
    )
    nodes: dict[str, NodeSpec] = Field(default_factory=dict)
    plan: PlanSpec = PlanSpec()
    organisation: dict[str, DepartmentSpec] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioSpec] = Field(default_factory=dict)
    data: DataSpec = DataSpec()
    checks: ChecksSpec = ChecksSpec()
    metrics: dict[str, MetricSpec] = Field(
        default_factory=dict, description="Data metrics (built-ins can be redefined)."
    )
    pacing: PacingSpec = PacingSpec()
    funnel: list[str] | None = Field(
        None,
        description="The funnel's stages from the top (e.g. [leads, mqls, opportunities, "
        "won_deals]); each after the first is the one before it times a rate. "
        "Default: the longest such chain the formulas declare.",
    )
    display: DisplaySpec = DisplaySpec()
    alerts: dict[str, AlertRuleSpec] = Field(
        default_factory=dict, description="Alert rules (see docs/alerts.md)."
    )
    notifications: NotificationsSpec = NotificationsSpec()
    sla: dict[str, SlaSpec] = Field(
        default_factory=dict, description="Hand-off SLAs (see docs/alerts.md)."
    )
    reports: dict[str, ReportSpec] = Field(default_factory=dict, description="Scheduled reports.")
    web: WebSpec = Field(
        default_factory=WebSpec, description="Settings of kpitree serve (see docs/web.md)."
    )
    sources: dict[str, SourceSpec] = Field(
        default_factory=dict,
        description="MA/SFA systems kpitree sync reads through their APIs (see docs/sources.md).",
    )
    abm: AbmSpec | None = Field(
        None,
        description="Account-based marketing: account scoring, tiers and target accounts "
        "(see docs/abm.md).",
    )
    scorecards: ScorecardsSpec | None = Field(
        None,
        description="Scorecards for evaluation: weights, scoring rules and who reads "
        "whose card (see docs/review.md).",
    )


class NodeFileSpec(_Strict):
    """A file listed under ``include``: more nodes (and scenarios)."""

    nodes: dict[str, NodeSpec] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioSpec] = Field(default_factory=dict)
