"""The resolved tree: frozen, linked, checked. Only this form travels beyond
``kpitree.definition``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kpitree.definition.formula import Expr, refs
from kpitree.definition.spec_abm import AbmSpec
from kpitree.definition.spec_alerts import AlertRuleSpec, NotificationsSpec, SlaSpec
from kpitree.definition.spec_data import LandedSpec, QualitySpec
from kpitree.definition.spec_metrics import DEFAULT_MIN_VOLUME, MetricSpec
from kpitree.definition.spec_scorecards import ScorecardsSpec
from kpitree.definition.spec_web import WebSpec
from kpitree.definition.units import Unit
from kpitree.errors import Span

__all__ = [
    "Benchmark",
    "Capacity",
    "Department",
    "Label",
    "MetricDef",
    "Node",
    "Organisation",
    "Pacing",
    "PlanSettings",
    "Scenario",
    "Target",
    "Team",
    "Tree",
]


@dataclass(frozen=True, slots=True)
class Label:
    """A name in Japanese and/or English."""

    ja: str | None
    en: str | None

    def text(self, lang: str, fallback: str = "") -> str:
        """The label in ``lang``, else in the other language, else ``fallback``."""
        first, second = (self.ja, self.en) if lang == "ja" else (self.en, self.ja)
        return first or second or fallback


@dataclass(frozen=True, slots=True)
class Target:
    """A node's target: for the whole horizon, per month (``YYYY-MM``), or both
    (``{monthly: 34}`` gives every month the same value)."""

    horizon: float | None = None
    per_period: Mapping[str, float] = field(default_factory=dict)
    monthly: float | None = None


@dataclass(frozen=True, slots=True)
class Benchmark:
    """The range a node's value usually falls in, and where that range comes from."""

    low: float | None
    high: float | None
    source: str | None

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the tree: a KGI, KSF or KPI, an input or computed by its formula."""

    id: str
    label: Label
    kind: str  # kgi | ksf | kpi
    unit_name: str | None
    unit: Unit | None
    aggregation: str  # sum | average
    owner: str | None = None
    description: Label | None = None
    indicator: str | None = None
    direction: str = "higher_is_better"
    formula: Expr | None = None
    formula_text: str | None = None
    drivers: tuple[str, ...] = ()
    target: Target | None = None
    assume: float | None = None
    benchmark: Benchmark | None = None
    metric: str | None = None
    period: str | None = None
    span: Span | None = None
    min_volume: float | None = None  # rates and averages: below it, status is low_volume
    _children: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Walked for every node by planning and status: computed once.
        if self.formula is not None:
            names = tuple(dict.fromkeys(r.name for r in refs(self.formula)))
            object.__setattr__(self, "_children", names)

    @property
    def children(self) -> tuple[str, ...]:
        """Node ids the formula uses, each once, in source order."""
        return self._children

    @property
    def is_input(self) -> bool:
        """An input (leaf) has no formula: its value comes from a target, an
        assumption, data or the plan."""
        return self.formula is None

    @property
    def is_additive(self) -> bool:
        """Whether values add up over time (and split over months and teams)."""
        return self.aggregation == "sum"

    def display(self, lang: str) -> str:
        return self.label.text(lang, self.id)


@dataclass(frozen=True, slots=True)
class Team:
    """A team of a department: its share of the department's targets and its reps' shares."""

    id: str
    label: Label
    share: float
    reps: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Capacity:
    """What one rep of a department can carry per month of ``node``."""

    node: str
    max: float
    min: float | None = None


@dataclass(frozen=True, slots=True)
class Department:
    """A department of the organisation and its teams."""

    id: str
    label: Label
    teams: tuple[Team, ...]
    capacity: Capacity | None = None

    @property
    def reps(self) -> int:
        """Reps declared in the department's teams."""
        return sum(len(team.reps) for team in self.teams)


