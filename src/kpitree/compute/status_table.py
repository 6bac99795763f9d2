"""The status rows of one segment level, computed a column at a time.

Pace within a period (see docs/engine.md):

- a count or sum *expects* its target times the share of the period passed:
  business days (or calendar days), or for a *scheduled* metric (contract
  terms ending) the share of what falls due in the period that was due by the
  as-of day;
- a formula node that adds up takes its expected-to-date and forecast from
  its children, through its formula, so the KGI's pace is the combination of
  its parts' (a child without data counts as it is, zero, in both);
- rates and averages expect the target itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.compute.columns import Columns
from kpitree.compute.freshness import is_scheduled
from kpitree.compute.judge import Flag, flags_for, references, share_cause, statuses
from kpitree.compute.measure import Level
from kpitree.compute.metrics import Catalogue
from kpitree.compute.pacing import elapsed_shares, open_cohorts, ratios, through_children
from kpitree.compute.targets import SegmentKey, Targets, filtered_key
from kpitree.compute.vector import evaluate_columns, invert_columns, solve_steps
from kpitree.definition.formula import BinOp, Ref
from kpitree.definition.tree import Tree

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Evidence", "level_table"]

NUMBERS = (
    "actual",
    "target",
    "achievement",
    "expected",
    "pace",
    "forecast",
    "previous",
    "last_year",
    "reconciliation",
    "volume",
    "min_volume",
    "converted",
    "missing_values",
    "negative_durations",
)


@dataclass(frozen=True)
class Evidence:
    """What the data says beyond the values: the day of each metric's latest
    fact (``None``: none at all; a metric left out cannot be asked) and, per
    period asked, the share of the scheduled facts due by the as-of day."""

    latest: Mapping[str, dt.date | None] = field(default_factory=dict)
    schedule: Sequence[float | None] = ()
    # The engine's approximation of a median (Trino, BigQuery), or None: exact.
    approximate_median: str | None = None


def _is_median(metric: Any) -> bool:
    """Whether ``metric`` is a median (of durations or of a column)."""
    if metric is None:
        return False
    return bool(metric.type == "median" or getattr(metric.spec, "stat", None) == "median")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _actuals(tree: Tree, frame: Columns, measured: Mapping[str, str]) -> dict[str, Any]:
    """Every node's actual column (measured, computed or implied), its source,
    the nodes each unmeasured one came from, and for rates the node whose
    value is their volume (the denominator)."""
    import numpy as np

    cols: dict[str, Any] = {}
    sources: dict[str, str] = {}
    came_from: dict[str, tuple[str, ...]] = {}
    volume_of: dict[str, str] = {}
    for node_id, metric_id in measured.items():
        cols[node_id] = np.asarray(frame[metric_id], dtype="float64")
        sources[node_id] = "measured"
    for step in solve_steps(tree, set(measured)):
        node = tree.nodes[step.equation]
        formula = node.formula
        assert formula is not None
        if step.forward:
            cols[step.target] = np.broadcast_to(
                evaluate_columns(formula, cols), (len(frame),)
            ).astype("float64")
            sources[step.target] = "computed"
            came_from[step.target] = node.children
            if isinstance(formula, BinOp) and formula.op == "/" and isinstance(formula.right, Ref):
                volume_of[step.target] = formula.right.name
        else:
            value = invert_columns(formula, cols[node.id], step.target, cols)
            if value is None:
                continue
            cols[step.target] = np.broadcast_to(value, (len(frame),)).astype("float64")
            sources[step.target] = "implied"
            came_from[step.target] = tuple(c for c in (node.id, *node.children) if c != step.target)
            if (
                isinstance(formula, BinOp)
                and formula.op == "*"
                and isinstance(formula.left, Ref)
                and isinstance(formula.right, Ref)
            ):
                other = formula.left if formula.right.name == step.target else formula.right
                volume_of[step.target] = other.name
    return {"values": cols, "sources": sources, "came_from": came_from, "volume_of": volume_of}


def _positions(
    by_key: Mapping[tuple[int, tuple[Any, ...]], int],
    period: Any,
    index: Mapping[Any, int],
    segments: Sequence[tuple[Any, ...]],
) -> np.ndarray:
    """Row of ``(period, segment)`` in a level's frame for every segment (-1: none)."""
    import numpy as np

    if period is None:
        return np.full(len(segments), -1, dtype="int64")
    p = index[period]
    return np.fromiter((by_key.get((p, seg), -1) for seg in segments), "int64", len(segments))


