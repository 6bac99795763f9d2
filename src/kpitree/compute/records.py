"""The records behind a number: the facts one node's value in one period and
segment is computed from, listed with their identifying fields.

The facts are those of :func:`kpitree.compute.compile.metric_facts`, the same
Ibis expressions the value is aggregated from (period cut to the as-of day,
the metric's filter, its credit rule, the segment filters), so a count's list
has exactly as many rows as the count, a sum's amounts add up to the sum, and
a rate lists its entrants and its converted.

A node's *record sets*: a measured node's metric gives ``facts`` (or, for a
conversion, ``entrants`` and ``converted``); a ratio metric gives the facts of
its denominator (``entrants``) and its numerator (``converted``); a derived
metric the facts of each metric it uses; a funnel rate without a metric of its
own the records of the stage before it (``entrants``) and after it
(``converted``). Anything else (a sum of other nodes) has none: its children do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from kpitree.compute.metrics import Catalogue, Metric
    from kpitree.compute.periods import Period
    from kpitree.definition.tree import Tree
    from kpitree.engines import Engine

__all__ = [
    "RECORD_COLUMNS",
    "RecordPage",
    "RecordSet",
    "record_page",
    "record_sets",
    "record_table",
]

# The identifying fields listed per entity (besides owner, team, department,
# account and the day that places the fact in the period).
RECORD_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "leads": ("lead_id", "created_at", "channel", "campaign", "current_stage", "segment"),
    "deals": (
        "deal_id",
        "created_at",
        "close_date",
        "status",
        "stage",
        "amount",
        "currency",
        "product",
    ),
    "activities": ("activity_id", "occurred_at", "type", "outcome", "lead_id", "deal_id"),
    "contracts": ("contract_id", "start_date", "end_date", "product", "status", "mrr", "arr"),
    "renewals": (
        "contract_id",
        "start_date",
        "end_date",
        "product",
        "status",
        "mrr",
        "mrr_after",
        "arr_retained",
        "arr_expansion",
    ),
    "marketing_spend": ("spend_id", "spend_date", "channel", "campaign", "amount", "currency"),
    "nps_responses": ("response_id", "responded_at", "score", "comment"),
    "accounts": ("account_id", "name", "industry", "segment", "created_at"),
}
# Columns every list has, after the entity's own.
_COMMON = ("day", "owner", "owner_name", "department", "team", "account_id", "account_name")
_ORG = ("rep", "department", "team")


@dataclass(frozen=True)
class RecordSet:
    """One list of facts behind a node's value: its ``role`` (``facts``,
    ``entrants``, ``converted``, or the id of a metric a derived one uses), the
    metric whose facts these are and the entity they are."""

    role: str
    metric: str
    entity: str


def record_sets(tree: Tree, catalogue: Catalogue, node_id: str) -> list[RecordSet]:
    """The lists behind ``node_id``'s value (empty: it has none of its own)."""
    from kpitree.definition.funnel import funnel_steps

    node = tree.nodes[node_id]
    if node.metric and node.metric in catalogue:
        return _metric_sets(catalogue, node.metric)
    for step in funnel_steps(tree):
        if step.rate_node != node_id:
            continue
        out = []
        for role, stage in (("entrants", step.from_node), ("converted", step.to_node)):
            found = record_sets(tree, catalogue, stage)
            if len(found) == 1 and found[0].role == "facts":
                out.append(RecordSet(role, found[0].metric, found[0].entity))
        return out if len(out) == 2 else []
    return []


def _metric_sets(catalogue: Catalogue, metric_id: str) -> list[RecordSet]:
    metric = catalogue[metric_id]
    ent = metric.entity
    if metric.sla_rule is not None:
        return []
    if ent is not None:
        roles = ("entrants", "converted") if metric.type == "conversion" else ("facts",)
        return [RecordSet(r, metric.id, ent.name) for r in roles]
    if metric.type == "ratio" and metric.spec.numerator and metric.spec.denominator:
        den = _metric_sets(catalogue, metric.spec.denominator)
        num = _metric_sets(catalogue, metric.spec.numerator)
        if len(den) == 1 and len(num) == 1:
            return [
                RecordSet("entrants", den[0].metric, den[0].entity),
                RecordSet("converted", num[0].metric, num[0].entity),
            ]
    out = []
    for used in metric.uses:
        found = _metric_sets(catalogue, used)
        if len(found) == 1:
            out.append(RecordSet(used, found[0].metric, found[0].entity))
    return out


