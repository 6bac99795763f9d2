"""The tree with numbers: actual, target, pace, forecast and status of every
node, per period and segment.

How a node gets its actual (the same rules the planner uses, run on data):

- a node with ``metric:`` is *measured*;
- a formula node is *computed* from its children's actuals;
- an input without a metric is *implied* when its parent is measured and its
  siblings are known (an MQL rate as MQLs / leads);
- a node both measured and computable reports the *reconciliation* gap:
  measured minus computed (does won deals x average deal size equal revenue?).

Pacing within a period: expected-to-date is the target times the share of the
period's business days that have passed (sum nodes; average nodes expect the
target itself); the forecast runs the actual at the same rate to the end of the
period. Status compares the actual with expected-to-date (with the target once
the period is over): at or above ``pacing.on_track`` is on track, at or above
``pacing.at_risk`` at risk, below that off track; for lower-is-better nodes the
ratio is inverted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.compute.measure import Level, measure
from kpitree.compute.metrics import Catalogue
from kpitree.compute.periods import Period, elapsed_share
from kpitree.compute.targets import SegmentKey, Targets
from kpitree.compute.vector import evaluate_columns, invert_columns, solve_steps
from kpitree.definition.tree import Tree
from kpitree.planning.attribution import Attribution, attribute

if TYPE_CHECKING:
    import pandas as pd

    from kpitree.engines import Engine

__all__ = ["Bottleneck", "NodeStatus", "StatusResult", "compute_status"]

STATUSES = ("on_track", "at_risk", "off_track")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f


@dataclass(frozen=True)
class NodeStatus:
    node: str
    period: str
    segment: SegmentKey
    actual: float | None
    source: str | None  # measured | computed | implied
    target: float | None
    achievement: float | None  # actual / target (inverted when lower is better)
    expected: float | None  # expected-to-date
    pace: float | None  # actual / expected-to-date (inverted when lower is better)
    forecast: float | None
    status: str | None  # on_track | at_risk | off_track
    previous: float | None
    last_year: float | None
    reconciliation: float | None  # measured - computed from children
    volume: float | None  # facts behind the value (denominator for rates)
    incomplete: bool = False  # a cohort whose conversion window is still open

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "period": self.period,
            "segment": dict(self.segment),
            "actual": self.actual,
            "source": self.source,
            "target": self.target,
            "achievement": self.achievement,
            "expected_to_date": self.expected,
            "pace": self.pace,
            "forecast": self.forecast,
            "status": self.status,
            "previous": self.previous,
            "last_year": self.last_year,
            "reconciliation": self.reconciliation,
            "volume": self.volume,
            "incomplete": self.incomplete,
        }


@dataclass(frozen=True)
class Bottleneck:
    """The funnel step furthest below its target or reference range."""

    node: str
    actual: float
    reference: float
    basis: str  # target | benchmark
    ratio: float  # actual / reference (inverted when lower is better)


@dataclass
class StatusResult:
    periods: list[Period]
    levels: list[Level]
    as_of: dt.date
    rows: list[NodeStatus]
    bottleneck: Bottleneck | None = None
    attribution_vs_target: Attribution | None = None
    attribution_vs_previous: Attribution | None = None
    segment_gaps: dict[Level, list[tuple[SegmentKey, float]]] = field(default_factory=dict)

    def row(self, node: str, period: str | None = None, segment: SegmentKey = ()) -> NodeStatus:
        period = period or self.periods[-1].key
        for r in self.rows:
            if r.node == node and r.period == period and r.segment == segment:
                return r
        raise KeyError((node, period, segment))

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        records = []
        for r in self.rows:
            rec = r.to_json()
            seg = rec.pop("segment")
            rec.update({f"segment.{k}": v for k, v in seg.items()})
            records.append(rec)
        return pd.DataFrame.from_records(records)


def _ratio(actual: float | None, reference: float | None, lower_is_better: bool) -> float | None:
    if actual is None or reference is None:
        return None
    if lower_is_better:
        return None if actual == 0 else reference / actual
    return None if reference == 0 else actual / reference


def _classify(ratio: float | None, on_track: float, at_risk: float) -> str | None:
    if ratio is None:
        return None
    if ratio >= on_track:
        return "on_track"
    return "at_risk" if ratio >= at_risk else "off_track"


def _actuals(tree: Tree, frame: pd.DataFrame, measured: Mapping[str, str]) -> dict[str, Any]:
    """Every node's actual column (measured, computed or implied) and its source."""
    import numpy as np

    cols: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for node_id, metric_id in measured.items():
        cols[node_id] = frame[metric_id].to_numpy(dtype="float64")
        sources[node_id] = "measured"
    for step in solve_steps(tree, set(measured)):
        node = tree.nodes[step.equation]
        assert node.formula is not None
        if step.forward:
            cols[step.target] = np.broadcast_to(
                evaluate_columns(node.formula, cols), (len(frame),)
            ).astype("float64")
            sources[step.target] = "computed"
        else:
            value = invert_columns(node.formula, cols[node.id], step.target, cols)
            if value is None:
                continue
            cols[step.target] = np.broadcast_to(value, (len(frame),)).astype("float64")
            sources[step.target] = "implied"
    return {"values": cols, "sources": sources}