def _take(column: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """``column[rows]`` with NaN where ``rows`` is -1 (or there is no column)."""
    import numpy as np

    if column is None:
        return np.full(rows.shape, np.nan)
    taken = column[np.where(rows >= 0, rows, 0)] if len(column) else np.zeros(rows.shape)
    out: np.ndarray = np.where(rows >= 0, taken, np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def level_table(
    tree: Tree,
    catalogue: Catalogue,
    targets: Targets,
    frame: Columns,
    level: Level,
    measured: Mapping[str, str],
    order: Sequence[str],
    spans: tuple[Any, ...],
    as_of: dt.date,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    evidence: Evidence = Evidence(),
) -> Columns:
    """The status rows of one level: arrays of shape (periods, segments,
    nodes) flattened in that order. With ``filters``, each row's target is
    that of the filtered segment, or none
    (:func:`~kpitree.compute.targets.filtered_key`)."""
    import numpy as np

    periods, current, previous, last_year, index = spans
    pacing = tree.pacing
    evaluated = _actuals(tree, frame, measured)
    values: dict[str, Any] = evaluated["values"]
    sources: dict[str, str] = evaluated["sources"]
    came_from: dict[str, tuple[str, ...]] = evaluated["came_from"]
    volume_of: dict[str, str] = evaluated["volume_of"]
    apart: Mapping[str, Any] = frame.attrs.get("not_applicable", {})
    recon: dict[str, Any] = {}
    for node_id in measured:
        node = tree.nodes[node_id]
        if node.formula is not None and all(c in values for c in node.children):
            recon[node_id] = values[node_id] - evaluate_columns(node.formula, values)
    dim_cols = [f"dim__{d}" for d in level]
    seg_values = list(zip(*(frame[c].tolist() for c in dim_cols), strict=True))
    period_idx = frame["period"].tolist()
    by_key: dict[tuple[int, tuple[Any, ...]], int] = {}
    for i in range(len(frame)):
        seg = seg_values[i] if dim_cols else ()
        by_key[(int(period_idx[i]), seg)] = i
    segments = sorted({k[1] for k in by_key}, key=lambda s: tuple(map(_order_text, s)))
    if not level and not segments:
        # Nothing measured at all (the periods start after as_of): the company
        # still has its rows, with targets and no actual.
        segments = [()]
    keys: list[SegmentKey] = [
        tuple((d, None if _missing(v) else str(v)) for d, v in zip(level, seg, strict=True))
        for seg in segments
    ]
    n_p, n_s, n_n = len(periods), len(segments), len(order)
    shape = (n_p, n_s)
    target_keys = [filtered_key(tree, k, filters) for k in keys]
    with_target = [s for s, k in enumerate(target_keys) if k is not None]
    asked_keys = [k for k in target_keys if k is not None]
    now = np.stack([_positions(by_key, p, index, segments) for p in current]) if n_p else None
    prev = np.stack([_positions(by_key, p, index, segments) for p in previous]) if n_p else None
    ly = np.stack([_positions(by_key, p, index, segments) for p in last_year]) if n_p else None
    share, complete = elapsed_shares(tree, periods, as_of)
    scheduled_share = np.asarray(
        [np.nan if s is None else s for s in evidence.schedule] or [np.nan] * n_p, "float64"
    )
    started = np.asarray([c is not None for c in current], dtype=bool)
    zeros = np.zeros(shape)
    complete2 = complete[:, None] & np.ones(shape, dtype=bool)
    started2 = started[:, None] & np.ones(shape, dtype=bool)
    volumes = {}
    for m in set(measured.values()):
        # A rate of money (MRR kept over MRR due) counts the facts below it; a
        # derived metric divided by a metric (NPS over its responses) too.
        spec, expr = catalogue[m].spec, catalogue[m].expr
        below = spec.denominator
        if catalogue[m].type == "derived" and isinstance(expr, BinOp) and expr.op == "/":
            below = expr.right.name if isinstance(expr.right, Ref) else None
        den = catalogue.metrics.get(below or "")
        if den is not None and den.type in ("sum", "count") and f"{den.id}#n" in frame:
            volumes[m] = np.asarray(frame[f"{den.id}#n"], dtype="float64")
        elif f"{m}#n" in frame:
            volumes[m] = np.asarray(frame[f"{m}#n"], dtype="float64")
    # Per node, in the tree's order (children first): the columns of its rows.
    got: dict[str, dict[str, Any]] = {}
    no_data: dict[str, np.ndarray] = {}
    partial: dict[str, np.ndarray] = {}
    partial_nodes: dict[str, list[list[str]]] = {}
    until: dict[str, dt.date | None] = {}
    for node_id in [*tree.order, *(n for n in order if n not in tree.order)]:
        node = tree.nodes[node_id]
        col = values.get(node_id)
        actual = _take(col, now) if now is not None else np.full(shape, np.nan)
        target = np.full(shape, np.nan)
        if asked_keys:
            target[:, with_target] = targets.target_matrix(node_id, periods, asked_keys)
        lower = np.full(shape, node.direction == "lower_is_better")
        metric = catalogue.metrics.get(measured.get(node_id, ""))
        # No data: the metric's source has no fact since the period started.
        empty = np.zeros(n_p, dtype=bool)
        some = np.zeros(n_p, dtype=bool)
        if metric is not None and metric.id in evidence.latest and metric.id not in apart:
            latest = evidence.latest[metric.id]
            until[node_id] = latest
            empty = np.asarray([latest is None or latest < p.start for p in periods], bool)
        elif node_id in came_from:
            parts = [no_data[c] for c in came_from[node_id] if c in no_data]
            if parts and sources.get(node_id) == "computed":
                empty = np.logical_and.reduce(parts)
                some = np.logical_or.reduce(parts) & ~empty
            elif parts:
                empty = np.logical_or.reduce(parts)
        no_data[node_id] = empty
        partial[node_id] = some
        partial_nodes[node_id] = [
            [c for c in came_from.get(node_id, ()) if c in no_data and no_data[c][j]]
            for j in range(n_p)
        ]
        scheduled = is_scheduled(metric) and node.is_additive
        basis = np.full(shape, pacing.basis if node.is_additive else "target", dtype=object)
        if node.is_additive:
            node_share = share.copy()
            if scheduled:
                known_schedule = np.isfinite(scheduled_share)
                node_share = np.where(known_schedule, scheduled_share, share)
                basis[known_schedule, :] = "schedule"
            share2 = node_share[:, None] + zeros
            expected = np.where(complete2, target, target * share2)
            with np.errstate(divide="ignore", invalid="ignore"):
                forecast = np.where(
                    complete2, actual, np.where(share2 > 0, actual / share2, np.nan)
                )
            if scheduled:  # nothing due yet: the plan stands
                forecast = np.where(~complete2 & (share2 == 0), target, forecast)
            if node.formula is not None and all(c in got for c in node.children):
                own = forecast
                expected, forecast = through_children(
                    node, got, no_data, expected, forecast, target, complete2, basis
                )
                if node_id in measured:
                    # A child rate whose cohort is still open (MQL→opportunity
                    # within 90 days) is not final: a measured count keeps its
                    # own run rate rather than one computed from that rate.
                    open_rows = open_cohorts(node, catalogue, measured, current, as_of)
                    forecast = np.where(open_rows[:, None] & ~complete2, own, forecast)
            pace = ratios(actual, expected, lower)
            pace = np.where(~complete2 & (expected == 0), np.nan, pace)
        else:
            expected, forecast = target, actual
            pace = ratios(actual, expected, lower)
        volume = np.full(shape, np.nan)
        if metric is not None and now is not None and metric.id in volumes:
            volume = _take(volumes[metric.id], now)
        elif node_id in volume_of and volume_of[node_id] in values and now is not None:
            volume = _take(values[volume_of[node_id]], now)
        got[node_id] = {
            "actual": actual,
            "target": target,
            "expected": expected,
            "forecast": forecast,
            "pace": pace,
            "volume": volume,
            "lower": lower,
            "basis": basis,
        }
    out = {name: np.full((n_p, n_s, n_n), np.nan) for name in NUMBERS}
    texts = {
        name: np.full((n_p, n_s, n_n), None, dtype=object)
        for name in ("source", "status", "reason", "data_until", "basis", "flags")
    }
    texts["flags"].fill(())
    incomplete = np.zeros((n_p, n_s, n_n), dtype=bool)
    for k, node_id in enumerate(order):
        node = tree.nodes[node_id]
        g = got[node_id]
        col = values.get(node_id)
        actual, target, lower = g["actual"], g["target"], g["lower"]
        empty2 = no_data[node_id][:, None] & np.ones(shape, dtype=bool)
        minimum = pacing.minimum(node)
        status, reason = statuses(
            actual=actual,
            target=target,
            expected=g["expected"],
            pace=g["pace"],
            volume=g["volume"],
            no_data=empty2 & started2,
            started=started2,
            complete=complete2,
            additive=node.is_additive,
            lower=node.direction == "lower_is_better",
            minimum=minimum,
            thresholds=(pacing.on_track, pacing.at_risk),
        )
        blank = empty2 & started2  # no data: nothing to show but the expectation
        shown = np.where(blank, np.nan, actual)
        out["actual"][:, :, k] = shown
        out["target"][:, :, k] = target
        out["achievement"][:, :, k] = ratios(shown, target, lower)
        out["expected"][:, :, k] = g["expected"]
        out["pace"][:, :, k] = np.where(blank, np.nan, g["pace"])
        out["forecast"][:, :, k] = np.where(blank, np.nan, g["forecast"])
        out["volume"][:, :, k] = g["volume"]
        out["min_volume"][:, :, k] = np.nan if minimum is None else minimum
        if prev is not None and ly is not None:
            out["previous"][:, :, k] = _take(col, prev)
            out["last_year"][:, :, k] = _take(col, ly)
        if node_id in recon and now is not None:
            out["reconciliation"][:, :, k] = _take(np.asarray(recon[node_id], "float64"), now)
        if node_id in sources:
            labels = np.full(shape, sources[node_id], dtype=object)
            labels[np.isnan(actual)] = None
            texts["source"][:, :, k] = labels
        texts["status"][:, :, k] = status
        texts["reason"][:, :, k] = reason
        texts["basis"][:, :, k] = np.where(started2, g["basis"], None)
        if node_id in until:
            texts["data_until"][:, :, k] = until[node_id]
        texts["flags"][:, :, k] = flags_for(
            node,
            {"actual": shown},
            status,
            share_cause(tree, catalogue, node, sources.get(node_id)),
            references(node, catalogue),
            partial[node_id][:, None] & np.ones(shape, dtype=bool),
            partial_nodes[node_id],
        )
        metric = catalogue.metrics.get(measured.get(node_id, ""))
        if evidence.approximate_median and _is_median(metric):
            flag = Flag("approximate_median", (("method", evidence.approximate_median),))
            cells = texts["flags"][:, :, k]
            for i, j in zip(*np.nonzero(np.isfinite(shown)), strict=True):
                cells[i, j] = (*cells[i, j], flag)
        if metric is not None and now is not None and metric.type == "conversion":
            window = dt.timedelta(days=metric.spec.window_days or 0)
            for j, p_now in enumerate(current):
                if p_now is not None:
                    incomplete[j, :, k] = p_now.end + window > as_of
        if metric is not None and now is not None:
            # What the value rests on or leaves out, said with it.
            if metric.type == "conversion" and f"{metric.id}#num" in frame:
                converted = np.asarray(frame[f"{metric.id}#num"], dtype="float64")
                out["converted"][:, :, k] = _take(converted, now)
            if f"{metric.id}#q" in frame:
                left_out = _take(np.asarray(frame[f"{metric.id}#q"], dtype="float64"), now)
                name = "negative_durations" if metric.type == "duration" else "missing_values"
                out[name][:, :, k] = left_out
    total = n_p * n_s * n_n
    return Columns(
        {
            # Object columns stay objects: "no status" is None.
            "node": _texts(np.tile(np.asarray(order, dtype=object), n_p * n_s)),
            "period": _texts(
                np.repeat(np.asarray([p.key for p in periods], dtype=object), n_s * n_n)
            ),
            "segment": np.tile(np.repeat(_objects(keys), n_n), n_p),
            "source": _texts(texts["source"].reshape(total)),
            "status": _texts(texts["status"].reshape(total)),
            "incomplete": incomplete.reshape(total),
            **{name: out[name].reshape(total) for name in NUMBERS},
            **{
                name: _texts(texts[name].reshape(total))
                for name in ("reason", "data_until", "basis", "flags")
            },
        },
        total,
    )


def _texts(values: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.asarray(values, dtype=object)


def _order_text(value: Any) -> str:
    """How a segment's value sorts: missing ones as ``nan``, as they always have."""
    return "nan" if _missing(value) else str(value)


def _objects(items: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of ``items`` (tuples stay whole)."""
    import numpy as np

    arr = np.empty(len(items), dtype=object)
    arr[:] = list(items)
    return arr