def _value_column(metric: Metric) -> str | None:
    """The fact column the metric aggregates (``None``: it counts)."""
    if metric.type == "duration":
        return "__dur"
    if metric.type in ("count", "conversion"):
        return None
    return metric.spec.measure


def record_table(
    engine: Engine,
    catalogue: Catalogue,
    record_set: RecordSet,
    period: Period,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    as_of: dt.date | None = None,
) -> ir.Table:
    """The facts of ``record_set`` in ``period`` (already cut to ``as_of``)
    under ``filters``, one row each, with the entity's identifying fields,
    ``day`` (the day that places it in the period), the credited ``owner``
    and their name, department and team, the account, ``value`` (the
    amount or duration aggregated, when the metric has one) and, for a
    cohort's entrants, ``converted`` (1 when converted in time)."""
    import ibis

    from kpitree.compute.compile import metric_facts

    metric = catalogue[record_set.metric]
    ent = metric.entity
    assert ent is not None
    facts = metric_facts(engine, metric, period, _ORG, filters, as_of)
    role = record_set.role if record_set.role in facts else "facts"
    t = facts[role]
    own = [c for c in RECORD_COLUMNS.get(ent.name, (ent.id,)) if c in t.columns]
    values: dict[str, Any] = {c: t[c] for c in own}
    values["day"] = t.__day
    values["owner"] = t.dim__rep
    values["department"] = t.dim__department
    values["team"] = t.dim__team
    account = ent.account_column
    values["account_id"] = t[account] if account and account in t.columns else ibis.null("string")
    measure = _value_column(metric)
    if measure and measure in t.columns:
        values["value"] = t[measure].cast("float64")
    if metric.type == "conversion" and "__conv" in t.columns:
        values["converted"] = t.__conv
    out = t.select(**values)
    reps = engine.table("reps")
    reps = reps.select(__rep=reps.rep_id, owner_name=reps.name)
    out = out.left_join(reps, out.owner == reps.__rep).drop("__rep")
    acc = engine.table("accounts")
    acc = acc.select(__acc=acc.account_id, account_name=acc.name)
    out = out.left_join(acc, out.account_id == acc.__acc).drop("__acc")
    extra = [c for c in ("value", "converted") if c in out.columns]
    order = [*own, *_COMMON, *extra]
    return out.select(*order)


@dataclass(frozen=True)
class RecordPage:
    """One page of a record list: ``total`` rows match the search (``count``
    of them in all, without it), ``value_total`` is the sum of their values."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    total: int
    count: int
    value_total: float | None
    offset: int
    limit: int | None


def _search(t: ir.Table, text: str) -> ir.Table:
    """Rows where any text field contains ``text`` (case-insensitive)."""
    needle = text.strip().lower()
    if not needle:
        return t
    preds = [t[c].lower().contains(needle) for c in t.columns if t[c].type().is_string()]
    if not preds:
        return t.filter(False)
    out = preds[0]
    for p in preds[1:]:
        out = out | p.fill_null(False)
    return t.filter(out.fill_null(False))


def record_page(
    engine: Engine,
    table: ir.Table,
    *,
    search: str = "",
    sort: str | None = None,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = 50,
) -> RecordPage:
    """A page of ``table``: searched, sorted (by ``sort``, then by the first
    column, so pages never overlap) and cut to ``offset``/``limit`` (``None``:
    every row, for downloads)."""
    import ibis

    count = _scalar(engine, table.count())
    found = _search(table, search)
    total = count if not search.strip() else _scalar(engine, found.count())
    value_total = _scalar(engine, found.value.sum()) if "value" in found.columns else None
    first = found.columns[0]
    keys = []
    if sort and sort in found.columns and sort != first:
        keys.append(ibis.desc(sort) if descending else ibis.asc(sort))
    keys.append(ibis.desc(first) if descending and sort == first else ibis.asc(first))
    ordered = found.order_by(keys)
    if limit is not None:
        ordered = ordered.limit(limit, offset=offset)
    result: pa.Table = engine.execute(ordered)
    return RecordPage(
        columns=tuple(found.columns),
        rows=result.to_pylist(),
        total=int(total or 0),
        count=int(count or 0),
        value_total=None if value_total is None else float(value_total),
        offset=offset,
        limit=limit,
    )


def _scalar(engine: Engine, expr: ir.Scalar) -> Any:
    result = engine.execute(expr)
    return result.column(0)[0].as_py() if result.num_rows else None
