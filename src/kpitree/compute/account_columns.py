"""Columns that ABM adds to facts linked to an account: whether the account is
a target account (``target_account``), its score, engagement points and tier
(``abm_score``, ``abm_engagement``, ``abm_tier``), as of the as-of day.

A metric uses them like the entity's own columns (``where: {target_account:
true}``, ``measure: abm_engagement``). They come from the project (the façade
gives the engine an ``account_facts(as_of)`` function, from
:mod:`kpitree.abm`); this layer only joins them, as an in-memory table, so
the compiled query is never kept across data changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kpitree.compute.entities import Entity
from kpitree.errors import UserError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.compute.metrics import Metric
    from kpitree.engines import Engine

__all__ = ["ACCOUNT_COLUMNS", "account_key", "uses_abm", "with_account_columns"]

ACCOUNT_COLUMNS = ("target_account", "abm_score", "abm_engagement", "abm_tier")


def account_key(ent: Entity) -> str | None:
    """The column of ``ent`` holding the account id (``None``: no account)."""
    return ent.id if ent.name == "accounts" else ent.account_column


def with_account_columns(
    engine: Engine, ent: Entity, t: ir.Table, used: Iterable[str], as_of: dt.date | None
) -> ir.Table:
    """``t`` with the ABM columns among ``used`` (unchanged when none is)."""
    import ibis

    wanted = [c for c in ACCOUNT_COLUMNS if c in set(used)]
    key = account_key(ent)
    if not wanted or key is None:
        return t
    facts_of = getattr(engine, "account_facts", None)
    if facts_of is None:
        raise UserError.of("KT263", "abm.compute.no_abm", None, columns=", ".join(wanted))
    m = ibis.memtable(facts_of(as_of)).select("__abm_account", *wanted)
    j = t.left_join(m, t[key] == m.__abm_account).drop("__abm_account")
    if "target_account" in wanted:
        j = j.mutate(target_account=j.target_account.fill_null(False))
    return j


def uses_abm(metric: Metric) -> bool:
    """Whether ``metric`` filters on or measures a column of ``abm:`` (it can
    be measured only in a project that defines the scoring)."""
    spec = metric.spec
    return any(c in ACCOUNT_COLUMNS for c in (*spec.where, spec.measure))