@dataclass(frozen=True, slots=True)
class Organisation:
    """The departments that targets are split over."""

    departments: Mapping[str, Department] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named set of node values, each replacing the node's target or assumption in a plan."""

    id: str
    label: Label
    values: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """How a plan spreads yearly values over months, and the calendar it counts days by."""

    allocation: str = "even"  # even | business_days | weights
    weights: Mapping[int, float] | None = None  # month number (1-12) -> weight
    holidays: str = "JP"
    closed_days: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A metric defined in the project; ``spans`` locates its keys for messages."""

    id: str
    spec: MetricSpec
    span: Span | None = None
    spans: Mapping[str, Span] = field(default_factory=dict)


@dataclass(frozen=True)
class Pacing:
    """When a node is on track or at risk, and the volume below which a rate is not judged."""

    on_track: float = 1.0
    at_risk: float = 0.9
    basis: str = "business_days"  # business_days | calendar_days
    min_volume: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_VOLUME))

    def minimum(self, node: Node) -> float | None:
        """The volume below which ``node`` (a rate or average) is ``low_volume``;
        ``None`` for nodes that add up (counts, money), which never are."""
        if node.is_additive:
            return None
        if node.min_volume is not None:
            return node.min_volume
        return self.min_volume.get(node.unit_name or "")


@dataclass(frozen=True)
class Tree:
    """A checked KPI tree. ``order`` lists node ids so that every node comes
    after the nodes its formula uses (inputs first, the KGI last)."""

    name: str
    nodes: Mapping[str, Node]
    kgi: str
    order: tuple[str, ...]
    fiscal_year_start: int = 4
    fiscal_year: int | None = None
    currency: str = "JPY"
    timezone: str = "Asia/Tokyo"
    amounts: str = "compact"  # compact | full: cards, chart axes, report summaries
    plan: PlanSettings = PlanSettings()
    organisation: Organisation = Organisation()
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    root: Path | None = None
    data_sources: tuple[tuple[str, str, str | None], ...] = ()  # (file, mapping, sheet)
    warehouse: str | None = None
    landed: LandedSpec | None = None  # data.landed: tables an ELT tool landed
    quality: QualitySpec = field(default_factory=QualitySpec)
    metrics: Mapping[str, MetricDef] = field(default_factory=dict)
    pacing: Pacing = Pacing()
    funnel: tuple[str, ...] = ()  # stages named by the project (else found from formulas)
    target_files: tuple[str, ...] = ()
    # Fact table -> URL of a record in its source system, ``{id}`` standing for
    # the record's id (``data.record_links``).
    record_links: Mapping[str, str] = field(default_factory=dict)
    alerts: Mapping[str, AlertRuleSpec] = field(default_factory=dict)
    notifications: NotificationsSpec = field(default_factory=NotificationsSpec)
    sla: Mapping[str, SlaSpec] = field(default_factory=dict)
    web: WebSpec = field(default_factory=WebSpec)
    abm: AbmSpec | None = None  # account scoring, tiers and target accounts
    scorecards: ScorecardsSpec = field(default_factory=ScorecardsSpec)

    def __getitem__(self, node_id: str) -> Node:
        return self.nodes[node_id]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input nodes (no formula) that the KGI depends on, in ``order``."""
        needed = self.descendants(self.kgi)
        return tuple(n for n in self.order if n in needed and self.nodes[n].is_input)

    def descendants(self, node_id: str) -> set[str]:
        """``node_id`` and every node its formula reaches, transitively."""
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.nodes[current].children)
        return seen

    def display_order(self) -> tuple[str, ...]:
        """Nodes as a person reads the tree: the KGI, then depth-first through
        formulas and influence links, then anything not connected."""
        seen: dict[str, None] = {}
        stack = [self.kgi]
        while stack:
            current = stack.pop()
            if current in seen or current not in self.nodes:
                continue
            seen[current] = None
            node = self.nodes[current]
            stack.extend(reversed([*node.children, *node.drivers]))
        return (*seen, *(n for n in self.nodes if n not in seen))

    def parents(self, node_id: str) -> tuple[str, ...]:
        """Nodes whose formula uses ``node_id``."""
        return tuple(n.id for n in self.nodes.values() if node_id in n.children)
