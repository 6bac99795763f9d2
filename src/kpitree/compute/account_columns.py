"""Columns that ABM adds to facts linked to an account: whether the account is
a target account (``target_account``), its score, engagement points and tier
(``abm_score``, ``abm_engagement``, ``abm_tier``), each as it was on the
fact's day.

A metric uses them like the entity's own columns (``where: {target_account:
true}``, ``measure: abm_engagement``). A fact's day is the day it is placed
on (``__day``: the event of the metric, a cohort's first event, a snapshot's
last day of the period); a fact after the as-of day reads the as-of day, the
last one scored. The values come from the project (the façade gives the
engine an ``account_days(first, last)`` function, from :mod:`kpitree.abm`);
this layer only joins them, as an in-memory table, so the compiled query is
never kept across data changes. Where the facts' filter on these columns is
applied after the join, on the facts placed on their day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kpitree.compute.entities import Entity
from kpitree.errors import UserError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.metrics import Metric
    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = [
    "ACCOUNT_COLUMNS",
    "AccountJoin",
    "account_join",
    "account_key",
    "split_where",
    "uses_abm",
]

ACCOUNT_COLUMNS = (
    "target_account",
    "abm_score",
    "abm_engagement",
    "abm_tier",
    "abm_account_department",
)
# Where a lead (contact) keeps its department (部署), among its ``attributes``.
DEPARTMENT_KEYS = ("部署", "部署名", "所属部署", "Department", "department")

AccountJoin = Callable[["ir.Table"], "ir.Table"]
"""Facts with a ``__day`` -> the same facts with the ABM columns (and their
``where``) of that day."""


def account_key(ent: Entity) -> str | None:
    """The column of ``ent`` holding the account id (``None``: no account)."""
    return ent.id if ent.name == "accounts" else ent.account_column


def split_where(where: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``where`` as (conditions on the entity's columns, on the ABM columns)."""
    own = {k: v for k, v in where.items() if k not in ACCOUNT_COLUMNS}
    abm = {k: v for k, v in where.items() if k in ACCOUNT_COLUMNS}
    return own, abm


def account_join(
    engine: Engine,
    ent: Entity,
    used: Iterable[str],
    where: Mapping[str, Any],
    periods: Sequence[Period],
    as_of: dt.date | None,
) -> AccountJoin | None:
    """How facts of ``ent`` gain the ABM columns among ``used`` (and are kept
    by ``where``, the metric's conditions on them); ``None`` when none is used."""
    import ibis

    from kpitree.compute.events import filtered
    from kpitree.compute.links import activity_account, linked_reference

    wanted = [c for c in ACCOUNT_COLUMNS if c in set(used)]
    if not wanted:
        return None
    days_of = getattr(engine, "account_days", None)
    if days_of is None:
        raise UserError.of("KT263", "abm.compute.no_abm", None, columns=", ".join(wanted))
    key = account_key(ent)
    last_scored: dt.date = as_of or engine.abm_today  # type: ignore[attr-defined]
    first = min(p.start for p in periods)
    last = max(first, min(max(p.end for p in periods), last_scored))
    if first > last_scored:
        first = last = last_scored

    daily = [c for c in wanted if c != "abm_account_department"]

    def join(t: ir.Table) -> ir.Table:
        if key is None:  # no account: not a target account, no score
            nulls = {
                "target_account": ibis.literal(False),
                "abm_score": ibis.null("float64"),
                "abm_engagement": ibis.null("float64"),
                "abm_tier": ibis.null("string"),
                "abm_account_department": ibis.null("string"),
            }
            return filtered(t.mutate(**{c: nulls[c] for c in wanted}), where)
        # The account the cross-source links give the fact, else the one it
        # names; an activity naming none is its lead's account's.
        if ent.table == "activities" and ent.lead_column == "lead_id":
            t, account = activity_account(engine, t)
            t = t.mutate(account_id=t[account])  # so a measure of accounts counts it too
        else:
            t, account = linked_reference(engine, ent.table, ent.id, t, key)
        j = t
        if daily:
            m = ibis.memtable(days_of(first, last)).select("__abm_account", "__abm_day", *daily)
            day = ibis.least(t.__day, ibis.literal(last_scored))
            j = t.left_join(m, [t[account] == m.__abm_account, day == m.__abm_day])
            j = j.drop("__abm_account", "__abm_day")
        if "target_account" in wanted:
            j = j.mutate(target_account=j.target_account.fill_null(False))
        if "abm_account_department" in wanted:
            j = _with_department(engine, ent, j, account)
        return filtered(j, where)

    return join


def _with_department(engine: Engine, ent: Entity, t: ir.Table, account: str) -> ir.Table:
    """``t`` with ``abm_account_department``: the fact's account and its
    lead's department (trimmed), one text per department of an account; null
    when either is unknown."""
    import ibis

    if ent.lead_column is None:
        return t.mutate(abm_account_department=ibis.null("string"))
    leads = engine.table("leads")
    texts = [leads.attributes[k].str.strip() for k in DEPARTMENT_KEYS]
    dept = ibis.coalesce(*[ibis.ifelse(x == "", ibis.null("string"), x) for x in texts])
    leads = leads.select(__dl=leads.lead_id, __dept=dept)
    j = t.left_join(leads, t[ent.lead_column] == leads.__dl).drop("__dl")
    both = j[account].notnull() & j.__dept.notnull()
    text = j[account].cast("string").concat("\x1f", j.__dept)
    return j.mutate(abm_account_department=ibis.ifelse(both, text, None)).drop("__dept")


def uses_abm(metric: Metric) -> bool:
    """Whether ``metric`` filters on or measures a column of ``abm:`` (it can
    be measured only in a project that defines the scoring)."""
    spec = metric.spec
    return any(c in ACCOUNT_COLUMNS for c in (*spec.where, spec.measure))
