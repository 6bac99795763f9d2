"""Canonical tables as views over what an ELT tool already landed in the warehouse.

A company whose CRM data Fivetran lands in its warehouse points kpitree at
those tables instead of importing: :func:`attach_landed` makes the engine read
each canonical table as an Ibis expression over the landed tables (nothing is
written to the database, so a read-only role is enough).

Preset ``fivetran_salesforce`` (Fivetran's Salesforce connector: one table per
object, the object's API field names in snake case, ``is_deleted`` on rows
deleted in Salesforce):

===================== =====================================================
canonical table       from
===================== =====================================================
``accounts``          ``account`` (id, name, industry, number_of_employees,
                      annual_revenue, owner_id, created_date)
``leads``             ``lead`` (id, created_date, lead_source, owner_id,
                      industry, status, converted_account_id)
``lead_stage_history`` ``lead_history`` rows of the ``Status`` field
                      (lead_id, new_value, created_date), each status named by
                      ``lead_statuses``; ``lead`` at the lead's created_date
``deals``             ``opportunity`` (id, account_id, owner_id, created_date,
                      close_date, amount, stage_name, is_closed, is_won, type);
                      its lead is the lead converted into it
                      (``lead.converted_opportunity_id``)
``deal_stage_history`` ``opportunity_history`` (opportunity_id, stage_name,
                      created_date), each stage named by ``deal_stages``
``reps``              ``user`` (id, name, email)
===================== =====================================================

Preset ``fivetran_hubspot`` (Fivetran's HubSpot connector: ``contact`` with
``property_*`` columns, ``contact_property_history`` of ``lifecyclestage``,
``deal``, ``deal_stage``, ``deal_pipeline_stage``, ``deal_contact``, ``owner``);
docs/engine.md gives the mapping.

Presets ``airbyte_hubspot`` and ``dlt_hubspot`` read HubSpot as those tools land
it (:mod:`kpitree.engines.landed_hubspot`).

Presets ``airbyte_salesforce`` and ``dlt_salesforce`` read the same objects and
fields as ``fivetran_salesforce`` under those tools' names: Airbyte's API names
(``LeadHistory``, ``CreatedDate``), matched without case since its destinations
may lowercase them; dlt's snake case, without the history objects its source does
not load (then the only stage entry of a lead is its creation).

Rows with ``is_deleted`` (or Fivetran's ``_fivetran_deleted``) true are left
out. Every other canonical table is read from the database when it has one of
that name (``rep_assignments`` kept by the company, say), and is empty otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines.engine import Engine

__all__ = ["PRESETS", "attach_landed", "landed_tables"]

PRESETS = (
    "fivetran_salesforce",
    "fivetran_hubspot",
    "airbyte_salesforce",
    "dlt_salesforce",
    "airbyte_hubspot",
    "dlt_hubspot",
)
# The Salesforce objects and fields the Salesforce presets read, by API name.
# Fivetran and dlt land them in snake case (``LeadHistory`` -> ``lead_history``,
# ``CreatedDate`` -> ``created_date``); Airbyte keeps the API names, which its
# destinations may lowercase (``createddate``) or uppercase: matched without case.
SALESFORCE_FIELDS = {
    "Account": ("Id", "Name", "Industry", "NumberOfEmployees", "AnnualRevenue", "OwnerId",
                "CreatedDate", "IsDeleted"),
    "Lead": ("Id", "CreatedDate", "LeadSource", "OwnerId", "Industry", "Status",
             "ConvertedAccountId", "ConvertedOpportunityId", "IsDeleted"),
    "LeadHistory": ("LeadId", "Field", "NewValue", "CreatedDate", "IsDeleted"),
    "Opportunity": ("Id", "AccountId", "OwnerId", "CreatedDate", "CloseDate", "Amount",
                    "StageName", "IsClosed", "IsWon", "Type", "IsDeleted"),
    "OpportunityHistory": ("OpportunityId", "StageName", "CreatedDate", "IsDeleted"),
    "User": ("Id", "Name", "Email"),
}  # fmt: skip
# Bookkeeping flags of rows deleted in the source, per tool.
_DELETED = ("is_deleted", "_fivetran_deleted")
# HubSpot's internal lifecycle stage values and the canonical stages they are.
HUBSPOT_LIFECYCLE = {
    "lead": "lead",
    "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "won",
}


def attach_landed(
    engine: Engine,
    preset: str,
    *,
    database: str | None = None,
    lead_statuses: Mapping[str, str] | None = None,
    deal_stages: Mapping[str, str] | None = None,
) -> list[str]:
    """Make ``engine`` read the canonical tables from the tables ``preset``
    describes, in schema (or dataset) ``database``; return the canonical tables
    that come from them. ``lead_statuses`` names the canonical stage of each
    lead status (``{"Marketing Qualified": "mql"}``; statuses not named keep
    their own name as a custom stage), ``deal_stages`` that of each opportunity
    stage."""
    engine.landed_gaps.clear()
    views = landed_tables(
        engine, preset, database=database, lead_statuses=lead_statuses, deal_stages=deal_stages
    )
    engine.views = views
    engine._tables.clear()
    # Part of what names the engine's data (query caches are keyed by it): the
    # same database read through other views, or other names, is other data.
    spelled = json.dumps([preset, database, lead_statuses, deal_stages], sort_keys=True)
    digest = hashlib.sha256(spelled.encode()).hexdigest()[:12]
    engine.where = f"{engine.where} [{preset} {database or ''} {digest}]"
    return sorted(views)


def landed_tables(
    engine: Engine,
    preset: str,
    *,
    database: str | None = None,
    lead_statuses: Mapping[str, str] | None = None,
    deal_stages: Mapping[str, str] | None = None,
) -> dict[str, ir.Table]:
    """The canonical tables as expressions over the landed tables (see
    :func:`attach_landed`)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: one of {', '.join(PRESETS)}")

    def without_deleted(table: ir.Table) -> ir.Table:
        for flag in _DELETED:  # deleted in the source
            if flag in table.columns:
                table = table.filter(~table[flag].fill_null(False))
        return table

    def landed(name: str) -> ir.Table:
        return without_deleted(engine.backend.table(name, database=database))

    if preset == "fivetran_hubspot":
        statuses = {**HUBSPOT_LIFECYCLE, **(lead_statuses or {})}
        return _fivetran_hubspot(landed, statuses, dict(deal_stages or {}))
    if preset in ("airbyte_hubspot", "dlt_hubspot"):
        from kpitree.engines.landed_hubspot import elt_hubspot

        return elt_hubspot(
            engine,
            preset,
            _table_names(engine, database),
            database=database,
            lifecycle={**HUBSPOT_LIFECYCLE, **(lead_statuses or {})},
            deal_stages=dict(deal_stages or {}),
        )
    if preset != "fivetran_salesforce":
        present = {t.lower(): t for t in _table_names(engine, database)}

        def landed_or_none(name: str) -> ir.Table | None:
            obj = next(o for o in SALESFORCE_FIELDS if _snake(o) == name)
            spelled = obj if preset == "airbyte_salesforce" else name
            found = present.get(spelled.lower())
            if found is None:
                if name.endswith("_history"):  # optional: not every tool lands history
                    return None
                from kpitree.errors import UserError

                where = f"{engine.where} ({database or 'default schema'})"
                raise UserError.of(
                    "KT550", "engines.landed_missing", preset=preset, name=spelled,
                    where=where, tables=", ".join(sorted(present.values())) or "-",
                )  # fmt: skip
            table = engine.backend.table(found, database=database)
            wanted = {f.lower(): _snake(f) for f in SALESFORCE_FIELDS[obj]}
            renames = {
                wanted[c.lower()]: c
                for c in table.columns
                if c.lower() in wanted and c != wanted[c.lower()]
            }
            return without_deleted(table.rename(renames) if renames else table)

        return _fivetran_salesforce(
            landed_or_none, dict(lead_statuses or {}), dict(deal_stages or {})
        )
    return _fivetran_salesforce(landed, dict(lead_statuses or {}), dict(deal_stages or {}))


