"""From numbers to a status a person can defend, and flags on values that
cannot be right.

Status codes, in the order they are decided for a row:

- ``no_data``: the node's source has no fact at all, or none since the
  period started (``data_until`` says since when): never a zero;
- ``low_volume``: a rate or average whose volume (denominator, facts behind
  it) is below its minimum (``min_volume``): too few to judge; counts never;
- ``on_track`` / ``at_risk`` / ``off_track``: pace against expected-to-date
  (the target once the period is over); a count or sum with nothing expected
  yet (nothing scheduled so far) is on track;
- none, with a reason: ``no_target`` (an actual but no target),
  ``no_actual`` (nothing to measure it), ``not_started`` (a period after the
  as-of day).

Flags (each with the values its sentence needs):

- ``rate_above_one``: a share (a rate of counts) above 100%;
- ``outside_reference``: a value outside the node's benchmark or its
  metric's reference range (not on rows that are low volume);
- ``unlinked_facts``: facts of the numerator with no link to the
  denominator's (deals without an originating lead);
- ``partial_data``: a node computed from children some of which have no data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.i18n import t

if TYPE_CHECKING:
    import numpy as np

    from kpitree.compute.metrics import Catalogue
    from kpitree.definition.tree import Node, Tree

__all__ = ["FLAGS", "REASONS", "STATUSES", "Flag", "share_cause", "statuses"]

STATUSES = ("on_track", "at_risk", "off_track", "no_data", "low_volume")
REASONS = ("no_target", "no_actual", "not_started", "nothing_due")
FLAGS = ("rate_above_one", "outside_reference", "unlinked_facts", "partial_data")


@dataclass(frozen=True)
class Flag:
    """A flag on a value: its code and what its sentence needs."""

    code: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.params)

    def message(self, tree: Tree, lang: str | None = None) -> str:
        """The likely cause, in words."""
        from kpitree.i18n.numbers import format_value

        values = self.values
        if self.code == "rate_above_one":
            return t(
                f"flag.rate_above_one.{values.get('cause', 'other')}",
                lang=lang,
                value=format_value(values.get("value"), "ratio", tree.currency),
            )
        if self.code == "outside_reference":
            low, high = values.get("min"), values.get("max")
            return t(
                "flag.outside_reference",
                lang=lang,
                low="—" if low is None else format_value(low, values.get("unit"), tree.currency),
                high="—" if high is None else format_value(high, values.get("unit"), tree.currency),
            )
        if self.code == "unlinked_facts":
            return t(
                "flag.unlinked_facts",
                lang=lang,
                unlinked=f"{values.get('unlinked', 0):,}",
                total=f"{values.get('total', 0):,}",
            )
        if self.code == "partial_data":
            names = [
                tree.nodes[n].display(lang or "ja") if n in tree.nodes else n
                for n in values.get("nodes", ())
            ]
            return t("flag.partial_data", lang=lang, nodes=", ".join(names))
        if self.code == "approximate_median":
            return t("flag.approximate_median", lang=lang, method=values.get("method", ""))
        return self.code

    def to_json(self, tree: Tree | None = None, lang: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, **self.values}
        if isinstance(out.get("nodes"), tuple):
            out["nodes"] = list(out["nodes"])
        if tree is not None:
            out["message"] = self.message(tree, lang)
        return out


def share_cause(tree: Tree, catalogue: Catalogue, node: Node, source: str | None) -> str | None:
    """For a rate node that is a share of counts (so cannot exceed 100%), the
    likely cause of a value above one: ``period_mode`` (a period-mode
    conversion mixes cohorts), ``unlinked`` (counts of different entities, e.g.
    opportunities over MQLs), ``other``; ``None`` for rates that may exceed one
    (NRR, expansion) or are not shares."""
    if node.unit_name != "ratio":
        return None
    metric = catalogue.metrics.get(node.metric or "")
    if metric is not None and source == "measured":
        if metric.type == "conversion":
            return "period_mode" if metric.spec.mode == "period" else "other"
        if metric.type == "ratio" and metric.spec.numerator and metric.spec.denominator:
            num = catalogue.metrics.get(metric.spec.numerator)
            den = catalogue.metrics.get(metric.spec.denominator)
            if (
                num is not None
                and den is not None
                and num.type == "count"
                and (den.type == "count" or den.expr is not None)
            ):
                return _entities_cause(num, den)
        return None
    # Implied (parent = other * node) or computed (node = a / b) from count nodes.
    for parent_id in tree.parents(node.id):
        parent = tree.nodes[parent_id]
        others = [c for c in parent.children if c != node.id]
        if parent.unit_name == "count" and all(tree.nodes[c].unit_name == "count" for c in others):
            return _node_entities_cause(tree, catalogue, [parent_id, *others])
    if node.formula is not None and all(tree.nodes[c].unit_name == "count" for c in node.children):
        return _node_entities_cause(tree, catalogue, list(node.children))
    return None


def _entities_cause(*metrics: Any) -> str:
    names = {m.entity.name for m in metrics if m is not None and m.entity is not None}
    return "unlinked" if len(names) > 1 else "other"


def _node_entities_cause(tree: Tree, catalogue: Catalogue, node_ids: Sequence[str]) -> str:
    names = set()
    for n in node_ids:
        metric = catalogue.metrics.get(tree.nodes[n].metric or "")
        if metric is not None and metric.entity is not None:
            names.add(metric.entity.name)
    return "unlinked" if len(names) > 1 else "other"


def statuses(
    *,
    actual: np.ndarray,
    target: np.ndarray,
    expected: np.ndarray,
    pace: np.ndarray,
    volume: np.ndarray,
    no_data: np.ndarray,
    started: np.ndarray,
    complete: np.ndarray,
    additive: bool,
    lower: bool,
    minimum: float | None,
    thresholds: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """(status, reason) arrays for one node's rows (see the module's rules)."""
    import numpy as np

    on_track, at_risk = thresholds
    status = np.full(actual.shape, None, dtype=object)
    reason = np.full(actual.shape, None, dtype=object)
    known = ~np.isnan(pace)
    status[known] = "off_track"
    status[known & (pace >= at_risk)] = "at_risk"
    status[known & (pace >= on_track)] = "on_track"
    if additive:
        nothing_due = (
            ~known
            & ~complete
            & (expected == 0)
            & ~np.isnan(actual)
            & ((actual == 0) | ((actual > 0) & (not lower)))
        )
        status[nothing_due] = "on_track"
        reason[nothing_due] = "nothing_due"
    elif minimum is not None:
        small = ~np.isnan(volume) & (volume < minimum)
        status[small] = "low_volume"
    none = status == None  # noqa: E711 (element-wise)
    reason[none & np.isnan(actual)] = "no_actual"
    reason[none & ~np.isnan(actual) & np.isnan(target)] = "no_target"
    status[no_data] = "no_data"
    reason[no_data] = None
    status[~started] = None
    reason[~started] = "not_started"
    return status, reason


def references(node: Node, catalogue: Catalogue) -> tuple[float | None, float | None] | None:
    """The node's reference range: its benchmark, else its metric's ``reference``."""
    if node.benchmark is not None and (
        node.benchmark.low is not None or node.benchmark.high is not None
    ):
        return node.benchmark.low, node.benchmark.high
    metric = catalogue.metrics.get(node.metric or "")
    if metric is not None and metric.spec.reference is not None:
        ref = metric.spec.reference
        if ref.min is not None or ref.max is not None:
            return ref.min, ref.max
    return None


def flags_for(
    node: Node,
    values: Mapping[str, np.ndarray],
    status: np.ndarray,
    cause: str | None,
    reference: tuple[float | None, float | None] | None,
    partial: np.ndarray | None,
    partial_nodes: Sequence[Sequence[str]] | None,
) -> np.ndarray:
    """Per row, the tuple of :class:`Flag` of one node (empty tuples mostly)."""
    import numpy as np

    actual = values["actual"]
    out = np.empty(actual.shape, dtype=object)
    out.fill(())
    finite = np.isfinite(actual)
    high_ok = reference is not None and reference[1] is not None and reference[1] > 1
    above = (
        finite & (actual > 1.0 + 1e-9)
        if cause is not None and not high_ok
        else np.zeros(actual.shape, dtype=bool)
    )
    outside = np.zeros(actual.shape, dtype=bool)
    if reference is not None:
        low, high = reference
        if low is not None:
            outside |= finite & (actual < low - 1e-12)
        if high is not None:
            outside |= finite & (actual > high + 1e-12)
        outside &= status != "low_volume"
        outside &= status != "no_data"
    for idx in zip(
        *np.nonzero(above | outside | (partial if partial is not None else above)), strict=True
    ):
        found: list[Flag] = []
        value = float(actual[idx]) if finite[idx] else None
        if above[idx]:
            found.append(Flag("rate_above_one", (("cause", cause or "other"), ("value", value))))
        if outside[idx] and reference is not None:
            found.append(
                Flag(
                    "outside_reference",
                    (("min", reference[0]), ("max", reference[1]), ("unit", node.unit_name),
                     ("value", value)),
                )
            )  # fmt: skip
        if partial is not None and partial[idx] and partial_nodes is not None:
            found.append(Flag("partial_data", (("nodes", tuple(partial_nodes[idx[0]])),)))
        out[idx] = tuple(found)
    return out
