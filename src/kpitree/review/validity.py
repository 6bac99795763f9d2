"""KPI validity review (KPI妥当性の見直し): does each KPI, and each influence
link (``drivers:``), earn its place in the tree? Judged from the project's
own monthly history, with the evidence and the number of months behind it.

For every KPI, over the complete months before the as-of day (``months``,
default 24), from one ``Project.status`` call:

- **variation**: the coefficient of variation of its monthly actuals; below
  ``FLAT`` (2%) it does not move, so it cannot tell anyone anything;
- **lead on the KGI**: the Pearson correlation between the KPI's month-over-
  month *changes* and the KGI's changes ``lag`` months later, for lags 0 to
  ``MAX_LAG``; the lag with the largest |r| is kept with its p-value (Fisher's
  z, two-sided), multiplied by the number of lags tried (Bonferroni). Changes,
  not levels, so that two series that merely grow together are not called
  related. Significant when p < 0.05 with at least ``MIN_PAIRS`` pairs;
- **always green / always red**: at least 90% of the months on
  track (targets too easy) or off track (too hard), over ``MIN_MONTHS`` or more
  months paced against a target (months without data or too few facts left out);
- **owner** and **freshness** (its data's latest fact against
  ``data.quality.stale_after_days``), and for a node both measured and
  computed, the largest reconciliation gap (measured − computed) in the months.

An influence link ``drivers: [x]`` on node ``y`` is judged the same way, with
``x`` leading ``y`` instead of the KGI.

Verdicts, first that applies: **not enough history** (fewer than
``MIN_MONTHS`` months with data, or fewer than ``MIN_PAIRS`` pairs where the
lead is what decides); **drop** (no data, or flat); **replace** (a KPI that
reaches the KGI only through influence links, or stands alone, without a
significant lead; a link that does not hold); **re-target** (always green or
always red); **keep**. A KPI in the KGI's arithmetic is not replaced for a weak
correlation: the formula makes it part of the KGI.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, field
from statistics import NormalDist, mean, pstdev
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.definition.tree import Tree
    from kpitree.review.service import ActionProject

__all__ = ["FLAT", "MAX_LAG", "MIN_MONTHS", "MIN_PAIRS", "Lead", "Validity", "validity_review"]

FLAT = 0.02
MAX_LAG = 3
MIN_MONTHS = 6
MIN_PAIRS = 10
SIGNIFICANCE = 0.05
ALWAYS = 0.9


@dataclass(frozen=True)
class Lead:
    """The strongest lagged correlation of month-over-month changes."""

    lag: int  # months
    r: float
    p: float  # two-sided, Bonferroni-adjusted over the lags tried
    pairs: int

    @property
    def significant(self) -> bool:
        return self.pairs >= MIN_PAIRS and self.p < SIGNIFICANCE

    def to_json(self) -> dict[str, Any]:
        return {"lag_months": self.lag, "r": self.r, "p": self.p, "pairs": self.pairs}


@dataclass(frozen=True)
class Validity:
    """The verdict on a KPI (``link`` None) or on the link ``link -> node``."""

    node: str
    link: str | None  # the driver of an influence link
    verdict: str  # keep | re_target | replace | drop | not_enough_history
    reasons: tuple[str, ...]
    months: int  # months with data
    variation: float | None
    lead: Lead | None
    on_track_share: float | None
    off_track_share: float | None
    owner: str | None
    data_until: dt.date | None
    stale: bool
    reconciliation: float | None  # largest |measured - computed| / |measured|
    in_formula: bool  # part of the KGI's arithmetic
    series: list[float | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "link": self.link,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "months": self.months,
            "variation": self.variation,
            "lead": None if self.lead is None else self.lead.to_json(),
            "on_track_share": self.on_track_share,
            "off_track_share": self.off_track_share,
            "owner": self.owner,
            "data_until": None if self.data_until is None else self.data_until.isoformat(),
            "stale": self.stale,
            "reconciliation": self.reconciliation,
            "in_formula": self.in_formula,
        }


def _changes(values: list[float | None]) -> list[float | None]:
    return [None if a is None or b is None else b - a for a, b in itertools.pairwise(values)]


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    mx, my = mean(xs), mean(ys)
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if sx == 0 or sy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (sx * sy)


def lead(driver: list[float | None], target: list[float | None]) -> Lead | None:
    """The lag (0..MAX_LAG months) at which the driver's changes best match
    the target's later changes."""
    dx, dy = _changes(driver), _changes(target)
    best: Lead | None = None
    for lag in range(min(MAX_LAG, len(dx) - 1) + 1):
        pairs = [
            (x, y)
            for x, y in zip(dx[: len(dx) - lag], dy[lag:], strict=True)
            if x is not None and y is not None
        ]
        r = _pearson([p[0] for p in pairs], [p[1] for p in pairs])
        if r is None:
            continue
        n = len(pairs)
        if n > 3 and abs(r) < 1:
            z = math.atanh(r) * math.sqrt(n - 3)
            p = min(1.0, 2 * (1 - NormalDist().cdf(abs(z))) * (MAX_LAG + 1))
        else:
            p = 0.0 if abs(r) >= 1 and n > 3 else 1.0
        found = Lead(lag, r, p, n)
        if best is None or abs(r) > abs(best.r):
            best = found
    return best


