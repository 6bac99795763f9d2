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
from kpitree.definition.spec_metrics import (
    LocalizedText,
    MetricSpec,
    ReferenceSpec,
    Text,
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


class BenchmarkSpec(_Strict):
    """A reference range people quote for this KPI (shown as a reference, never
    as truth)."""

    min: float | None = Field(None, description="Lower end of the range.")
    max: float | None = Field(None, description="Upper end of the range.")
    source: str | None = Field(None, description="Where the range comes from.")


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
