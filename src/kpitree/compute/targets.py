"""Targets per node, period and segment.

Sources, later ones winning:

1. the plan of [core] (``Project.plan``): monthly values of every node, split
   over teams and reps by the organisation's shares. A period other than a
   month takes the months it overlaps, each in proportion to the business days
   it shares with them (sum nodes add up; average nodes are averaged with the
   same weights);
2. a target file listed under ``data.targets`` (CSV: ``node``, ``period``,
   ``target`` and optional segment columns such as ``team``), for the periods
   and segments it names.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.compute.periods import Period, business_days_between, parse_period
from kpitree.definition.tree import Tree
from kpitree.errors import Span, UserError
from kpitree.planning.plan import NodePlan, Plan
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SegmentKey", "Targets", "read_target_file"]

SegmentKey = tuple[tuple[str, str | None], ...]  # ((dimension, value), ...)


@cache
def _month_weight(
    start: dt.date, end: dt.date, lo: dt.date, hi: dt.date, country: str, closed: tuple[str, ...]
) -> float:
    """Share of the month ``[start, end]`` covered by ``[lo, hi]`` in business days."""
    if lo == start and hi == end:
        return 1.0
    total = business_days_between(start, end, country=country, closed_days=closed)
    if total == 0:
        return ((hi - lo).days + 1) / ((end - start).days + 1)
    return business_days_between(lo, hi, country=country, closed_days=closed) / total


@dataclass
class Targets:
    """Each node's target per period and segment, from the plan (kept once looked up)."""

    tree: Tree
    plan_for: Callable[[int], Plan | None]
    overrides: dict[tuple[str, str, SegmentKey], float] = field(default_factory=dict)
    plan_for_month: Callable[[Period], Plan | None] | None = None
    """When set, each month takes its plan from here (the plan valid then,
    see :mod:`kpitree.review.revisions`) instead of ``plan_for``."""
    _plans: dict[int, Plan | None] = field(default_factory=dict)
    _node_plans: dict[tuple[str, int, SegmentKey], NodePlan | None] = field(default_factory=dict)
    _month_plans: dict[tuple[str, str, SegmentKey], NodePlan | None] = field(default_factory=dict)

    def _plan(self, fiscal_year: int) -> Plan | None:
        if fiscal_year not in self._plans:
            self._plans[fiscal_year] = self.plan_for(fiscal_year)
        return self._plans[fiscal_year]

    def _node_plan(self, node_id: str, fiscal_year: int, segment: SegmentKey) -> NodePlan | None:
        key = (node_id, fiscal_year, segment)
        if key not in self._node_plans:
            self._node_plans[key] = self._find_node_plan(node_id, fiscal_year, segment)
        return self._node_plans[key]

    def _month_node_plan(self, node_id: str, month: Period, segment: SegmentKey) -> NodePlan | None:
        key = (node_id, month.key, segment)
        if key not in self._month_plans:
            assert self.plan_for_month is not None
            found = self.plan_for_month(month)
            self._month_plans[key] = self._segment_plan(found, node_id, segment)
        return self._month_plans[key]

    def _find_node_plan(
        self, node_id: str, fiscal_year: int, segment: SegmentKey
    ) -> NodePlan | None:
        return self._segment_plan(self._plan(fiscal_year), node_id, segment)

    def _segment_plan(
        self, plan: Plan | None, node_id: str, segment: SegmentKey
    ) -> NodePlan | None:
        if plan is None or node_id not in plan.nodes:
            return None
        node_plan = plan.nodes[node_id]
        seg = dict(segment)
        if not seg:
            return node_plan
        if not _plannable(segment, self.tree.nodes[node_id].owner):
            return None
        dept = seg["department"]
        if "team" not in seg:
            return node_plan if set(seg) == {"department"} else None
        key = f"{dept}/{seg['team']}"
        if "rep" in seg:
            key += f"/{seg['rep']}"
        return node_plan.segments.get(key)

    def target(self, node_id: str, period: Period, segment: SegmentKey = ()) -> float | None:
        """The target of ``node_id`` for the whole of ``period`` in ``segment``."""
        import math

        value = float(self.target_matrix(node_id, [period], [segment])[0, 0])
        return None if math.isnan(value) else value

    def target_matrix(
        self, node_id: str, periods: Sequence[Period], segments: Sequence[SegmentKey]
    ) -> np.ndarray:
        """Targets of ``node_id`` as a ``periods x segments`` array (NaN: none).

        The same numbers as :meth:`target`, computed a node at a time: each
        segment's monthly plan values are looked up once and weighted by the
        months' business-day shares of every period with one matrix product.
        """
        import numpy as np

        node = self.tree.nodes[node_id]
        settings = self.tree.plan
        closed = tuple(settings.closed_days)
        months = list(dict.fromkeys(m for p in periods for m in _months(p)))
        column = {m: i for i, m in enumerate(months)}
        weights = np.zeros((len(months), len(periods)))
        for j, period in enumerate(periods):
            start, end = period.start, max(period.end, period.start)
            for month in _months(period):
                lo, hi = max(month.start, start), min(month.end, end)
                weights[column[month], j] = _month_weight(
                    month.start, month.end, lo, hi, settings.holidays, closed
                )
        keys = [(m.fiscal_year, m.key) for m in months]
        years = list(dict.fromkeys(m.fiscal_year for m in months))
        values = np.full((len(segments), len(months)), np.nan)
        for s, segment in enumerate(segments):
            if not _plannable(segment, node.owner):
                continue  # no plan can give this segment a target
            plans: dict[int, NodePlan | None] = {}
            if self.plan_for_month is None:
                plans = {y: self._node_plan(node_id, y, segment) for y in years}
                if not any(plans.values()):
                    continue  # no plan for this segment (most reps): no target
            row = values[s]
            for i, (fiscal_year, key) in enumerate(keys):
                if self.plan_for_month is not None:
                    node_plan = self._month_node_plan(node_id, months[i], segment)
                else:
                    node_plan = plans[fiscal_year]
                value = node_plan.per_period.get(key) if node_plan else None
                if value is not None:
                    row[i] = value
        used = weights > 0
        # A period lacks a target when any month it overlaps has no plan value
        # (months outside the period weigh 0 and must not spoil it).
        missing = (np.isnan(values).astype("float64") @ used.astype("float64")) > 0
        out = np.nan_to_num(values) @ weights
        if not node.is_additive:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = out / weights.sum(axis=0)
        out[missing] = np.nan
        result = np.ascontiguousarray(out.T)
        if self.overrides:
            where = {p.key: j for j, p in enumerate(periods)}
            segs = {seg: s for s, seg in enumerate(segments)}
            for (nid, pkey, seg), value in self.overrides.items():
                if nid == node_id and pkey in where and seg in segs:
                    result[where[pkey], segs[seg]] = value
        return result


