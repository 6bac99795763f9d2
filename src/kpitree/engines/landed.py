"""Canonical tables as views over what an ELT tool already landed in the warehouse.

A company whose Salesforce data Fivetran lands in its warehouse points kpitree at
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

PRESETS = ("fivetran_salesforce",)


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

    def landed(name: str) -> ir.Table:
        table = engine.backend.table(name, database=database)
        for flag in ("is_deleted", "_fivetran_deleted"):  # deleted in the source
            if flag in table.columns:
                table = table.filter(~table[flag].fill_null(False))
        return table

    return _fivetran_salesforce(landed, dict(lead_statuses or {}), dict(deal_stages or {}))


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
    history = landed("lead_history")
    changes = history.filter(history.field == "Status")
    created = lead.select(
        lead_id=lead.id, stage=ibis.literal("lead"), entered_at=lead.created_date.cast(utc)
    )
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
