"""The funnel across sources: metrics follow the links of
:mod:`kpitree.data.links`.

- A deal's lead and account are those it is linked to (``deal_lead``,
  ``deal_account``), else its own ``lead_id`` / ``account_id`` as stored; a
  lead's account likewise (``lead_account``). Dimensions taken from the lead
  (channel, campaign) or the account (industry), and credit to the lead's owner,
  follow.
- A lead's ``opportunity`` and ``won`` stages, when the lead's own history has
  no entry of that stage, are the first creation of a deal linked to it (or to
  the same person in another source, ``lead_lead``) and the first ``won`` entry
  of such a deal. So a HubSpot MQL that became a Salesforce
  opportunity is converted in the MQL cohort, and a cohort rate stays a share
  of the cohort (never above 100%). A stage the lead's own source recorded is
  kept as it is.
- An activity's account is its own, else its lead's (the lead's linked
  account, else the lead's own): a marketing tool names only the lead.

Links are read from the ``kpitree_links`` table of the engine's database (a
kpitree warehouse has it; :func:`kpitree.engines.copy_warehouse` copies it).
A database without it computes as before: stored ids only.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from kpitree.data.links import LINKS_TABLE

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = [
    "LINKED_STAGES",
    "activity_account",
    "has_links",
    "lead_accounts",
    "linked_reference",
    "linked_stage_entries",
]

LINKED_STAGES = ("opportunity", "won")
"""Lead stages a linked deal gives a lead that has no entry of its own."""

_HAS: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()

# (entity table, reference column) -> relation
_RELATION_OF: dict[tuple[str, str], str] = {
    ("deals", "lead_id"): "deal_lead",
    ("deals", "account_id"): "deal_account",
    ("leads", "account_id"): "lead_account",
}


def has_links(engine: Engine) -> bool:
    """Whether the engine's database has the links table (asked once per engine)."""
    known = _HAS.get(engine)
    if known is None:
        import ibis.common.exceptions as ibis_errors

        try:
            engine.backend.table(LINKS_TABLE)
            known = True
        except (ibis_errors.TableNotFound, ibis_errors.IbisError):
            known = False
        except Exception:  # a driver's own "no such table"
            known = False
        _HAS[engine] = known
    return known


def _linked(engine: Engine, relation: str) -> ir.Table:
    """``(__from, __to)`` of the links of ``relation`` that were made."""
    links = engine.backend.table(LINKS_TABLE)
    made = links.filter((links.relation == relation) & (links.status == "linked"))
    return made.select(__from=made.from_id, __to=made.to_id)


def _without(t: ir.Table, *names: str) -> ir.Table:
    """``t`` without the columns ``names``, one at a time: Ibis drops several
    columns as a set, whose order (in an ``EXCLUDE`` list) changes from one
    process to the next, and the compiled SQL is the key of kept results."""
    for name in names:
        t = t.drop(name)
    return t


def linked_reference(
    engine: Engine, table: str, id_column: str, t: ir.Table, column: str
) -> tuple[ir.Table, str]:
    """``t`` (rows of canonical ``table``, with its ``id_column``) and the name
    of a column holding the linked record of ``column`` (``lead_id``,
    ``account_id``): the link's target, else the stored reference. Without
    links (or for a reference no relation covers) the column itself."""
    relation = _RELATION_OF.get((table, column))
    if relation is None or not has_links(engine):
        return t, column
    name = f"__lk_{column}"
    if name in t.columns:
        return t, name
    import ibis

    link = _linked(engine, relation)
    source, target = f"__lkf_{column}", f"__lkt_{column}"
    link = link.select(**{source: link.__from, target: link.__to})
    joined = t.left_join(link, t[id_column].cast("string") == link[source])
    joined = joined.mutate(**{name: ibis.coalesce(joined[target], joined[column])})
    return _without(joined, source, target), name


def lead_accounts(engine: Engine) -> ir.Table:
    """``(__alid, __lacc)``: every lead with an account and that account (the
    one the links give the lead, else its own ``account_id``), as text."""
    leads = engine.table("leads")
    leads, account = linked_reference(engine, "leads", "lead_id", leads, "account_id")
    leads = leads.filter(leads[account].notnull())
    return leads.select(__alid=leads.lead_id, __lacc=leads[account].cast("string"))


def activity_account(engine: Engine, t: ir.Table) -> tuple[ir.Table, str]:
    """``t`` (activities) and the name of a column holding each activity's
    account: its own ``account_id``, else its lead's (:func:`lead_accounts`;
    a marketing tool's activities name only the lead)."""
    import ibis

    name = "__act_account"
    if name in t.columns:
        return t, name
    la = lead_accounts(engine)
    j = t.left_join(la, t.lead_id == la.__alid)
    j = j.mutate(**{name: ibis.coalesce(j.account_id.cast("string"), j.__lacc)})
    return _without(j, "__alid", "__lacc"), name


def linked_stage_entries(engine: Engine, stage: str) -> ir.Table | None:
    """``(__lid, __lat)``: the entries of lead stage ``stage`` that linked deals
    give (every linked deal's, not yet the first), or ``None`` when the stage
    is not one a deal gives or the database has no links."""
    if stage not in LINKED_STAGES or not has_links(engine):
        return None
    link = _linked(engine, "deal_lead")
    if stage == "opportunity":
        deals = engine.table("deals")
        at = deals.select(__d=deals.deal_id, __at=deals.created_at)
    else:
        hist = engine.table("deal_stage_history")
        won = hist.filter(hist.stage == stage)
        at = won.select(__d=won.deal_id, __at=won.entered_at)
    j = at.join(link, at.__d.cast("string") == link.__from)
    entries = j.select(__lid=j.__to, __lat=j.__at)
    # The same person in another source (lead_lead) has the same entries.
    same = _linked(engine, "lead_lead")
    other = entries.join(same, entries.__lid == same.__to)
    return entries.union(other.select(__lid=other.__from, __lat=other.__lat))
