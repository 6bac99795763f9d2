"""Pace within a period, a column at a time: the share of each period passed,
the ratio of an actual to its target, a formula node's expected-to-date and
forecast through its children, and which periods still wait on an open cohort
(see :mod:`kpitree.compute.status_table` for where they are used)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.metrics import Catalogue
from kpitree.compute.periods import elapsed_share
from kpitree.compute.vector import evaluate_columns
from kpitree.definition.tree import Tree

if TYPE_CHECKING:
    import numpy as np

__all__ = ["elapsed_shares", "open_cohorts", "ratios", "through_children"]


def ratios(actual: np.ndarray, reference: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """actual / reference (reference / actual when lower is better), NaN where undefined."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        higher = np.where(reference != 0, actual / reference, np.nan)
        inverted = np.where(actual != 0, reference / actual, np.nan)
    out: np.ndarray = np.where(lower, inverted, higher)
    return out


def elapsed_shares(tree: Tree, periods: Sequence[Any], as_of: dt.date) -> tuple[Any, Any]:
    """Per period: the share passed by ``as_of`` and whether it is over."""
    import numpy as np

    share = np.empty(len(periods))
    complete = np.empty(len(periods), dtype=bool)
    for j, p_full in enumerate(periods):
        share[j] = elapsed_share(
            p_full, as_of, country=tree.plan.holidays, closed_days=tree.plan.closed_days
        )
        if tree.pacing.basis == "calendar_days":
            days_done = max(0, min((as_of - p_full.start).days + 1, p_full.days()))
            share[j] = days_done / p_full.days()
        complete[j] = p_full.is_complete(as_of)
    return share, complete


def through_children(
    node: Any,
    got: Mapping[str, Mapping[str, Any]],
    no_data: Mapping[str, np.ndarray],
    expected: np.ndarray,
    forecast: np.ndarray,
    target: np.ndarray,
    complete: np.ndarray,
    basis: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """A formula node's expected-to-date and forecast from its children's,
    through the formula, while the period is in progress and the node has a
    target. A child without data takes its actual (zero for counts and sums)
    in both; a child without a forecast yet (a rate with no facts) its target."""
    import numpy as np

    assert node.formula is not None
    shape = expected.shape
    exp_in: dict[str, Any] = {}
    fc_in: dict[str, Any] = {}
    for c in node.children:
        child = got[c]
        empty = no_data.get(c, np.zeros(shape[0], dtype=bool))[:, None] & np.ones(shape, bool)
        exp_in[c] = np.where(empty, child["actual"], child["expected"])
        fc = np.where(np.isfinite(child["forecast"]), child["forecast"], child["target"])
        fc_in[c] = np.where(empty, child["actual"], fc)
    with np.errstate(divide="ignore", invalid="ignore"):
        exp_f = np.broadcast_to(evaluate_columns(node.formula, exp_in), shape)
        fc_f = np.broadcast_to(evaluate_columns(node.formula, fc_in), shape)
    use = ~complete & np.isfinite(exp_f) & np.isfinite(target)
    basis[use] = "children"
    expected = np.where(use, exp_f, expected)
    forecast = np.where(~complete & np.isfinite(fc_f) & np.isfinite(target), fc_f, forecast)
    return expected, forecast


def open_cohorts(
    node: Any,
    catalogue: Catalogue,
    measured: Mapping[str, str],
    current: Sequence[Any],
    as_of: dt.date,
) -> np.ndarray:
    """Per period, whether a child of ``node`` is measured by a cohort
    conversion whose window is still open on ``as_of``."""
    import numpy as np

    out = np.zeros(len(current), dtype=bool)
    for c in node.children:
        metric = catalogue.metrics.get(measured.get(c, ""))
        if metric is None or metric.type != "conversion" or metric.spec.mode == "period":
            continue
        window = dt.timedelta(days=metric.spec.window_days or 0)
        out |= np.asarray([p is not None and p.end + window > as_of for p in current], bool)
    return out
