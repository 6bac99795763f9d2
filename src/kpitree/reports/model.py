"""The review pack as plain data: computed once by :mod:`kpitree.reports.build`,
then rendered to every format, so PDF, Excel, HTML and Markdown show the same
numbers. Values are kept raw (for Excel cells); :meth:`Report.fmt` turns one
into the text every text format prints."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kpitree.compute.landing import BurnupPoint
from kpitree.i18n.numbers import format_value
from kpitree.reports.accounts import AccountsSection
from kpitree.reports.actions import ActionLine
from kpitree.reports.quality import QualitySection

__all__ = [
    "AlertLine",
    "AlertsSection",
    "BottleneckLine",
    "DepartmentSection",
    "Driver",
    "FunnelStep",
    "Gap",
    "NodeLine",
    "PeriodInfo",
    "Report",
    "ReportKind",
    "SegmentLine",
    "SlaRuleLine",
    "SlaSection",
    "Trend",
]

ReportKind = Literal["weekly", "monthly"]


@dataclass(frozen=True)
class PeriodInfo:
    key: str
    label: str
    start: dt.date
    end: dt.date
    complete: bool


@dataclass(frozen=True)
class NodeLine:
    """One node's numbers for one period and segment (a row of the tree)."""

    node: str
    label: str
    depth: int
    kind: str
    unit: str | None
    owner: str | None
    actual: float | None
    target: float | None
    achievement: float | None
    expected: float | None
    pace: float | None
    forecast: float | None
    previous: float | None
    status: str | None
    status_text: str


@dataclass(frozen=True)
class Driver:
    """An input's share of a gap, in the KGI's unit (Shapley attribution)."""

    node: str
    label: str
    amount: float
    actual: float | None
    reference: float | None
    unit: str | None


@dataclass(frozen=True)
class SegmentLine:
    """A team or rep on one node: its numbers and its gap to expected-to-date."""

    segment: str
    node: str
    label: str
    unit: str | None
    actual: float | None
    expected: float | None
    pace: float | None
    gap: float | None
    status: str | None
    status_text: str
    # The segment as filters ((department, id), (team, name), ...): its records.
    filters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Gap:
    """A node behind its pace and where (teams and reps) it is behind."""

    line: NodeLine
    gap: float  # actual - expected-to-date, in the node's unit
    segments: list[SegmentLine]


@dataclass(frozen=True)
class BottleneckLine:
    node: str
    label: str
    actual: float
    reference: float
    basis: str  # pace (the period is running) | target
    ratio: float
    impact: float  # the KGI change the step explains (negative: its cost)
    sentence: str  # "商談化率 12.8%（目標17.8%）: 売上への影響 -¥41,670,546"
    target: float | None
    benchmark_low: float | None
    benchmark_high: float | None
    benchmark_source: str | None


@dataclass(frozen=True)
class FunnelStep:
    """A stage of the funnel (a count) and the rate that leads to the next one."""

    stage: NodeLine
    rate: NodeLine | None
    benchmark_low: float | None = None
    benchmark_high: float | None = None


@dataclass(frozen=True)
class Trend:
    """Actual and target of some nodes over the last periods, oldest first."""

    periods: list[str]  # period labels
    keys: list[str]  # period keys
    series: dict[str, tuple[list[float | None], list[float | None]]]  # node -> (actual, target)


@dataclass(frozen=True)
class DepartmentSection:
    id: str
    label: str
    kpis: list[NodeLine]
    trend: Trend
    focus: str | None  # the node teams and reps are ranked on
    best: list[SegmentLine]
    worst: list[SegmentLine]


@dataclass(frozen=True)
class SlaRuleLine:
    rule: str
    label: str
    compliance: float | None
    p50_hours: float | None
    p95_hours: float | None
    met: int | None
    breaches: int | None
    open: int | None


@dataclass(frozen=True)
class SlaSection:
    configured: bool
    rules: list[SlaRuleLine] = field(default_factory=list)
    owners: list[SlaRuleLine] = field(default_factory=list)  # per rule and owner
    breaches: list[dict[str, str]] = field(default_factory=list)  # column -> text
    measured_at: str | None = None  # the local moment the cases stand at


@dataclass(frozen=True)
class AlertLine:
    at: str
    kind: str
    severity: str
    rule: str
    node: str
    segment: str
    message: str


@dataclass(frozen=True)
class AlertsSection:
    configured: bool
    events: list[AlertLine] = field(default_factory=list)


@dataclass(frozen=True)
class TimelineNoteLine:
    """A note on the timeline in the report's period (what happened then)."""

    start: str
    end: str
    node: str | None  # the node's label; None: about every node
    segment: str | None
    text: str


@dataclass
class Report:
    """A weekly or monthly review pack (レビュー資料)."""

    project: str
    kind: ReportKind
    lang: str
    currency: str
    as_of: dt.date
    period: PeriodInfo
    context: PeriodInfo | None  # the month to date of a weekly report
    kgi: NodeLine
    kgi_context: NodeLine | None
    tree: list[NodeLine]
    gaps: list[Gap]
    drivers: list[Driver]  # each input once: its share of the KGI's gap to expected-to-date
    bottleneck: BottleneckLine | None
    funnel: list[FunnelStep]
    departments: list[DepartmentSection]
    sla: SlaSection
    alerts: AlertsSection
    narrative: list[str]
    next_action_rows: int = 5  # blank rows to fill in, after the actions listed
    actions: list[ActionLine] = field(default_factory=list)  # open and due in the period
    validity: dict[str, Any] | None = None  # KPI validity review (packs ending a quarter)
    burnup: list[BurnupPoint] = field(default_factory=list)  # the KGI's year (monthly packs)
    quality: QualitySection = field(default_factory=QualitySection)  # monthly packs
    notes: list[TimelineNoteLine] = field(default_factory=list)  # notes in the period
    accounts: AccountsSection = field(default_factory=AccountsSection)  # monthly, with abm:
    # Node -> its records on the dashboard in the report's period (with
    # notifications.base_url; see kpitree.reports.links).
    records: dict[str, str] = field(default_factory=dict)

    def fmt(self, value: float | None, unit: str | None) -> str:
        """``value`` as every text format prints it (``—`` for none)."""
        return format_value(value, unit, self.currency, self.lang)

    @staticmethod
    def pct(value: float | None) -> str:
        """A ratio of achievement or pace, as the status table prints it (87%)."""
        return "—" if value is None else f"{value * 100:,.0f}%"

    @property
    def title_key(self) -> str:
        return f"reports.title.{self.kind}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _plain(asdict(self))
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