def _formula_nodes(tree: Tree) -> set[str]:
    """Nodes reached from the KGI through formulas only."""
    seen: set[str] = set()
    stack = [tree.kgi]
    while stack:
        node_id = stack.pop()
        if node_id in seen or node_id not in tree.nodes:
            continue
        seen.add(node_id)
        stack.extend(tree.nodes[node_id].children)
    return seen


def history_months(as_of: dt.date, months: int, fiscal_year_start: int) -> list[Period]:
    """The ``months`` complete months before the one containing ``as_of``, oldest first."""
    from kpitree.compute.periods import period_of

    current = period_of(as_of, "month", fiscal_year_start)
    out: list[Period] = []
    for _ in range(months):
        current = current.previous()
        out.insert(0, current)
    return out


def validity_review(
    project: ActionProject, as_of: dt.date | None = None, months: int = 24
) -> list[Validity]:
    """Every KPI and every influence link of the tree, judged from history."""
    tree = project.tree
    day = as_of or project.today()
    periods = history_months(day, months, tree.fiscal_year_start)
    result = project.status(periods, as_of=day, explain=False, compare=False)
    keys = [p.key for p in periods]

    def series(node: str, name: str) -> list[Any]:
        return [getattr(result.row(node, k), name) for k in keys]

    in_formula = _formula_nodes(tree)
    kgi = series(tree.kgi, "actual")
    out: list[Validity] = []
    for node in tree.nodes.values():
        if node.kind != "kpi":
            continue
        out.append(_judge(tree, node.id, None, series, kgi, node.id in in_formula, day))
        for driver in node.drivers:
            if driver in tree.nodes:
                target = series(node.id, "actual")
                out.append(_judge(tree, driver, node.id, series, target, False, day))
    return out


