"""HubSpot as Airbyte and dlt land it: the canonical tables as views over their tables.

Preset ``airbyte_hubspot`` reads the streams of Airbyte's HubSpot source
(docs.airbyte.com, HubSpot): ``contacts`` and ``deals`` carry every HubSpot
property as a top-level ``properties_<name>`` column beside ``id``, ``createdAt``
and ``archived``, and a deal lists its associated contacts in ``contacts`` (an
array); ``contacts_property_history`` has one row per property change
(``vid``: the contact, ``property``, ``value``, ``timestamp`` in epoch
milliseconds); ``deals_property_history`` the same for deals (``dealId``);
``owners`` has ``id``, ``firstName``, ``lastName``, ``email``. Names are matched
without regard to case (destinations may change it); rows with ``archived``
are left out.

Preset ``dlt_hubspot`` reads the resources of dlt's verified HubSpot source
(dlt-hub/verified-sources, ``sources/hubspot``): ``contacts`` and ``deals`` with
the requested HubSpot properties as columns under their own names (``createdate``,
``lifecyclestage``, ``hubspot_owner_id``, ``dealstage``, ``pipeline``, ``amount``,
``closedate``; properties starting ``hs_`` only when asked for, so
``hs_analytics_source``, the channel, may be missing: then it is empty), a
contact's associated deals in the child table ``contacts__deals`` (``value``: the
contact, ``deals_id``: the deal), the deal pipelines' stages in
``pipelines_deals__stages`` (``id``, ``metadata__is_closed``,
``metadata__probability``), when each deal entered each stage in
``stages_timing_deals`` (``id``, ``stage``, ``hs_v2_date_entered_x``: dlt's
snake case turns the trailing ``_`` of ``hs_v2_date_entered_`` into ``x``), and
with ``include_history=True`` ``contacts_property_history`` (``object_id``,
``property_name``, ``value``, ``timestamp``); ``owners`` has ``first_name``,
``last_name``. Rows with ``is_deleted`` (``soft_delete=True``) are left out.

For both: a deal is won when its stage is closed won, lost when closed
otherwise, open else (Airbyte: ``properties_hs_is_closed_won`` and
``properties_hs_is_closed``; dlt: its stage's ``metadata__is_closed`` and a
probability of 1 for won); its lead is the first of its associated contacts; a
lead's lifecycle stages come from the property history of ``lifecyclestage``
(HubSpot's values named as for ``fivetran_hubspot``), and without that history
a lead's only entry is ``lead`` at its creation (nothing invented).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines.engine import Engine

__all__ = ["elt_hubspot"]

_UTC = "timestamp('UTC')"


def elt_hubspot(
    engine: Engine,
    preset: str,
    names: list[str],
    *,
    database: str | None,
    lifecycle: dict[str, str],
    deal_stages: dict[str, str],
) -> dict[str, ir.Table]:
    """The canonical tables of ``preset`` (``airbyte_hubspot`` or ``dlt_hubspot``)
    over the landed tables ``names`` of schema ``database``."""
    present = {n.lower(): n for n in names}

    def landed(name: str, *, optional: bool = False) -> ir.Table | None:
        found = present.get(name.lower())
        if found is None:
            if optional:
                return None
            from kpitree.errors import UserError

            where = f"{engine.where} ({database or 'default schema'})"
            raise UserError.of(
                "KT550", "engines.landed_missing_hubspot", preset=preset, name=name,
                where=where, tables=", ".join(sorted(names)) or "-",
            )  # fmt: skip
        table = engine.backend.table(found, database=database)
        for flag in ("archived", "is_deleted"):
            column = _column(table, flag)
            if column is not None:
                table = table.filter(~column.cast("boolean").fill_null(False))
        return table

    build = _airbyte if preset == "airbyte_hubspot" else _dlt
    return build(landed, lifecycle, deal_stages, engine.landed_gaps)


def _column(table: ir.Table, name: str) -> Any:
    """``table``'s column ``name`` (any case), or ``None``."""
    for column in table.columns:
        if column.lower() == name.lower():
            return table[column]
    return None


def _need(table: ir.Table, name: str) -> Any:
    column = _column(table, name)
    if column is None:
        raise KeyError(name)
    return column


def _text(column: Any) -> Any:
    """An id as text: HubSpot ids land as numbers in some tools (``123``, not ``123.0``)."""
    import ibis

    if column is None:
        return ibis.null("string")
    if column.type().is_floating() or column.type().is_decimal():
        return column.cast("int64").cast("string")
    return column.cast("string")


