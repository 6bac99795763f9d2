"""Explanations on top of a status: the KGI's gap split over the inputs, and the
funnel's bottleneck.

**Gaps are measured against pace.** While a period runs, an input is compared
with its expected-to-date value (the target times the share of the period that
has passed for counts and money; the target itself for rates and averages),
never with the whole period's target: on the 6th of a month a lead count that
is on pace explains nothing. Once the period is over expected-to-date is the
target. The whole-period view stays available as *forecast vs target*: each
input's forecast (run rate to the end of the period) against its target.

**Inputs without data take their plan value.** An input whose actual is
missing (no renewals fell due yet, no contract data was ever imported) takes
the value it was expected to have, so it explains nothing; the inputs that did
so are listed (``filled``).

**The bottleneck** is the funnel step (:func:`kpitree.definition.funnel.funnel_steps`)
whose rate's shortfall against its pace costs the KGI the most, by the exact
attribution of the KGI's gap to pace, among steps with enough volume (the
step's entrants to date, at least the rate's ``min_volume``, or
:data:`MIN_STEP_VOLUME` where none is set). A step at or above
its pace costs nothing; when no step costs anything there is no bottleneck.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from kpitree.definition.funnel import funnel_steps
from kpitree.planning.attribution import Attribution, Contribution, attribute

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.definition.tree import Tree

__all__ = [
    "MIN_STEP_VOLUME",
    "Bottleneck",
    "GapValues",
    "describe_bottleneck",
    "explain_status",
    "find_bottleneck",
    "gap_values",
    "measured_nodes",
]

# Entrants a funnel step needs to date before its rate can be called the
# bottleneck: below that a rate swings by chance.
MIN_STEP_VOLUME = 30


@dataclass(frozen=True)
class Bottleneck:
    """The funnel step whose shortfall against pace costs the KGI the most."""

    node: str  # the step's rate node
    actual: float
    reference: float  # the rate's target (a rate's pace is its target)
    basis: str  # pace (the period is running) | target (it is over)
    ratio: float  # actual / reference (inverted when lower is better)
    impact: float  # the KGI change the step's rate explains (negative: its cost)
    kgi: str
    from_node: str
    to_node: str
    volume: float | None  # the step's entrants to date


@dataclass(frozen=True)
class GapValues:
    """Input values to attribute between: ``base`` (expected-to-date, or the
    target) and ``current`` (actual, or forecast); ``filled`` lists the inputs
    without data that took their plan value."""

    base: dict[str, float]
    current: dict[str, float]
    filled: tuple[str, ...]
    # Measured formula nodes (opportunities beside MQLs × a cohort rate): their
    # own values, so that the attribution explains the measured change and
    # shows what the formula does not compute as their reconciliation.
    base_nodes: dict[str, float] = field(default_factory=dict)
    current_nodes: dict[str, float] = field(default_factory=dict)


def _no_data(row: NodeStatus | None, field: str) -> bool:
    if row is None or getattr(row, field) is None:
        return True
    return row.status == "no_data"


def gap_values(
    tree: Tree,
    company: Mapping[str, NodeStatus],
    inputs: Iterable[str] | None = None,
    *,
    view: str = "pace",
) -> GapValues | None:
    """The values of ``inputs`` (default: the KGI's) to compare: ``view="pace"``
    expected-to-date → actual, ``view="forecast"`` target → forecast. An input
    without data takes its base value; ``None`` when an input has no target."""
    base_field, current_field = ("expected", "actual") if view == "pace" else ("target", "forecast")
    base: dict[str, float] = {}
    current: dict[str, float] = {}
    filled: list[str] = []
    for n in tree.inputs if inputs is None else inputs:
        row = company.get(n)
        reference = None if row is None else getattr(row, base_field)
        if reference is None:
            return None
        base[n] = float(reference)
        if _no_data(row, current_field) or (row is not None and row.incomplete):
            # No data, or a cohort whose window is still open (its rate may
            # still rise): the plan value, so that it explains nothing yet.
            current[n] = base[n]
            filled.append(n)
        else:
            current[n] = float(getattr(row, current_field))
    base_nodes, current_nodes = measured_nodes(tree, company, base_field, current_field)
    return GapValues(base, current, tuple(filled), base_nodes, current_nodes)


def measured_nodes(
    tree: Tree, company: Mapping[str, NodeStatus], base_field: str, current_field: str
) -> tuple[dict[str, float], dict[str, float]]:
    """The ``base_field`` and ``current_field`` values of the formula nodes that
    are measured and have data, for :func:`~kpitree.planning.attribution.attribute`."""
    base: dict[str, float] = {}
    current: dict[str, float] = {}
    for n, node in tree.nodes.items():
        row = company.get(n)
        if node.formula is None or row is None or row.source != "measured":
            continue
        b, c = getattr(row, base_field), getattr(row, current_field)
        if b is None or c is None or _no_data(row, current_field):
            continue
        base[n], current[n] = float(b), float(c)
    return base, current


def _through(contribution: Contribution, node_id: str) -> Fraction | None:
    """The KGI change flowing through ``node_id``, added over every path."""
    if contribution.node == node_id:
        return contribution.contribution
    total: Fraction | None = Fraction(0)
    for child in contribution.children:
        share = _through(child, node_id)
        if share is None or total is None:
            total = None
        else:
            total += share
    return total


def _enough_volume(rate: NodeStatus, entrants: float | None) -> bool:
    """Whether a step has the volume to be named: not flagged as low volume,
    and at least the rate's own minimum volume (the project's ``min_volume``),
    or :data:`MIN_STEP_VOLUME` where it has none, entrants to date when they are
    known."""
    if rate.status == "low_volume":
        return False
    minimum = MIN_STEP_VOLUME if rate.min_volume is None else rate.min_volume
    return entrants is None or entrants >= minimum


def find_bottleneck(
    tree: Tree,
    company: Mapping[str, NodeStatus],
    attribution: Attribution | None,
    basis: str,
) -> Bottleneck | None:
    """The funnel step whose rate's share of the KGI's gap (``attribution``,
    pace view) is the most negative, among steps with enough volume."""
    if attribution is None:
        return None
    worst: Bottleneck | None = None
    for step in funnel_steps(tree):
        rate = company.get(step.rate_node)
        if rate is None or rate.actual is None or rate.target is None:
            continue
        stage = company.get(step.from_node)
        entrants = rate.volume if rate.volume is not None else (stage.actual if stage else None)
        if not _enough_volume(rate, entrants):
            continue
        share = _through(attribution.tree, step.rate_node)
        if share is None or share >= 0:
            continue
        lower = tree.nodes[step.rate_node].direction == "lower_is_better"
        if lower:
            ratio = rate.target / rate.actual if rate.actual else 0.0
        else:
            ratio = rate.actual / rate.target if rate.target else 0.0
        impact = float(share)
        if worst is None or impact < worst.impact:
            worst = Bottleneck(
                node=step.rate_node,
                actual=rate.actual,
                reference=rate.target,
                basis=basis,
                ratio=ratio,
                impact=impact,
                kgi=tree.kgi,
                from_node=step.from_node,
                to_node=step.to_node,
                volume=entrants,
            )
    return worst


def describe_bottleneck(tree: Tree, bottleneck: Bottleneck, lang: str | None = None) -> str:
    """The bottleneck in one sentence: "商談化率 12.8%（目標17.8%）: 売上への影響
    −¥41,670,546（ペース比）"."""
    from kpitree.i18n import t
    from kpitree.i18n.numbers import format_value

    node = tree.nodes[bottleneck.node]
    kgi = tree.nodes[bottleneck.kgi]
    lang_code = lang or _lang()
    return t(
        f"status.bottleneck.{bottleneck.basis}",
        lang=lang_code,
        node=node.display(lang_code),
        actual=format_value(bottleneck.actual, node.unit_name, tree.currency, lang_code),
        reference=format_value(bottleneck.reference, node.unit_name, tree.currency, lang_code),
        kgi=kgi.display(lang_code),
        impact=format_value(bottleneck.impact, kgi.unit_name, tree.currency, lang_code),
    )


