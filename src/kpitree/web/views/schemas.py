"""Response models of the JSON twins (``/api/...``), for the OpenAPI
description. They describe the view models of :mod:`kpitree.web.views`; keys
beyond the ones listed are allowed and kept."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CacheState",
    "DepartmentPage",
    "DepartmentsPage",
    "FunnelPage",
    "NodePage",
    "PlanPage",
    "RecordsPage",
    "ScenarioSaved",
    "ScenarioToSave",
    "TreePage",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PeriodInfo(_Open):
    key: str = Field(description="Canonical period: 2026-10, FY2026-Q3, FY2026 ...")
    label: str = Field(description="The period as people read it (2026年10月).")
    grain: str
    start: str
    end: str


class Table(_Open):
    columns: list[dict[str, str]] = Field(description="{key, label} per column.")
    rows: list[list[Any]] = Field(description="Raw values (numbers unformatted).")


class Numbers(_Open):
    actual: float | None = None
    target: float | None = None
    achievement: float | None = Field(
        None, description="actual / target (inverted when lower is better)."
    )
    expected: float | None = Field(
        None,
        description="Expected to date: the target paced by business days, by the schedule "
        "of what falls due (renewals), or from the children through the formula.",
    )
    pace: float | None = None
    forecast: float | None = None
    previous: float | None = None
    last_year: float | None = None
    reconciliation: float | None = Field(None, description="Measured minus computed.")
    source: str | None = Field(None, description="measured | computed | implied")
    status: str | None = Field(
        None, description="on_track | at_risk | off_track | no_data | low_volume | null"
    )
    status_reason: str | None = Field(
        None,
        description="Why there is no status: no_target | no_actual | not_started; "
        "nothing_due when a count is on track because nothing was expected yet.",
    )
    status_label: str
    status_icon: str
    status_note: str | None = Field(
        None, description="In words: since when there is no data, the volume, the pacing."
    )
    data_until: str | None = Field(None, description="Day of the source's latest fact.")
    pace_basis: str | None = Field(
        None, description="business_days | calendar_days | schedule | children | target"
    )
    volume: float | None = Field(None, description="Facts behind the value (denominator).")
    min_volume: float | None = Field(None, description="Volume below which it is low_volume.")
    flags: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Flags on the value: {code, badge, message, ...}; codes rate_above_one, "
        "outside_reference, unlinked_facts, partial_data.",
    )
    display: dict[str, str] = Field(description="The same values formatted for people.")


class NodeInfo(_Open):
    id: str
    label: str
    kind: str = Field(description="kgi | ksf | kpi")
    unit: str | None
    owner: str | None
    formula: str | None
    children: list[str]
    drivers: list[str]
    parents: list[str]
    benchmark: dict[str, Any] | None = Field(
        None, description="Reference range {low, high, source}."
    )


class TreeNode(NodeInfo, Numbers):
    trend: dict[str, Any] = Field(
        description="{periods, labels, values, targets, points, partial, in_progress, scale, "
        "scale_text}: the last 12 periods; scale: the lowest, highest and last value as printed."
    )
    not_applicable: dict[str, Any] | None = Field(
        None,
        description="{dimensions, text} when the node's metric cannot be filtered by "
        "a filter of the page (no value rather than an unfiltered one).",
    )


class Page(_Open):
    page: str
    project: str
    query: dict[str, Any] = Field(description="Period, filters, by, drill and language asked.")
    tables: dict[str, Table] = Field(description="Every table of the page (downloadable).")


class TreePage(Page):
    period: PeriodInfo
    as_of: str
    kgi: str
    layout: list[dict[str, Any]] = Field(description="Boxes nested from the KGI.")
    nodes: dict[str, TreeNode]
    bottleneck: dict[str, Any] | None


class NodePage(Page):
    period: PeriodInfo
    as_of: str
    node: dict[str, Any] = Field(description="The node's definition and numbers.")
    series: list[dict[str, Any]] = Field(description="Actual, target and last year per period.")
    links: list[dict[str, Any]] = Field(description="Children, drivers and parents with numbers.")
    breakdown: dict[str, Any] = Field(description="Rows per segment of the level shown.")
    contributions: dict[str, Any] = Field(description="The gap to target split over inputs.")
    notes: list[str]


class FunnelPage(Page):
    period: PeriodInfo
    as_of: str
    stages: list[dict[str, Any]]
    steps: list[dict[str, Any]] = Field(description="Period and cohort rates per step.")
    chart: dict[str, Any] = Field(
        description="The funnel as drawn: {in_progress, partial, period, cohort}; period and "
        "cohort are rows from the top: bar {key, label, value, display, href}, link {key, "
        "display, detail, warn} (the conversion between the bars around it), gap."
    )
    bottleneck: dict[str, Any] | None


class DepartmentsPage(Page):
    period: PeriodInfo
    as_of: str
    kgi: dict[str, str]
    departments: list[dict[str, Any]]


class DepartmentPage(Page):
    period: PeriodInfo
    as_of: str
    department: dict[str, str]
    kpis: list[dict[str, Any]]


class PlanPage(Page):
    fiscal_year: int
    periods: list[str]
    sets: dict[str, float] = Field(description="The changed values (node -> value).")
    ok: bool
    inputs: list[dict[str, Any]]
    nodes: list[dict[str, Any]] = Field(description="Every node: year value and months.")
    scenarios: list[dict[str, Any]]
    diagnostics: list[dict[str, Any]]
    capacity: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per department with a capacity: load per rep, implied headcount.",
    )
    from_actuals: dict[str, Any] | None = Field(
        None, description="With from=actuals: closed and open months, changes, landing."
    )


class RecordList(_Open):
    role: str = Field(description="facts | entrants | converted | a metric id (derived).")
    metric: str
    entity: str = Field(description="leads, deals, activities, renewals, ...")
    label: str
    count: int = Field(description="Rows in the list: the number it explains.")
    selected: bool


class RecordRow(_Open):
    values: dict[str, Any] = Field(description="Raw values by column key.")
    display: dict[str, str] = Field(description="Values as the page shows them.")
    source_url: str | None = Field(
        None, description="The record in its source system (data.record_links)."
    )


class RecordsPage(_Open):
    page: str
    project: str
    query: dict[str, Any]
    period: PeriodInfo
    as_of: str
    node: dict[str, Any] = Field(description="The node's definition and numbers.")
    lists: list[RecordList] = Field(description="The lists behind the number (a rate: two).")
    role: str | None = Field(description="The list shown (null: the node has none).")
    columns: list[dict[str, str]] = Field(description="{key, label} per column.")
    rows: list[RecordRow] = Field(description="One page of the list shown.")
    total: int = Field(description="Rows matching the search.")
    count: int = Field(description="Rows in the list shown, without the search.")
    value_total: float | None = Field(description="Sum of the value column (amounts).")
    page_number: int
    page_size: int


class ScenarioToSave(BaseModel):
    """A scenario to write into kpitree.yaml."""

    name: str = Field(
        description="Scenario id: a letter, then letters, digits, _ or -.",
        json_schema_extra={"pattern": r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"},
    )
    label: str | None = Field(None, description="Its name as people read it.")
    set: dict[str, float] = Field(
        description="Node id -> value replacing its target/assumption.",
        json_schema_extra={"minProperties": 1},
    )


class ScenarioSaved(BaseModel):
    saved: str
    scenarios: list[str]


class CacheState(BaseModel):
    entries: int = Field(description="Status results and page views kept.")
    hits: int
    misses: int
    warming: bool = Field(description="The background warm-up is running (or not yet done).")
    warm_rounds: int = Field(description="Warm-ups finished: at startup and after new data.")
    last_warm_seconds: float | None
