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

from kpitree.compute.explain import Bottleneck, explain_status
from kpitree.compute.measure import Level, measure
from kpitree.compute.metrics import Catalogue
from kpitree.compute.periods import Period, elapsed_share
from kpitree.compute.querycache import QueryCache
from kpitree.compute.targets import SegmentKey, Targets, filtered_key
from kpitree.compute.vector import evaluate_columns, invert_columns, solve_steps
from kpitree.definition.tree import Tree
from kpitree.planning.attribution import Attribution

if TYPE_CHECKING:
    import numpy as np
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


# The columns of ``StatusResult.frame`` besides node, period and segment.
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
)


@dataclass
class StatusResult:
    """Status of every node per period and segment.

    ``frame`` is the result as a table (one row per level, period, segment and
    node, in that order; numbers are floats with NaN for "none"); ``rows`` gives
    the same rows as :class:`NodeStatus` objects, built on first use.
    """

    periods: list[Period]
    levels: list[Level]
    as_of: dt.date
    frame: pd.DataFrame
    bottleneck: Bottleneck | None = None
    attribution_vs_target: Attribution | None = None
    """The KGI's gap to pace (expected-to-date) split over the inputs; the gap
    to target once the period is over (see :mod:`kpitree.compute.explain`)."""
    attribution_vs_previous: Attribution | None = None
    attribution_forecast_vs_target: Attribution | None = None
    """The whole period: the KGI's forecast against its target, by input."""
    gap_basis: str = "target"  # pace while the last period asked runs, then target
    filled_from_plan: tuple[str, ...] = ()
    """Inputs without data that took their plan value in the attributions."""
    segment_gaps: dict[Level, list[tuple[SegmentKey, float]]] = field(default_factory=dict)
    not_applicable: dict[Level, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """Per level, the measured nodes whose metric cannot be split or filtered
    by a dimension asked for, with those dimensions (their values are none)."""
    _rows: list[NodeStatus] | None = field(default=None, repr=False)
    _index: dict[tuple[str, str, SegmentKey], int] | None = field(default=None, repr=False)
    _arrays: dict[str, Any] | None = field(default=None, repr=False)
    _levels: tuple[dict[Level, int], np.ndarray] | None = field(default=None, repr=False)

    @property
    def rows(self) -> list[NodeStatus]:
        if self._rows is None:
            self._rows = [self._make(i) for i in range(len(self.frame))]
        return self._rows

    def _make(self, i: int) -> NodeStatus:
        cols = self._columns()
        nums = {name: _num(cols[name][i]) for name in NUMBERS}
        return NodeStatus(
            node=cols["node"][i],
            period=cols["period"][i],
            segment=cols["segment"][i],
            source=cols["source"][i],
            status=cols["status"][i],
            incomplete=bool(cols["incomplete"][i]),
            **nums,
        )

    def _columns(self) -> dict[str, Any]:
        if self._arrays is None:
            self._arrays = {c: self.frame[c].to_numpy() for c in self.frame.columns}
        return self._arrays

    def row(self, node: str, period: str | None = None, segment: SegmentKey = ()) -> NodeStatus:
        period = period or self.periods[-1].key
        if self._index is None:
            cols = self._columns()
            self._index = {
                (n, p, seg): i
                for i, (n, p, seg) in enumerate(
                    zip(cols["node"], cols["period"], cols["segment"], strict=True)
                )
            }
        i = self._index.get((node, period, segment))
        if i is None:
            raise KeyError((node, period, segment))
        return self.rows[i] if self._rows is not None else self._make(i)

    def select(
        self,
        *,
        node: str | None = None,
        period: str | None = None,
        level: Level | None = None,
    ) -> list[NodeStatus]:
        """The rows of ``node``, ``period`` and segment ``level`` (``()``: the
        company), each left out to mean all, in the order of :attr:`rows`;
        found on the columns, without making the other rows."""
        import numpy as np

        cols = self._columns()
        keep = np.ones(len(self.frame), dtype=bool)
        if node is not None:
            keep &= cols["node"] == node
        if period is not None:
            keep &= cols["period"] == period
        if level is not None:
            codes, per_row = self._level_codes()
            keep &= per_row == codes.get(level, -1)
        made = self._rows
        return [made[i] if made is not None else self._make(i) for i in keep.nonzero()[0].tolist()]

    def _level_codes(self) -> tuple[dict[Level, int], np.ndarray]:
        """A number per segment level, and each row's (made once)."""
        import numpy as np

        if self._levels is None:
            codes: dict[Level, int] = {}
            per_row = np.fromiter(
                (
                    codes.setdefault(tuple(d for d, _ in seg), len(codes))
                    for seg in self._columns()["segment"]
                ),
                dtype="int64",
                count=len(self.frame),
            )
            self._levels = (codes, per_row)
        return self._levels

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a table with a ``segment.<dimension>`` column per dimension."""
        out = self.frame.rename(columns={"expected": "expected_to_date"})
        numbers = [c if c != "expected" else "expected_to_date" for c in NUMBERS]
        out[numbers] = out[numbers].astype("object").where(out[numbers].notna(), None)
        dims = list(dict.fromkeys(d for level in self.levels for d in level))
        for d in dims:
            out[f"segment.{d}"] = [dict(seg).get(d) for seg in out["segment"]]
        order = [
            "node", "period", "actual", "source", "target", "achievement",
            "expected_to_date", "pace", "forecast", "status", "previous", "last_year",
            "reconciliation", "volume", "incomplete",
        ]  # fmt: skip
        return out[[*order, *(f"segment.{d}" for d in dims)]].reset_index(drop=True)


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


def _ratios(actual: np.ndarray, reference: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """actual / reference (reference / actual when lower is better), NaN where
    the divisor is 0."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        higher = np.where(reference != 0, actual / reference, np.nan)
        inverted = np.where(actual != 0, reference / actual, np.nan)
    out: np.ndarray = np.where(lower, inverted, higher)
    return out


def _positions(
    by_key: Mapping[tuple[int, tuple[Any, ...]], int],
    period: Period | None,
    index: Mapping[Period, int],
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


def _level_table(
    tree: Tree,
    catalogue: Catalogue,
    targets: Targets,
    frame: pd.DataFrame,
    level: Level,
    measured: Mapping[str, str],
    order: Sequence[str],
    spans: tuple[Any, ...],
    as_of: dt.date,
    filters: Mapping[str, Sequence[str | None]] | None = None,
) -> pd.DataFrame:
    """The status rows of one level, computed a column at a time: arrays of
    shape (periods, segments, nodes) flattened in that order. With
    ``filters``, each row's target is that of the filtered segment, or none
    (:func:`~kpitree.compute.targets.filtered_key`)."""
    import numpy as np
    import pandas as pd

    periods, current, previous, last_year, index = spans
    pacing = tree.pacing
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
    period_idx = frame["period"].to_numpy()
    by_key: dict[tuple[int, tuple[Any, ...]], int] = {}
    for i in range(len(frame)):
        seg = tuple(seg_values[i]) if seg_values is not None else ()
        by_key[(int(period_idx[i]), seg)] = i
    segments = sorted({k[1] for k in by_key}, key=lambda s: tuple(str(x) for x in s))
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
    share = np.empty(n_p)
    complete = np.empty(n_p, dtype=bool)
    for j, p_full in enumerate(periods):
        share[j] = elapsed_share(
            p_full, as_of, country=tree.plan.holidays, closed_days=tree.plan.closed_days
        )
        if pacing.basis == "calendar_days":
            days_done = max(0, min((as_of - p_full.start).days + 1, p_full.days()))
            share[j] = days_done / p_full.days()
        complete[j] = p_full.is_complete(as_of)
    share2 = share[:, None] + np.zeros(shape)
    complete2 = complete[:, None] & np.ones(shape, dtype=bool)
    out = {name: np.full((n_p, n_s, n_n), np.nan) for name in NUMBERS}
    source = np.full((n_p, n_s, n_n), None, dtype=object)
    incomplete = np.zeros((n_p, n_s, n_n), dtype=bool)
    volumes = {
        m: frame[f"{m}#n"].to_numpy(dtype="float64")
        for m in set(measured.values())
        if f"{m}#n" in frame
    }
    for k, node_id in enumerate(order):
        node = tree.nodes[node_id]
        col = values.get(node_id)
        actual = _take(col, now) if now is not None else np.full(shape, np.nan)
        target = np.full(shape, np.nan)
        if asked_keys:
            target[:, with_target] = targets.target_matrix(node_id, periods, asked_keys)
        lower = np.full(shape, node.direction == "lower_is_better")
        if node.is_additive:
            expected = np.where(complete2, target, target * share2)
            with np.errstate(divide="ignore", invalid="ignore"):
                forecast = np.where(
                    complete2, actual, np.where(share2 > 0, actual / share2, np.nan)
                )
            pace = _ratios(actual, expected, lower)
            pace = np.where(~complete2 & (share2 == 0), np.nan, pace)
        else:
            expected, forecast = target, actual
            pace = _ratios(actual, expected, lower)
        out["actual"][:, :, k] = actual
        out["target"][:, :, k] = target
        out["achievement"][:, :, k] = _ratios(actual, target, lower)
        out["expected"][:, :, k] = expected
        out["pace"][:, :, k] = pace
        out["forecast"][:, :, k] = forecast
        if prev is not None and ly is not None:
            out["previous"][:, :, k] = _take(col, prev)
            out["last_year"][:, :, k] = _take(col, ly)
        if node_id in recon and now is not None:
            out["reconciliation"][:, :, k] = _take(np.asarray(recon[node_id], "float64"), now)
        if node_id in sources:
            labels = np.full(shape, sources[node_id], dtype=object)
            labels[np.isnan(actual)] = None
            source[:, :, k] = labels
        metric = catalogue.metrics.get(measured.get(node_id, ""))
        if metric is not None and now is not None:
            n_values = volumes.get(metric.id)
            if n_values is not None:
                out["volume"][:, :, k] = _take(n_values, now)
            if metric.type == "conversion":
                window = dt.timedelta(days=metric.spec.window_days or 0)
                for j, p_now in enumerate(current):
                    if p_now is not None:
                        incomplete[j, :, k] = p_now.end + window > as_of
    pace = out["pace"]
    known = ~np.isnan(pace)
    status = np.full(pace.shape, None, dtype=object)
    status[known] = "off_track"
    status[known & (pace >= pacing.at_risk)] = "at_risk"
    status[known & (pace >= pacing.on_track)] = "on_track"
    total = n_p * n_s * n_n
    table = pd.DataFrame(
        {
            # Object columns stay objects: pandas would turn text columns into
            # strings whose missing value is NaN, and "no status" is None.
            "node": _texts(np.tile(np.asarray(order, dtype=object), n_p * n_s)),
            "period": _texts(
                np.repeat(np.asarray([p.key for p in periods], dtype=object), n_s * n_n)
            ),
            "segment": np.tile(np.repeat(_objects(keys), n_n), n_p) if n_s else [],
            "source": _texts(source.reshape(total)),
            "status": _texts(status.reshape(total)),
            "incomplete": incomplete.reshape(total),
            **{name: out[name].reshape(total) for name in NUMBERS},
        }
    )
    return table


def _texts(values: np.ndarray) -> pd.Series:
    import pandas as pd

    return pd.Series(values, dtype=object)


def _objects(items: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of ``items`` (tuples stay whole)."""
    import numpy as np

    arr = np.empty(len(items), dtype=object)
    arr[:] = list(items)
    return arr


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
    cache: QueryCache | None = None,
) -> StatusResult:
    """Status of every node for each of ``periods`` (whole periods: they are
    measured up to ``as_of``) and every segment of each level."""
    import pandas as pd

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
        cache=cache,
    )
    order = tree.display_order()
    pieces = []
    for level in levels:
        pieces.append(
            _level_table(
                tree,
                catalogue,
                targets,
                frames[level],
                level,
                measured,
                order,
                (periods, current, previous, last_year, index),
                as_of,
                filters,
            )
        )
    frame = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    result = StatusResult(list(periods), list(levels), as_of, frame)
    for level in levels:
        absent: dict[str, tuple[str, ...]] = frames[level].attrs.get("not_applicable", {})
        if absent:
            result.not_applicable[level] = {
                node_id: dims
                for node_id, metric_id in measured.items()
                for used in catalogue.closure([metric_id])
                if (dims := absent.get(used)) is not None
            }
    if with_explanations and () in frames:
        explain_status(result, tree, periods[-1])
    return result


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