@cache
def _months(period: Period) -> list[Period]:
    from kpitree.compute.periods import period_of

    months: list[Period] = []
    current = period_of(period.start, "month", period.fiscal_year_start)
    while current.start <= period.end:
        months.append(current)
        current = current.next()
    return months


def read_target_file(
    path: Path, tree: Tree, dims: Sequence[str]
) -> dict[tuple[str, str, SegmentKey], float]:
    """Targets from a CSV file: ``node, period, target`` and segment columns."""
    from kpitree.data.textfile import detect_text

    info = detect_text(path, None)
    text = path.read_bytes().decode(info.encoding)
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return {}
    header = [h.strip() for h in rows[0]]
    for required in ("node", "period", "target"):
        if required not in header:
            raise UserError.of(
                "KT540",
                "compute.targets.missing_column",
                Span(str(path), 1, 1),
                column=required,
                file=str(path),
            )
    seg_cols = [h for h in header if h not in ("node", "period", "target")]
    for h in seg_cols:
        if h not in dims:
            raise UserError.of(
                "KT541",
                "compute.targets.unknown_column",
                Span(str(path), 1, header.index(h) + 1),
                column=h,
                hint=did_you_mean(h, dims),
            )
    out: dict[tuple[str, str, SegmentKey], float] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        node = cells.get("node", "")
        if node not in tree.nodes:
            raise UserError.of(
                "KT542",
                "compute.targets.unknown_node",
                Span(str(path), line, header.index("node") + 1),
                node=node,
                hint=did_you_mean(node, tree.nodes),
            )
        try:
            period = parse_period(cells.get("period", ""), tree.fiscal_year_start)
        except UserError as exc:
            raise UserError.of(
                "KT543",
                "compute.targets.bad_period",
                Span(str(path), line, header.index("period") + 1),
                value=cells.get("period", ""),
                reason=exc.diagnostics[0].message() if exc.diagnostics else "",
            ) from exc
        raw = cells.get("target", "").replace(",", "").replace("¥", "").replace("円", "")
        try:
            value = float(raw)
        except ValueError:
            raise UserError.of(
                "KT544",
                "compute.targets.bad_value",
                Span(str(path), line, header.index("target") + 1),
                value=cells.get("target", ""),
            ) from None
        segment: SegmentKey = tuple((d, cells.get(d) or None) for d in seg_cols if cells.get(d))
        out[(node, period.key, segment)] = value
    return out


_ORG = ("department", "team", "rep")


def _plannable(segment: SegmentKey, owner: str | None) -> bool:
    """Whether a plan can hold a target for ``segment``: the company, or the
    node's owning department, its teams and reps (organisation dimensions only)."""
    seg = dict(segment)
    if not seg:
        return True
    if set(seg) - set(_ORG):
        return False
    return seg.get("department") is not None and seg["department"] == owner


def filtered_key(
    tree: Tree, key: SegmentKey, filters: Mapping[str, Sequence[str | None]] | None
) -> SegmentKey | None:
    """The segment whose target a row of ``key`` has when the facts are also
    filtered by ``filters``: the row's own segment plus the one department,
    team or rep a filter keeps (a team or rep alone is placed in its
    department when the organisation has it in one place only). ``None`` when
    the filters keep a slice that has no target (a channel, several teams): a
    filtered actual is never compared with a target of something else."""
    if not filters:
        return key
    own = dict(key)
    extra: dict[str, str] = {}
    for dim, values in filters.items():
        if dim in own:
            continue  # the rows are split by it: each row is its own segment
        named = [v for v in values if v is not None]
        if dim not in _ORG or len(values) != 1 or len(named) != 1:
            return None
        extra[dim] = named[0]
    merged = {**extra, **own}
    if "department" not in merged and ("team" in merged or "rep" in merged):
        homes = {
            (dept.id, team.id)
            for dept in tree.organisation.departments.values()
            for team in dept.teams
            if merged.get("team") in (None, team.id)
            and ("rep" not in merged or merged["rep"] in team.reps)
        }
        if len({d for d, _ in homes}) != 1:
            return None
        merged["department"] = next(iter(homes))[0]
        if "rep" in merged and "team" not in merged:
            if len(homes) != 1:
                return None
            merged["team"] = next(iter(homes))[1]
    return tuple((d, merged[d]) for d in _ORG if d in merged) + tuple(
        (d, v) for d, v in key if d not in _ORG
    )