def _judge(
    tree: Tree,
    node_id: str,
    linked_to: str | None,
    series: Any,
    target: list[float | None],
    in_formula: bool,
    day: dt.date,
) -> Validity:
    """A KPI against the KGI (``linked_to`` None) or the link node -> linked_to."""
    node = tree.nodes[node_id]
    actual: list[float | None] = series(node_id, "actual")
    statuses: list[str | None] = [
        s if isinstance(s, str) else None for s in series(node_id, "status")
    ]
    known = [v for v in actual if v is not None]
    months = len(known)
    variation = None
    if months >= 2:
        centre = mean(known)
        variation = pstdev(known) / abs(centre) if centre else (0.0 if pstdev(known) == 0 else None)
    found = lead(actual, target) if months >= 2 else None
    # Green and red shares over the months paced against a target: a month
    # without data or with too few facts says nothing about the target.
    judged = [s for s in statuses if s in ("on_track", "at_risk", "off_track")]
    on = sum(s == "on_track" for s in judged) / len(judged) if judged else None
    off = sum(s == "off_track" for s in judged) / len(judged) if judged else None
    until = [d for d in series(node_id, "data_until") if isinstance(d, dt.date)]
    data_until = max(until) if until else None
    stale = data_until is None or (day - data_until).days > tree.quality.stale_after_days
    gaps = [
        abs(g) / abs(a)
        for g, a in zip(series(node_id, "reconciliation"), actual, strict=True)
        if g is not None and a not in (None, 0) and not math.isnan(g)
    ]
    reconciliation = max(gaps) if gaps else None
    reasons: list[str] = []
    if node.owner is None and linked_to is None:
        reasons.append("no_owner")
    if node.metric and stale and linked_to is None:
        reasons.append("stale")
    if reconciliation is not None and reconciliation > 0.01:
        reasons.append("reconciliation")
    verdict = "keep"
    if months == 0:
        verdict, reasons = "drop", ["no_data", *reasons]
    elif months < MIN_MONTHS:
        verdict, reasons = "not_enough_history", ["few_months", *reasons]
    elif variation is not None and variation < FLAT:
        verdict, reasons = "drop", ["flat", *reasons]
    elif not in_formula and (found is None or found.pairs < MIN_PAIRS):
        verdict, reasons = "not_enough_history", ["few_pairs", *reasons]
    elif not in_formula and not (found is not None and found.significant):
        verdict, reasons = "replace", ["no_lead", *reasons]
    elif len(judged) >= MIN_MONTHS and on is not None and on >= ALWAYS:
        verdict, reasons = "re_target", ["always_green", *reasons]
    elif len(judged) >= MIN_MONTHS and off is not None and off >= ALWAYS:
        verdict, reasons = "re_target", ["always_red", *reasons]
    elif found is not None and found.significant and linked_to is None and not in_formula:
        reasons = ["leads", *reasons]
    return Validity(
        node=node_id if linked_to is None else linked_to,
        link=None if linked_to is None else node_id,
        verdict=verdict,
        reasons=tuple(reasons),
        months=months,
        variation=variation,
        lead=found,
        on_track_share=on,
        off_track_share=off,
        owner=node.owner,
        data_until=data_until,
        stale=stale,
        reconciliation=reconciliation,
        in_formula=in_formula,
        series=actual,
    )


def evidence_text(v: Validity, lang: str) -> str:
    """The evidence in one line: variation, lead (lag, r, p, pairs), green/red shares."""
    from kpitree.i18n import t

    parts = []
    if v.variation is not None:
        parts.append(t("validity.ev.variation", lang=lang, cv=f"{v.variation * 100:.0f}"))
    if v.lead is not None:
        p = "<0.001" if v.lead.p < 0.001 else f"={v.lead.p:.3f}"
        key = "validity.ev.lead_link" if v.link else "validity.ev.lead"
        parts.append(
            t(key, lang=lang, lag=v.lead.lag, r=f"{v.lead.r:+.2f}", p=p, pairs=v.lead.pairs)
        )
    if v.on_track_share is not None and v.off_track_share is not None:
        parts.append(
            t(
                "validity.ev.statuses",
                lang=lang,
                on=f"{v.on_track_share * 100:.0f}",
                off=f"{v.off_track_share * 100:.0f}",
            )
        )
    parts.append(t("validity.ev.months", lang=lang, months=v.months))
    return t("validity.ev.join", lang=lang).join(parts)


def reasons_text(v: Validity, lang: str) -> str:
    from kpitree.i18n import t

    return t("validity.ev.join", lang=lang).join(
        t(f"validity.reason.{r}", lang=lang) for r in v.reasons
    )