def compute_status(
    tree: Tree,
    catalogue: Catalogue,
    engine: Engine,
    targets: Targets,
    periods: Sequence[Period],
    levels: Sequence[Level] = ((),),
    *,
    as_of: dt.date,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    with_explanations: bool = True,
    compare: bool = True,
    progress: Callable[[str], None] | None = None,
) -> StatusResult:
    """Status of every node for each of ``periods`` (whole periods: they are
    measured up to ``as_of``) and every segment of each level."""
    import numpy as np

    pacing = tree.pacing
    measured = {n.id: n.metric for n in tree.nodes.values() if n.metric}
    # The periods measured: each asked one to date (nothing yet when it starts
    # after as_of), its predecessor and the same stretch of last year.
    current = [p.to_date(as_of) for p in periods]
    previous: list[Period | None] = [p.previous() if compare else None for p in periods]
    last_year = [
        (c or p).same_period_last_year() if c is not None and compare else None
        for p, c in zip(periods, current, strict=True)
    ]
    wanted = [x for x in [*current, *previous, *last_year] if x is not None]
    all_periods = list(dict.fromkeys(wanted))
    index = {p: i for i, p in enumerate(all_periods)}
    if progress:
        progress("measure")
    frames = measure(
        engine,
        catalogue,
        list(dict.fromkeys(measured.values())),
        all_periods,
        levels,
        filters,
        as_of=as_of,
    )
    rows: list[NodeStatus] = []
    order = tree.display_order()
    result = StatusResult(list(periods), list(levels), as_of, rows)
    for level in levels:
        frame = frames[level]
        evaluated = _actuals(tree, frame, measured)
        values: dict[str, Any] = evaluated["values"]
        sources: dict[str, str] = evaluated["sources"]
        recon: dict[str, Any] = {}
        for node_id in measured:
            node = tree.nodes[node_id]
            if node.formula is not None and all(c in values for c in node.children):
                recon[node_id] = values[node_id] - evaluate_columns(node.formula, values)
        dim_cols = [f"dim__{d}" for d in level]
        seg_values = frame[dim_cols].to_numpy(dtype=object) if dim_cols else None
        by_key: dict[tuple[int, tuple[Any, ...]], int] = {}
        period_idx = frame["period"].to_numpy()
        for i in range(len(frame)):
            seg = tuple(seg_values[i]) if seg_values is not None else ()
            by_key[(int(period_idx[i]), seg)] = i
        segments = sorted({k[1] for k in by_key}, key=lambda s: tuple(str(x) for x in s))
        volumes = {
            m: frame[f"{m}#n"].to_numpy(dtype="float64")
            for m in set(measured.values())
            if f"{m}#n" in frame
        }
        for p_full, p_now, p_prev, p_ly in zip(periods, current, previous, last_year, strict=True):
            share = elapsed_share(
                p_full, as_of, country=tree.plan.holidays, closed_days=tree.plan.closed_days
            )
            if pacing.basis == "calendar_days":
                days_done = max(0, min((as_of - p_full.start).days + 1, p_full.days()))
                share = days_done / p_full.days()
            complete = p_full.is_complete(as_of)
            for seg in segments:
                segment: SegmentKey = tuple(
                    (d, None if _missing(v) else str(v)) for d, v in zip(level, seg, strict=True)
                )
                i_now = by_key.get((index[p_now], seg)) if p_now is not None else None
                i_prev = by_key.get((index[p_prev], seg)) if p_prev is not None else None
                i_ly = by_key.get((index[p_ly], seg)) if p_ly is not None else None
                for node_id in order:
                    node = tree.nodes[node_id]
                    col = values.get(node_id)
                    actual = _num(col[i_now]) if col is not None and i_now is not None else None
                    target = targets.target(node_id, p_full, segment)
                    lower = node.direction == "lower_is_better"
                    if target is None:
                        expected = None
                    elif node.is_additive:
                        expected = target if complete else target * share
                    else:
                        expected = target
                    if actual is None:
                        forecast = None
                    elif node.is_additive and not complete:
                        forecast = actual / share if share > 0 else None
                    else:
                        forecast = actual
                    pace = _ratio(actual, expected, lower)
                    if node.is_additive and not complete and share == 0:
                        pace = None
                    metric = catalogue.metrics.get(measured.get(node_id, ""))
                    volume = None
                    if metric is not None and i_now is not None:
                        n_values = volumes.get(metric.id)
                        if n_values is not None:
                            volume = _num(n_values[i_now])
                    incomplete = False
                    if metric is not None and metric.type == "conversion" and p_now:
                        window = metric.spec.window_days or 0
                        incomplete = p_now.end + dt.timedelta(days=window) > as_of
                    rec = recon.get(node_id)
                    rows.append(
                        NodeStatus(
                            node=node_id,
                            period=p_full.key,
                            segment=segment,
                            actual=actual,
                            source=sources.get(node_id) if actual is not None else None,
                            target=target,
                            achievement=_ratio(actual, target, lower),
                            expected=expected,
                            pace=pace,
                            forecast=forecast,
                            status=_classify(pace, pacing.on_track, pacing.at_risk),
                            previous=_num(col[i_prev])
                            if col is not None and i_prev is not None
                            else None,
                            last_year=_num(col[i_ly])
                            if col is not None and i_ly is not None
                            else None,
                            reconciliation=_num(rec[i_now])
                            if rec is not None and i_now is not None
                            else None,
                            volume=volume,
                            incomplete=incomplete,
                        )
                    )
    del np
    if with_explanations and () in frames:
        _explain(result, tree, targets, periods[-1])
    return result


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _explain(result: StatusResult, tree: Tree, targets: Targets, period: Period) -> None:
    """Bottleneck, attribution of the KGI gap (vs target and vs the previous
    period) and the KGI gap by segment, for the last period asked."""
    company = {r.node: r for r in result.rows if r.period == period.key and r.segment == ()}
    worst: Bottleneck | None = None
    for node_id, r in company.items():
        node = tree.nodes[node_id]
        if node.unit_name != "ratio" or r.actual is None:
            continue
        reference, basis = r.target, "target"
        if reference is None and node.benchmark is not None:
            low = node.benchmark.low
            reference, basis = low, "benchmark"
        if reference is None:
            continue
        ratio = _ratio(r.actual, reference, node.direction == "lower_is_better")
        if ratio is None or ratio >= 1.0:
            continue
        if worst is None or ratio < worst.ratio:
            worst = Bottleneck(node_id, r.actual, reference, basis, ratio)
    result.bottleneck = worst
    inputs = tree.inputs
    actual = {n: company[n].actual for n in inputs if n in company}
    target = {n: company[n].target for n in inputs if n in company}
    previous = {n: company[n].previous for n in inputs if n in company}
    if all(actual.get(n) is not None for n in inputs):
        now = {n: float(actual[n] or 0.0) for n in inputs}
        if all(target.get(n) is not None for n in inputs):
            result.attribution_vs_target = attribute(
                tree, {n: float(target[n] or 0.0) for n in inputs}, now
            )
        if all(previous.get(n) is not None for n in inputs):
            result.attribution_vs_previous = attribute(
                tree, {n: float(previous[n] or 0.0) for n in inputs}, now
            )
    kgi = tree.kgi
    for level in result.levels:
        if not level:
            continue
        gaps = [
            (r.segment, r.actual - r.target)
            for r in result.rows
            if r.node == kgi
            and r.period == period.key
            and r.segment
            and len(r.segment) == len(level)
            and r.actual is not None
            and r.target is not None
        ]
        gaps.sort(key=lambda g: g[1])
        result.segment_gaps[level] = gaps