def _lang() -> str:
    from kpitree.i18n import current_lang

    return current_lang()


def explain_status(result: StatusResult, tree: Tree, period: Period) -> None:
    """Fill ``result``'s explanations for ``period`` (the company rows): the
    attribution of the KGI's gap to pace (``attribution_vs_target``) and of its
    forecast to the target, the change from the previous period, the
    bottleneck, and the KGI's gap to pace by segment."""
    import numpy as np

    table = result.table
    rows = len(table)
    depth = np.fromiter(map(len, table["segment"]), "int64", rows)
    here = table["period"] == period.key
    company = {
        r.node: r for r in (result._make(int(i)) for i in (here & (depth == 0)).nonzero()[0])
    }
    basis = "target" if period.is_complete(result.as_of) else "pace"
    result.gap_basis = basis
    pace = gap_values(tree, company)
    if pace is not None:
        result.attribution_vs_target = attribute(
            tree,
            pace.base,
            pace.current,
            base_nodes=pace.base_nodes,
            current_nodes=pace.current_nodes,
        )
        result.filled_from_plan = pace.filled
    forecast = gap_values(tree, company, view="forecast")
    if forecast is not None:
        result.attribution_forecast_vs_target = attribute(
            tree,
            forecast.base,
            forecast.current,
            base_nodes=forecast.base_nodes,
            current_nodes=forecast.current_nodes,
        )
    inputs = tree.inputs
    actual = {n: company[n].actual for n in inputs if n in company}
    previous = {n: company[n].previous for n in inputs if n in company}
    if all(actual.get(n) is not None for n in inputs) and all(
        previous.get(n) is not None for n in inputs
    ):
        before, now = measured_nodes(tree, company, "previous", "actual")
        result.attribution_vs_previous = attribute(
            tree,
            {n: float(previous[n] or 0.0) for n in inputs},
            {n: float(actual[n] or 0.0) for n in inputs},
            base_nodes=before,
            current_nodes=now,
        )
    result.bottleneck = find_bottleneck(tree, company, result.attribution_vs_target, basis)
    kgi = tree.kgi
    for level in result.levels:
        if not level:
            continue
        got, expected = table["actual"], table["expected"]
        pick = (
            here
            & (depth == len(level))
            & (table["node"] == kgi)
            & ~np.isnan(got)
            & ~np.isnan(expected)
        )
        gaps = [(table["segment"][i], float(got[i] - expected[i])) for i in pick.nonzero()[0]]
        gaps.sort(key=lambda g: g[1])
        result.segment_gaps[level] = gaps
