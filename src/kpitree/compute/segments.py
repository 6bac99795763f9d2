"""Segment dimensions of facts: which dimensions an entity has, and the Ibis
expressions that add one ``dim__<name>`` column per dimension (the entity's own
columns, its lead's or account's, and the organisation's: the credited rep and
the team, department and manager of the rep's assignment on the fact's day).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.compute.entities import ORG_DIMENSIONS, Entity
from kpitree.compute.owners import owner_matching
from kpitree.data.schema import DIMENSION_REGISTRY_TABLE as REGISTRY_TABLE
from kpitree.data.schema import DIMENSION_VALUES_TABLE as VALUES_TABLE
from kpitree.errors import UserError
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.metrics import Metric
    from kpitree.engines import Engine

__all__ = [
    "CustomDimension",
    "add_dimensions",
    "check_dimensions",
    "checked_group",
    "custom_dimensions",
    "dimensions_of",
    "segment_filters",
]


@dataclass(frozen=True, slots=True)
class CustomDimension:
    """A dimension a mapping declared (kpitree.data.dimensions), as stored."""

    name: str
    table: str
    labels: Mapping[str, str]

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or next(iter(self.labels.values()), self.name)


def custom_dimensions(engine: Engine) -> dict[str, CustomDimension]:
    """The custom dimensions of the engine's data, by name (none when the
    database has no ``kpitree_dimensions`` table); read once per engine."""
    cached = getattr(engine, "_custom_dimensions", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: dict[str, CustomDimension] = {}
    if engine.has_table(REGISTRY_TABLE):
        from kpitree.compute.querycache import lookup

        def build() -> ir.Table:
            return engine.backend.table(REGISTRY_TABLE).select("name", "table_name", "labels")

        rows = lookup(engine, "custom_dimensions", build, keep=False).to_pylist()
        for r in sorted(rows, key=lambda r: str(r["name"])):
            labels = json.loads(r["labels"] or "{}")
            out[str(r["name"])] = CustomDimension(str(r["name"]), str(r["table_name"]), labels)
    engine._custom_dimensions = out  # type: ignore[attr-defined]
    return out


def _custom_key(ent: Entity, dim: CustomDimension) -> str | None:
    """The column of ``ent`` that reaches the record holding ``dim``'s value:
    its own id, or its lead or account."""
    if dim.table == ent.table:
        return ent.id
    if dim.table == "leads" and ent.lead_column:
        return ent.lead_column
    if dim.table == "accounts" and ent.account_column:
        return ent.account_column
    return None


def dimensions_of(
    ent: Entity, custom: Mapping[str, CustomDimension] | None = None
) -> tuple[str, ...]:
    """Segment dimensions available on an entity (with ``custom``: the custom
    dimensions of its own table, its lead's or its account's)."""
    from kpitree.data.schema import table

    out = ["rep", *ORG_DIMENSIONS, "region"]
    out += [c for c in ent.columns() if not c.endswith(("_at", "_date", "_id")) and c != "amount"]
    if ent.lead_column:
        out += ["channel", "campaign", "segment", "industry", "region"]
    if ent.account_column:
        out += [c for c in table("accounts").column_names if c in ("industry", "segment", "region")]
    out += [d.name for d in (custom or {}).values() if _custom_key(ent, d)]
    if ent.account_column or ent.name == "accounts":
        out.append("target_account")  # with abm: (kpitree.compute.account_columns)
    return tuple(dict.fromkeys(c for c in out if c not in ("attributes", "name")))


def _owner(engine: Engine, ent: Entity, t: ir.Table) -> tuple[ir.Table, str | None]:
    """Add ``__owner`` (the rep credited): the entity's owner, or its account's,
    as the organisation knows the rep (kpitree.compute.owners); with a credit
    rule, the originating lead's owner or the rep of a column, and the owner
    when that is empty."""
    import ibis

    from kpitree.compute.links import linked_reference

    if ent.credit is not None:
        own = t[ent.owner] if ent.owner else ibis.null("string")
        if ent.credit == "lead_owner":
            assert ent.lead_column is not None
            leads = engine.table("leads")
            leads = leads.select(__credit_lead=leads.lead_id, __credit=leads.owner_id)
            t, lead = linked_reference(engine, ent.table, ent.id, t, ent.lead_column)
            t = t.left_join(leads, t[lead] == leads.__credit_lead)
            t = t.drop("__credit_lead")
        elif ent.credit.startswith("attributes."):
            t = t.mutate(__credit=t.attributes[ent.credit.removeprefix("attributes.")].str)
        else:
            t = t.mutate(__credit=t[ent.credit].cast("string"))
        credited = _rep_of(engine, ibis.coalesce(t.__credit, own))
        return t.mutate(__owner=credited).drop("__credit"), "__owner"
    if ent.owner:
        return t.mutate(__owner=_rep_of(engine, t[ent.owner])), "__owner"
    if ent.account_column:
        acc = engine.table("accounts")
        acc = acc.select(__acc=acc.account_id, __owner=_rep_of(engine, acc.owner_id))
        t, account = linked_reference(engine, ent.table, ent.id, t, ent.account_column)
        return t.left_join(acc, t[account] == acc.__acc).drop("__acc"), "__owner"
    return t, None


def _rep_of(engine: Engine, owner: ir.StringValue) -> ir.StringValue:
    """The rep id of an owner the export names another way ("佐々木　健様" for
    the organisation's "佐々木 健")."""
    import ibis

    rep_of = owner_matching(engine).rep_of()
    if not rep_of:
        return owner
    return ibis.cases(*_by_value(owner, rep_of), else_=owner)


def _by_value(key: ir.StringValue, mapping: Mapping[str, str]) -> list[tuple[Any, str]]:
    """``(condition, value)`` branches giving ``mapping[key]``: one branch per
    value, whose keys are listed once (``key IN (...)``), so that the expression
    grows with the teams or reps mapped to, not with the names mapped from."""
    keys: dict[str, list[str]] = {}
    for k, value in mapping.items():
        keys.setdefault(value, []).append(k)
    return [(key == ks[0] if len(ks) == 1 else key.isin(ks), v) for v, ks in keys.items()]


def _placed(engine: Engine, rep: ir.StringValue, part: int) -> ir.StringValue | None:
    """The department (``part`` 0) or team (1) that ``kpitree.yaml`` gives a
    rep without ``rep_assignments`` rows; ``None`` when it places nobody."""
    import ibis

    placement = owner_matching(engine).placement()
    placed = {r: v for r, where in placement.items() if (v := where[part])}
    if not placed:
        return None
    return ibis.cases(*_by_value(rep, placed), else_=ibis.null("string"))


def add_dimensions(
    engine: Engine, ent: Entity, t: ir.Table, dims: Sequence[str], day: str
) -> ir.Table:
    """Add one column per dimension, named ``dim__<name>``."""
    import ibis

    from kpitree.compute.links import linked_reference

    own = set(ent.columns())
    needs_org = any(d in ORG_DIMENSIONS or (d == "region" and "region" not in own) for d in dims)
    owner = None
    if needs_org or "rep" in dims:
        t, owner = _owner(engine, ent, t)
    if needs_org and owner is not None:
        # Only the organisation columns asked for: each layer of the query
        # lists every column it passes on.
        org = [d for d in dims if d in ORG_DIMENSIONS or (d == "region" and d not in own)]
        a = _assignments(engine, org)
        t = t.left_join(a, [t[owner] == a.__rep, a.__from <= t[day], a.__to >= t[day]])
    lead_cols: dict[str, str] = {}
    account_cols: dict[str, str] = {}
    custom = custom_dimensions(engine)
    custom_cols: dict[str, str] = {}
    for d in dims:
        if d in own or d in ORG_DIMENSIONS or d in ("rep", "region", "target_account"):
            continue
        if d in custom:
            custom_cols[d] = f"__c{len(custom_cols)}"
            t = _join_custom(engine, ent, t, custom[d], custom_cols[d])
            continue
        if ent.lead_column and d in ("channel", "campaign", "segment", "industry", "region"):
            lead_cols[d] = d
        elif ent.account_column and d in ("industry", "segment", "region"):
            account_cols[d] = d
    if lead_cols and ent.lead_column:
        leads = engine.table("leads")
        leads = leads.select(__lead=leads.lead_id, **{f"__l_{c}": leads[c] for c in lead_cols})
        t, lead = linked_reference(engine, ent.table, ent.id, t, ent.lead_column)
        t = t.left_join(leads, t[lead] == leads.__lead)
    if account_cols and ent.account_column:
        acc = engine.table("accounts")
        acc = acc.select(__acc2=acc.account_id, **{f"__a_{c}": acc[c] for c in account_cols})
        t, account = linked_reference(engine, ent.table, ent.id, t, ent.account_column)
        t = t.left_join(acc, t[account] == acc.__acc2)
    values: dict[str, Any] = {}
    for d in dims:
        if d == "rep":
            values[f"dim__{d}"] = t[owner] if owner else ibis.null("string")
        elif d in ORG_DIMENSIONS:
            value = t[f"__{d}"] if needs_org and owner else ibis.null("string")
            placed = (
                _placed(engine, t[owner], ("department", "team").index(d))
                if (owner and d in ("department", "team"))
                else None
            )
            values[f"dim__{d}"] = value if placed is None else value.fill_null(placed)
        elif d == "target_account":  # joined before (kpitree.compute.account_columns)
            values[f"dim__{d}"] = ibis.ifelse(t.target_account, "true", "false")
        elif d in own:
            values[f"dim__{d}"] = t[d].cast("string")
        elif d == "region":
            values[f"dim__{d}"] = t["__region"] if owner else ibis.null("string")
        elif d in lead_cols:
            values[f"dim__{d}"] = t[f"__l_{d}"]
        elif d in account_cols:
            values[f"dim__{d}"] = t[f"__a_{d}"]
        elif d in custom_cols:
            values[f"dim__{d}"] = t[custom_cols[d]]
        else:  # pragma: no cover - checked by the caller
            raise KeyError(d)
    return t.mutate(**values)


def _join_custom(
    engine: Engine, ent: Entity, t: ir.Table, dim: CustomDimension, name: str
) -> ir.Table:
    """Add column ``name``: the value of a custom dimension, joined from its
    side table on the record id (no JSON read here)."""
    from kpitree.compute.links import linked_reference

    key = _custom_key(ent, dim)
    assert key is not None, (ent.name, dim.name)
    if key != ent.id:
        t, key = linked_reference(engine, ent.table, ent.id, t, key)
    v = engine.backend.table(VALUES_TABLE)
    v = v.filter((v.table_name == dim.table) & (v.dimension == dim.name))
    v = v.select(**{f"{name}_id": v.record_id, name: v.value})
    t = t.left_join(v, t[key].cast("string") == v[f"{name}_id"])
    return t.drop(f"{name}_id")


def _assignments(engine: Engine, org: Sequence[str] | None = None) -> ir.Table:
    """Rep assignments as non-overlapping day ranges: a later assignment ends
    the one before it (the day before it starts), so a fact matches at most one
    assignment even when the source left the earlier one open-ended. With
    ``org``, only those organisation columns (``department``, ``team``,
    ``manager``, ``region``) besides the rep and the range."""
    import ibis

    columns = {
        "department": "department",
        "team": "team",
        "manager": "manager_id",
        "region": "region",
    }
    chosen = columns if org is None else {d: columns[d] for d in org}
    a = engine.table("rep_assignments")
    # Only the columns used: the statement lists them in each of its layers.
    a = a.select("rep_id", "valid_from", "valid_to", *chosen.values())
    far = ibis.literal(dt.date(9999, 12, 31))
    nxt = a.valid_from.lead().over(ibis.window(group_by=a.rep_id, order_by=a.valid_from))
    before_next = (nxt - ibis.interval(days=1)).cast("date")
    end = ibis.least(a.valid_to.fill_null(far), before_next.fill_null(far))
    return a.select(
        __rep=a.rep_id,
        __from=a.valid_from,
        __to=end,
        **{f"__{d}": a[column] for d, column in chosen.items()},
    )


def segment_filters(t: ir.Table, filters: Mapping[str, Sequence[str | None]]) -> ir.Table:
    for dim, values in filters.items():
        col = t[f"dim__{dim}"]
        named = [v for v in values if v is not None]
        pred = col.isin(named) if named else None
        if None in values:
            pred = col.isnull() if pred is None else (pred | col.isnull())
        if pred is not None:
            t = t.filter(pred)
    return t


def check_dimensions(
    ent: Entity,
    dims: Sequence[str],
    metric_id: str,
    custom: Mapping[str, CustomDimension] | None = None,
) -> None:
    available = dimensions_of(ent, custom)
    for d in dims:
        if d not in available:
            raise UserError.of(
                "KT530",
                "compute.unknown_dimension",
                None,
                dimension=d,
                metric=metric_id,
                available=", ".join(available),
                hint=did_you_mean(d, available),
            )


def checked_group(
    engine: Engine,
    metrics: Sequence[Metric],
    dims: Sequence[str],
    filters: Mapping[str, Sequence[str | None]] | None,
) -> tuple[Entity, Mapping[str, Sequence[str | None]], list[str]]:
    """For one query of several ``metrics`` of one entity: that entity, the
    filters (none: empty) and every dimension the query groups or filters by,
    each checked for every metric (KT530)."""
    ent = metrics[0].entity
    assert ent is not None
    filters = filters or {}
    all_dims = list(dict.fromkeys([*dims, *filters]))
    custom = custom_dimensions(engine)
    for m in metrics:
        check_dimensions(ent, all_dims, m.id, custom)
    return ent, filters, all_dims