def _instant(column: Any) -> Any:
    """An instant in UTC from a timestamp, an ISO text or epoch milliseconds."""
    import ibis

    if column is None:
        return ibis.null(_UTC)
    kind = column.type()
    if kind.is_integer() or kind.is_floating() or kind.is_decimal():
        ms = column.cast("int64")
        return ((ms // 1000).as_timestamp("s") + (ms % 1000).as_interval("ms")).cast(_UTC)
    return column.cast(_UTC)


def _renamed(column: Any, names: dict[str, str]) -> Any:
    return column.substitute(names) if names else column


def _first_contact(pairs: ir.Table) -> ir.Table:
    """Per deal (``deal``), its first associated contact (``lead_id``)."""
    return pairs.group_by("deal").agg(lead_id=pairs.contact.min())


def _leads(contacts: ir.Table, lifecycle: dict[str, str], fields: dict[str, str]) -> ir.Table:
    import ibis

    none = ibis.null("string")
    stage = _column(contacts, fields["lifecyclestage"])
    return contacts.select(
        lead_id=_text(_need(contacts, "id")),
        created_at=_instant(_need(contacts, fields["createdate"])),
        channel=_text(_column(contacts, fields["hs_analytics_source"])),
        campaign=none,
        owner_id=_text(_column(contacts, fields["hubspot_owner_id"])),
        team=none,
        region=none,
        segment=none,
        industry=none,
        account_id=_text(_column(contacts, fields["associatedcompanyid"])),
        current_stage=none if stage is None else _renamed(stage.cast("string"), lifecycle),
        attributes=ibis.literal("{}"),
    )


def _stage_history(
    leads: ir.Table,
    history: ir.Table | None,
    lifecycle: dict[str, str],
    cols: tuple[str, str, str, str],
) -> ir.Table:
    """``lead`` at each lead's creation, then each change of ``lifecyclestage``
    in ``history`` (columns: record, property, value, timestamp)."""
    import ibis

    created = leads.select("lead_id", stage=ibis.literal("lead"), entered_at=leads.created_at)
    if history is None:
        return created
    record, prop, value, at = (_need(history, c) for c in cols)
    changes = history.filter((prop == "lifecyclestage") & (value != "lead"))
    moves = changes.select(
        lead_id=_text(changes[record.get_name()]),
        stage=_renamed(changes[value.get_name()].cast("string"), lifecycle),
        entered_at=_instant(changes[at.get_name()]),
    )
    return created.union(moves, distinct=False)


def _deals(
    deals: ir.Table, origin: ir.Table | None, status: Any, deal_stages: dict[str, str],
    fields: dict[str, str],
) -> ir.Table:  # fmt: skip
    import ibis

    none = ibis.null("string")
    key = _need(deals, "id")
    joined = deals if origin is None else deals.left_join(origin, key == origin.deal)
    lead = none if origin is None else joined.lead_id.cast("string")

    def field(name: str) -> Any:
        return _column(joined, fields[name])

    return joined.select(
        deal_id=_text(_need(joined, "id")),
        account_id=none,
        lead_id=lead,
        owner_id=_text(field("hubspot_owner_id")),
        team=none,
        created_at=_instant(_need(joined, fields["createdate"])),
        close_date=_instant(field("closedate")).date(),
        amount=_need(joined, fields["amount"]).cast("float64"),
        currency=none,
        status=status(joined),
        stage=_renamed(_need(joined, fields["dealstage"]).cast("string"), deal_stages),
        product=none,
        pipeline=_text(field("pipeline")),
        region=none,
        segment=none,
        attributes=ibis.literal("{}"),
    )


def _reps(owners: ir.Table, first: str, last: str) -> ir.Table:
    import ibis

    def part(name: str) -> Any:
        column = _column(owners, name)
        return ibis.literal("") if column is None else column.cast("string").fill_null("")

    full_name = (part(last) + " " + part(first)).strip()
    return owners.select(
        rep_id=_text(_need(owners, "id")),
        name=full_name.nullif(""),
        email=_column(owners, "email").cast("string"),
        attributes=ibis.literal("{}"),
    )


def _airbyte(
    landed: Callable[..., Any],
    lifecycle: dict[str, str],
    deal_stages: dict[str, str],
    gaps: dict[str, str],
) -> dict[str, ir.Table]:
    import ibis

    fields = {n: f"properties_{n}" for n in (
        "createdate", "hs_analytics_source", "hubspot_owner_id", "associatedcompanyid",
        "lifecyclestage", "closedate", "amount", "dealstage", "pipeline",
    )}  # fmt: skip
    out: dict[str, ir.Table] = {}
    out["leads"] = _leads(landed("contacts"), lifecycle, fields)
    history = landed("contacts_property_history", optional=True)
    out["lead_stage_history"] = _stage_history(
        out["leads"], history, lifecycle, ("vid", "property", "value", "timestamp")
    )
    deals = landed("deals")
    contacts = _column(deals, "contacts")
    origin = None
    if contacts is not None:
        listed = contacts.array if contacts.type().is_json() else contacts
        pairs = deals.select(deal=_need(deals, "id"), contact=listed.unnest())
        if pairs.contact.type().is_json():
            pairs = pairs.mutate(contact=pairs.contact.str)
        origin = _first_contact(pairs.mutate(contact=_text(pairs.contact)))

    def status(t: ir.Table) -> Any:
        won = _column(t, "properties_hs_is_closed_won")
        closed = _column(t, "properties_hs_is_closed")
        return ibis.cases(
            (won.cast("boolean").fill_null(False), "won"),
            (closed.cast("boolean").fill_null(False), "lost"),
            else_="open",
        )

    out["deals"] = _deals(deals, origin, status, deal_stages, fields)
    moves = landed("deals_property_history", optional=True)
    if moves is None:  # not synced: the stage entry dates on the deals, if any
        out["deal_stage_history"] = _entered_columns(deals, deal_stages, gaps)
    else:
        changes = moves.filter(_need(moves, "property") == "dealstage")
        out["deal_stage_history"] = changes.select(
            deal_id=_text(_need(changes, "dealId")),
            stage=_renamed(_need(changes, "value").cast("string"), deal_stages),
            entered_at=_instant(_need(changes, "timestamp")),
        )
    out["reps"] = _reps(landed("owners"), "firstName", "lastName")
    return out


def _dlt(
    landed: Callable[..., Any],
    lifecycle: dict[str, str],
    deal_stages: dict[str, str],
    gaps: dict[str, str],
) -> dict[str, ir.Table]:
    import ibis

    fields = {n: n for n in (
        "createdate", "hs_analytics_source", "hubspot_owner_id", "associatedcompanyid",
        "lifecyclestage", "closedate", "amount", "dealstage", "pipeline",
    )}  # fmt: skip
    out: dict[str, ir.Table] = {}
    out["leads"] = _leads(landed("contacts"), lifecycle, fields)
    history = landed("contacts_property_history", optional=True)
    out["lead_stage_history"] = _stage_history(
        out["leads"], history, lifecycle, ("object_id", "property_name", "value", "timestamp")
    )
    deals = landed("deals")
    links = landed("contacts__deals", optional=True)
    origin = None
    if links is not None:
        pairs = links.select(
            deal=_text(_need(links, "deals_id")), contact=_text(_need(links, "value"))
        )
        origin = _first_contact(pairs)
    stages = landed("pipelines_deals__stages")
    closed = stages.select(
        stage_key=_text(_need(stages, "id")),
        is_closed=_need(stages, "metadata__is_closed").cast("string").lower() == "true",
        probability=_need(stages, "metadata__probability").cast("float64"),
    )
    deals = deals.left_join(closed, _need(deals, "dealstage").cast("string") == closed.stage_key)

    def status(t: ir.Table) -> Any:
        shut = t.is_closed.fill_null(False)
        return ibis.cases((shut & (t.probability == 1), "won"), (shut, "lost"), else_="open")

    out["deals"] = _deals(deals, origin, status, deal_stages, fields)
    timing = landed("stages_timing_deals", optional=True)
    if timing is None:
        gaps["deal_stage_history"] = "stages_timing_deals"
        out["deal_stage_history"] = _no_deal_stages(out["deals"])
    else:
        out["deal_stage_history"] = timing.select(
            deal_id=_text(_need(timing, "id")),
            stage=_renamed(_need(timing, "stage").cast("string"), deal_stages),
            entered_at=_instant(_need(timing, "hs_v2_date_entered_x")),
        )
    out["reps"] = _reps(landed("owners"), "first_name", "last_name")
    return out


_ENTERED = "properties_hs_v2_date_entered_"
# HubSpot's own property beside the per-stage ones: the current stage's entry.
_NOT_A_STAGE = "current_stage"


def _entered_columns(deals: ir.Table, deal_stages: dict[str, str], gaps: dict[str, str]) -> Any:
    """Stage entries from a deal's ``properties_hs_v2_date_entered_<stage id>``
    columns (HubSpot's "date entered" property of each pipeline stage); none
    when the deals have no such column (then ``gaps`` names what is missing)."""
    import ibis

    key = _need(deals, "id")
    parts = []
    for column in deals.columns:
        stage = column[len(_ENTERED) :] if column.lower().startswith(_ENTERED) else ""
        if not stage or stage.lower() == _NOT_A_STAGE:
            continue
        at = deals[column]
        entered = deals.filter(at.notnull())
        parts.append(
            entered.select(
                deal_id=_text(entered[key.get_name()]),
                stage=ibis.literal(deal_stages.get(stage, stage)),
                entered_at=_instant(entered[column]),
            )
        )
    if not parts:
        gaps["deal_stage_history"] = f"deals_property_history, {_ENTERED}<stage>"
        empty = deals.filter(ibis.literal(False))
        return empty.select(
            deal_id=_text(empty[key.get_name()]),
            stage=ibis.null("string"),
            entered_at=ibis.null(_UTC),
        )
    return ibis.union(*parts, distinct=False)


def _no_deal_stages(deals: ir.Table) -> ir.Table:
    import ibis

    return deals.filter(ibis.literal(False)).select(
        "deal_id", stage=deals.stage, entered_at=deals.created_at
    )
