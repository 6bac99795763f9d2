"""The realised effect of an action on its node, and whether it met the
expected effect — honestly: *inconclusive* when the volume cannot tell.

Windows: *after* runs from the action's start to its due day (to the as-of day
while it runs); *before* is the same number of calendar days just before the
start. Both are measured by ``Project.status`` on the action's node (and
segment, as a filter), so the numbers are the status numbers.

The realised effect is after − before in the node's unit (a rate in points).
Its confidence interval (default 95%, two-sided) depends on the node:

- **a rate** with a volume (entrants) in both windows: the difference of two
  proportions, Wald interval ``d ± z·√(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂)``, with
  ``x = rate × volume`` converted entrants; it needs at least 5 converted and 5
  not converted in each window (the usual rule for the normal approximation);
- **a count** (leads, calls, won deals): the two counts as Poisson counts over
  windows of equal length, ``d ± z·√(a + b)``; it needs at least 5 in each;
- anything else (amounts, averages, formula nodes) has no test from the
  status numbers: *inconclusive* (``no_test``).

Verdict once the window is over, with ``e`` the expected effect (in the
direction it was expected) and ``[lo, hi]`` the interval in that direction:
**met** when ``lo > 0`` and the realised effect reaches ``e``; **not met**
when ``hi < e`` (the data shows the effect fell short); **inconclusive**
otherwise, or when the volume is too low, the after window's cohorts are still
open, or a window has no data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from kpitree.review.actions import Action

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import NodeStatus, StatusResult
    from kpitree.definition.tree import Tree

__all__ = ["CONFIDENCE", "MIN_COUNT", "Outcome", "Window", "measure_action", "windows"]

CONFIDENCE = 0.95
MIN_COUNT = 5

StatusFn = Callable[..., "StatusResult"]


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date
    value: float | None
    volume: float | None  # entrants of a rate, facts of a count

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "value": self.value,
            "volume": self.volume,
        }


@dataclass(frozen=True)
class Outcome:
    """Where an action stands: ``not_started``, ``in_progress`` (with the
    effect so far), or once its window is over ``met``, ``not_met`` or
    ``inconclusive`` (with ``reason``)."""

    action: int
    state: str
    reason: str | None
    before: Window | None
    after: Window | None
    realised: float | None
    expected: float | None
    low: float | None
    high: float | None
    test: str | None  # two_proportion | poisson
    confidence: float
    progress: float  # share of the window's days passed

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "state": self.state,
            "reason": self.reason,
            "before": None if self.before is None else self.before.to_json(),
            "after": None if self.after is None else self.after.to_json(),
            "realised": self.realised,
            "expected": self.expected,
            "interval": None if self.low is None else [self.low, self.high],
            "test": self.test,
            "confidence": self.confidence,
            "progress": self.progress,
        }


def windows(action: Action, as_of: dt.date) -> tuple[dt.date, dt.date, dt.date, dt.date] | None:
    """(before start, before end, after start, after end), or None before the start."""
    if as_of < action.start:
        return None
    end = min(action.due, as_of)
    days = (end - action.start).days + 1
    return (
        action.start - dt.timedelta(days=days),
        action.start - dt.timedelta(days=1),
        action.start,
        end,
    )


def measure_action(
    action: Action,
    tree: Tree,
    status: StatusFn,
    as_of: dt.date,
    *,
    confidence: float = CONFIDENCE,
) -> Outcome:
    """The action's outcome as of ``as_of``; ``status`` is ``Project.status``."""
    from kpitree.compute.periods import Period

    span = windows(action, as_of)
    total = (action.due - action.start).days + 1
    if span is None or action.node not in tree.nodes:
        reason = None if span is None else "unknown_node"
        state = "not_started" if span is None else "inconclusive"
        return Outcome(
            action.id, state, reason, None, None, None, None, None, None, None, confidence, 0.0
        )
    b0, b1, a0, a1 = span
    fys = tree.fiscal_year_start
    periods = [Period(b0, b1, "range", fys), Period(a0, a1, "range", fys)]
    filters: Mapping[str, Sequence[str | None]] | None = (
        {d: [v] for d, v in action.segment} if action.segment else None
    )
    result = status(periods, as_of=as_of, filters=filters, explain=False, compare=False)
    before_row = result.row(action.node, periods[0].key)
    after_row = result.row(action.node, periods[1].key)
    return judge(action, tree, before_row, after_row, periods, as_of, total, confidence)


