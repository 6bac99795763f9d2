"""One account's records up to an as-of day, through Ibis: its timeline
(activities, its own or its leads', stage entries of its leads and deals),
deals, contacts (leads;
a lead or deal is the account's when the cross-source links give it to the
account, else when it names the account)
and its KPIs (open pipeline, won revenue of the last 365 days, renewal rate
and NRR of the terms that ended in them)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kpitree.compute.events import local_day
from kpitree.compute.links import activity_account, linked_reference

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = ["TIMELINE_LIMIT", "account_kpis", "account_records"]

TIMELINE_LIMIT = 200


def _of_account(engine: Engine, table: str, key: str, account_id: str) -> ir.Table:
    """The leads or deals of the account: those the cross-source links give
    it, else those naming it (as the metrics of the tree count them)."""
    records, account = linked_reference(engine, table, key, engine.table(table), "account_id")
    return records.filter(records[account] == account_id)


def account_records(
    engine: Engine, account_id: str, as_of: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(timeline newest first, deals, contacts) of the account."""
    import ibis
    import ibis.expr.datatypes as dtypes

    # Nullable types all round: the union needs the same schema on each side.
    instant, text = dtypes.Timestamp(timezone="UTC", scale=6), dtypes.String()

    # Its own, and those naming no account whose lead is the account's.
    acts, acc = activity_account(engine, engine.table("activities"))
    acts = acts.filter((acts[acc] == account_id) & (local_day(acts.occurred_at) <= as_of))
    parts = [
        acts.select(
            at=acts.occurred_at.cast(instant),
            kind=ibis.literal("activity"),
            what=acts.type.cast(text),
            detail=acts.outcome.cast(text),
            record=acts.activity_id.cast(text),
        )
    ]
    for kind, key in (("lead", "lead_id"), ("deal", "deal_id")):
        records = _of_account(engine, f"{kind}s", key, account_id)
        mine = records.select(__rid=records[key])
        hist = engine.table(f"{kind}_stage_history")
        j = hist.inner_join(mine, hist[key] == mine.__rid)
        j = j.filter(local_day(j.entered_at) <= as_of)
        parts.append(
            j.select(
                at=j.entered_at.cast(instant),
                kind=ibis.literal(f"{kind}_stage"),
                what=j.stage.cast(text),
                detail=ibis.null(text),
                record=j[key].cast(text),
            )
        )
    u = ibis.union(*parts)
    timeline = engine.execute(u.order_by(ibis.desc("at")).limit(TIMELINE_LIMIT)).to_pylist()
    d = _of_account(engine, "deals", "deal_id", account_id)
    d = d.filter(local_day(d.created_at) <= as_of)
    deals = engine.execute(
        d.select(
            "deal_id", "status", "stage", "amount", "created_at", "close_date", "owner_id"
        ).order_by(ibis.desc("created_at"))
    ).to_pylist()
    le = _of_account(engine, "leads", "lead_id", account_id)
    le = le.filter(local_day(le.created_at) <= as_of)
    contacts = engine.execute(
        le.select("lead_id", "current_stage", "created_at", "owner_id", "channel").order_by(
            ibis.desc("created_at")
        )
    ).to_pylist()
    return timeline, deals, contacts


def account_kpis(engine: Engine, account_id: str, as_of: dt.date) -> dict[str, float | None]:
    """Open pipeline on ``as_of``; won revenue, renewal rate and NRR of the
    365 days up to it."""
    import ibis

    since = as_of - dt.timedelta(days=364)
    d = _of_account(engine, "deals", "deal_id", account_id)
    closed = d.status.isin(["won", "lost"])
    is_open = (local_day(d.created_at) <= as_of) & (~closed | (d.close_date > as_of))
    won = (d.status == "won") & (d.close_date >= since) & (d.close_date <= as_of)
    row = engine.execute(
        d.aggregate(
            open_pipeline=d.amount.sum(where=is_open),
            won_revenue=d.amount.sum(where=won),
            won_deals=d.count(where=won),
        )
    ).to_pylist()[0]
    c = engine.table("contracts")
    ended = c.filter(
        (c.account_id == account_id)
        & c.status.isin(["renewed", "churned"])
        & (c.end_date >= since)
        & (c.end_date <= as_of)
    )
    nxt = c.filter(c.renewed_from.notnull())
    after = nxt.group_by(prev=nxt.renewed_from).aggregate(mrr_after=nxt.mrr.sum())
    j = ended.left_join(after, ended.contract_id == after.prev)
    mrr_after = ibis.ifelse(j.status == "renewed", j.mrr_after.fill_null(0.0), 0.0)
    r = engine.execute(
        j.aggregate(
            due=j.count(),
            renewed=j.count(where=j.status == "renewed"),
            due_mrr=j.mrr.sum(),
            mrr_after=mrr_after.sum(),
        )
    ).to_pylist()[0]
    due, due_mrr = r["due"] or 0, r["due_mrr"] or 0.0
    return {
        "open_pipeline": row["open_pipeline"],
        "won_revenue": row["won_revenue"],
        "won_deals": float(row["won_deals"] or 0),
        "renewal_rate": (r["renewed"] / due) if due else None,
        "nrr": (r["mrr_after"] / due_mrr) if due_mrr else None,
    }