def _table_names(engine: Engine, database: str | None) -> list[str]:
    """The tables and views of schema ``database`` (the current one when none)."""
    if engine.name == "duckdb":  # Ibis's list_tables needs an older DuckDB API
        rows = engine.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = coalesce($schema, current_schema()) "
            "AND table_catalog = current_database()",
            {"schema": database},
        ).fetchall()
        return [str(row[0]) for row in rows]
    names: list[str] = engine.backend.list_tables(database=database)
    return names


def _snake(name: str) -> str:
    """A Salesforce API name in snake case, as Fivetran and dlt name it
    (``NumberOfEmployees`` -> ``number_of_employees``)."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _renamed(column: Any, names: dict[str, str]) -> Any:
    """``column`` with each value in ``names`` replaced by its canonical name."""
    if not names:
        return column
    return column.substitute(names)


def _fivetran_salesforce(
    landed: Any, lead_statuses: dict[str, str], deal_stages: dict[str, str]
) -> dict[str, ir.Table]:
    import ibis

    utc = "timestamp('UTC')"
    none = ibis.null("string")
    account = landed("account")
    lead = landed("lead")
    opportunity = landed("opportunity")
    out: dict[str, ir.Table] = {}
    out["accounts"] = account.select(
        account_id=account.id,
        name=account.name,
        industry=account.industry,
        employees=account.number_of_employees.cast("int64"),
        annual_revenue=account.annual_revenue.cast("float64"),
        region=none,
        segment=none,
        country=none,
        owner_id=account.owner_id,
        created_at=account.created_date.cast(utc),
        attributes=ibis.literal("{}"),
    )
    out["leads"] = lead.select(
        lead_id=lead.id,
        created_at=lead.created_date.cast(utc),
        channel=lead.lead_source,
        campaign=none,
        owner_id=lead.owner_id,
        team=none,
        region=none,
        segment=none,
        industry=lead.industry,
        account_id=lead.converted_account_id,
        current_stage=_renamed(lead.status, lead_statuses),
        attributes=ibis.literal("{}"),
    )
    created = lead.select(
        lead_id=lead.id, stage=ibis.literal("lead"), entered_at=lead.created_date.cast(utc)
    )
    history = landed("lead_history")
    if history is None:  # not landed (dlt's Salesforce source loads no history)
        out["lead_stage_history"] = created
    else:
        changes = history.filter(history.field == "Status")
        moves = changes.select(
            lead_id=changes.lead_id,
            stage=_renamed(changes.new_value, lead_statuses),
            entered_at=changes.created_date.cast(utc),
        )
        out["lead_stage_history"] = created.union(moves, distinct=False)
    converted = lead.filter(lead.converted_opportunity_id.notnull())
    origin = converted.group_by(opportunity_id=converted.converted_opportunity_id).agg(
        lead_id=converted.id.min()
    )
    deals = opportunity.left_join(origin, opportunity.id == origin.opportunity_id)
    status = ibis.cases(
        (deals.is_won.fill_null(False), "won"),
        (deals.is_closed.fill_null(False), "lost"),
        else_="open",
    )
    out["deals"] = deals.select(
        deal_id=deals.id,
        account_id=deals.account_id,
        lead_id=deals.lead_id,
        owner_id=deals.owner_id,
        team=none,
        created_at=deals.created_date.cast(utc),
        close_date=deals.close_date.cast("date"),
        amount=deals.amount.cast("float64"),
        currency=none,
        status=status,
        stage=_renamed(deals.stage_name, deal_stages),
        product=none,
        pipeline=deals.type,
        region=none,
        segment=none,
        attributes=ibis.literal("{}"),
    )
    moves_d = landed("opportunity_history")
    if moves_d is None:  # not landed: no stage entries, and none invented
        out["deal_stage_history"] = opportunity.filter(ibis.literal(False)).select(
            deal_id=opportunity.id,
            stage=opportunity.stage_name,
            entered_at=opportunity.created_date.cast(utc),
        )
    else:
        out["deal_stage_history"] = moves_d.select(
            deal_id=moves_d.opportunity_id,
            stage=_renamed(moves_d.stage_name, deal_stages),
            entered_at=moves_d.created_date.cast(utc),
        )
    user = landed("user")
    out["reps"] = user.select(
        rep_id=user.id, name=user.name, email=user.email, attributes=ibis.literal("{}")
    )
    return out


def _fivetran_hubspot(
    landed: Any, lifecycle: dict[str, str], deal_stages: dict[str, str]
) -> dict[str, ir.Table]:
    import ibis

    utc = "timestamp('UTC')"
    none = ibis.null("string")
    contact = landed("contact")
    out: dict[str, ir.Table] = {}
    out["leads"] = contact.select(
        lead_id=contact.id.cast("string"),
        created_at=contact.property_createdate.cast(utc),
        channel=contact.property_hs_analytics_source,
        campaign=none,
        owner_id=contact.property_hubspot_owner_id.cast("string"),
        team=none,
        region=none,
        segment=none,
        industry=none,
        account_id=contact.property_associatedcompanyid.cast("string"),
        current_stage=_renamed(contact.property_lifecyclestage, lifecycle),
        attributes=ibis.literal("{}"),
    )
    history = landed("contact_property_history")
    changes = history.filter(history.name == "lifecyclestage")
    created = contact.select(
        lead_id=contact.id.cast("string"),
        stage=ibis.literal("lead"),
        entered_at=contact.property_createdate.cast(utc),
    )
    moves = changes.filter(changes.value != "lead").select(
        lead_id=changes.contact_id.cast("string"),
        stage=_renamed(changes.value, lifecycle),
        entered_at=changes.timestamp.cast(utc),
    )
    out["lead_stage_history"] = created.union(moves, distinct=False)
    deal = landed("deal")
    stages = landed("deal_pipeline_stage")
    links = landed("deal_contact")
    origin = links.group_by(link_deal=links.deal_id).agg(lead_id=links.contact_id.min())
    joined = deal.left_join(stages, deal.deal_pipeline_stage_id == stages.stage_id).left_join(
        origin, deal.deal_id == origin.link_deal
    )
    # HubSpot marks a won stage (closed_won); a lost one is closed at probability 0.
    status = ibis.cases(
        (joined.closed_won.fill_null(False), "won"),
        (joined.probability == 0, "lost"),
        else_="open",
    )
    out["deals"] = joined.select(
        deal_id=joined.deal_id.cast("string"),
        account_id=none,
        lead_id=joined.lead_id.cast("string"),
        owner_id=joined.owner_id.cast("string"),
        team=none,
        created_at=joined.property_createdate.cast(utc),
        close_date=joined.property_closedate.cast(utc).date(),
        amount=joined.property_amount.cast("float64"),
        currency=none,
        status=status,
        stage=_renamed(joined.deal_pipeline_stage_id.cast("string"), deal_stages),
        product=none,
        pipeline=joined.deal_pipeline_id.cast("string"),
        region=none,
        segment=none,
        attributes=ibis.literal("{}"),
    )
    entered = landed("deal_stage")
    out["deal_stage_history"] = entered.select(
        deal_id=entered.deal_id.cast("string"),
        stage=_renamed(entered.value, deal_stages),
        entered_at=entered.date_entered.cast(utc),
    )
    owner = landed("owner")
    full_name = (owner.last_name.fill_null("") + " " + owner.first_name.fill_null("")).strip()
    out["reps"] = owner.select(
        rep_id=owner.owner_id.cast("string"),
        name=full_name.nullif(""),
        email=owner.email,
        attributes=ibis.literal("{}"),
    )
    return out