def judge(
    action: Action,
    tree: Tree,
    before_row: NodeStatus,
    after_row: NodeStatus,
    periods: Sequence[Period],
    as_of: dt.date,
    total_days: int,
    confidence: float = CONFIDENCE,
) -> Outcome:
    node = tree.nodes[action.node]
    before = Window(periods[0].start, periods[0].end, before_row.actual, before_row.volume)
    after = Window(periods[1].start, periods[1].end, after_row.actual, after_row.volume)
    progress = min(1.0, ((periods[1].end - periods[1].start).days + 1) / total_days)
    running = as_of < action.due

    def out(state: str, reason: str | None, **kw: Any) -> Outcome:
        values = {"realised": None, "expected": None, "low": None, "high": None, "test": None}
        values.update(kw)
        return Outcome(
            action.id,
            state,
            reason,
            before,
            after,
            confidence=confidence,
            progress=progress,
            **values,
        )

    if before.value is None or after.value is None:
        return out("in_progress" if running else "inconclusive", "no_data")
    realised = after.value - before.value
    expected = action.effect.delta(before.value)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    test: str | None = None
    se: float | None = None
    reason: str | None = None
    if node.unit_name == "ratio" and before.volume and after.volume:
        test = "two_proportion"
        n1, n2 = before.volume, after.volume
        p1, p2 = before.value, after.value
        x1, x2 = p1 * n1, p2 * n2
        if min(x1, n1 - x1, x2, n2 - x2) < MIN_COUNT or not (0 <= p1 <= 1 and 0 <= p2 <= 1):
            reason = "low_volume"
        else:
            se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    elif node.unit_name == "count" and node.is_additive:
        test = "poisson"
        a, b = after.value, before.value
        if min(a, b) < MIN_COUNT:
            reason = "low_volume"
        else:
            se = math.sqrt(a + b)
    else:
        reason = "no_test"
    low = high = None
    if se is not None:
        low, high = realised - z * se, realised + z * se
    common = {"realised": realised, "expected": expected, "low": low, "high": high, "test": test}
    if running:
        return out("in_progress", reason, **common)
    if reason is None and after_row.incomplete:
        reason = "cohort_open"
    if reason is not None or low is None or high is None:
        return out("inconclusive", reason, **common)
    sign = 1.0 if expected >= 0 else -1.0
    lo, hi = sorted((sign * low, sign * high))
    if lo > 0 and sign * realised >= abs(expected):
        return out("met", None, **common)
    if hi < abs(expected):
        return out("not_met", None, **common)
    return out("inconclusive", "cannot_tell", **common)


def change_text(value: float | None, unit: str | None, currency: str, lang: str) -> str:
    """A change as people read it: ``+10.2pt`` for a rate, ``+123`` for a count."""
    from kpitree.i18n.numbers import format_value

    if value is None or math.isnan(value):
        return "—"
    sign = "+" if value >= 0 else "-"
    if unit == "ratio":
        return f"{sign}{abs(value) * 100:.1f}pt"
    return sign + format_value(abs(value), unit, currency, lang)


def outcome_text(outcome: Outcome, unit: str | None, currency: str, lang: str) -> str:
    """The state in words (a running action with the share of its window
    passed), with the realised effect against the expected one, the interval
    and the volume behind each window: ``達成: 実績 +10.2pt（期待 +5.0pt、
    95%区間 +6.3pt〜+14.1pt、母数 前 1,520・後 1,488）``."""
    from kpitree.i18n import t

    state = t(f"review.state.{outcome.state}", lang=lang)
    if outcome.state == "in_progress":
        state = t(
            "review.state_progress", lang=lang, state=state, percent=f"{outcome.progress * 100:.0f}"
        )
    reason = t(f"review.reason.{outcome.reason}", lang=lang) if outcome.reason else None
    if outcome.realised is None:
        return (
            state
            if reason is None
            else t("review.with_reason", lang=lang, text=state, reason=reason)
        )
    interval = (
        t(
            "review.interval",
            lang=lang,
            confidence=f"{outcome.confidence * 100:.0f}",
            low=change_text(outcome.low, unit, currency, lang),
            high=change_text(outcome.high, unit, currency, lang),
        )
        if outcome.low is not None
        else t("review.no_interval", lang=lang)
    )
    text = t(
        "review.outcome",
        lang=lang,
        state=state,
        realised=change_text(outcome.realised, unit, currency, lang),
        expected=change_text(outcome.expected, unit, currency, lang),
        interval=interval,
        volume=t(
            "review.volume",
            lang=lang,
            before=_volume(outcome.before, lang),
            after=_volume(outcome.after, lang),
        ),
    )
    return text if reason is None else t("review.with_reason", lang=lang, text=text, reason=reason)


def _volume(window: Window | None, lang: str) -> str:
    """The facts behind a window (a rate's entrants), or a dash."""
    from kpitree.i18n.numbers import format_value

    return "—" if window is None else format_value(window.volume, "count", lang=lang)
