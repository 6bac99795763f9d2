"""Accounts enriched by the company master (:mod:`kpitree.data.company_master`):
an account lacking employees, industry or annual revenue takes the master's.

An account is matched to the master by the first of its keys that some
company of the master has too: 法人番号, then domain, then normalised name
(the keys of the cross-source links, :mod:`kpitree.abm.keys`). When that key
names more than one company (two companies of one domain), the account is
left as it is: a guess would score it wrongly without anyone knowing. The
account's own values come first; the master fills what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.abm import keys

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = ["MasterMatch", "enriched_accounts", "master_matches"]

_FILLED = ("employees", "industry", "annual_revenue")


@dataclass(frozen=True, slots=True)
class MasterMatch:
    """The master's company of one account, and by which key."""

    account_id: str
    corporate_number: str
    method: str  # corporate_number, domain or name
    values: Mapping[str, Any]  # employees, industry, annual_revenue of the master


def _master_rows(engine: Engine) -> list[dict[str, Any]]:
    from kpitree.data.company_master import MASTER_TABLE

    if not engine.has_table(MASTER_TABLE):
        return []
    t = engine.backend.table(MASTER_TABLE)
    rows: list[dict[str, Any]] = engine.execute(t).to_pylist()
    return rows


def master_matches(engine: Engine) -> dict[str, MasterMatch]:
    """Account id -> its company in the master (accounts without one left out)."""
    import json

    companies = _master_rows(engine)
    if not companies:
        return {}
    index: dict[str, dict[str, list[dict[str, Any]]]] = {
        "corporate_number": {},
        "domain": {},
        "name": {},
    }
    for c in companies:
        found = {
            "corporate_number": c["corporate_number"],
            "domain": keys.domain(c["domain"]),
            "name": keys.company_name(c["name"]),
        }
        for kind, key in found.items():
            if key:
                index[kind].setdefault(key, []).append(c)
    acc = engine.table("accounts")
    out: dict[str, MasterMatch] = {}
    for r in engine.execute(acc.select("account_id", "name", "attributes")).to_pylist():
        try:
            attrs = json.loads(r["attributes"] or "{}")
        except ValueError:
            attrs = {}
        own = keys.account_keys_of(r["name"], attrs if isinstance(attrs, dict) else {})
        for kind in ("corporate_number", "domain", "name"):
            key = own[kind]
            candidates = index[kind].get(key, []) if key else []
            if not candidates:
                continue
            if len(candidates) == 1:
                c = candidates[0]
                out[str(r["account_id"])] = MasterMatch(
                    str(r["account_id"]),
                    str(c["corporate_number"]),
                    kind,
                    {f: c[f] for f in _FILLED},
                )
            break  # the first key with candidates decides, even when ambiguous
    return out


def enriched_accounts(engine: Engine) -> ir.Table:
    """The ``accounts`` table, with what the master knows where the account
    knows nothing (a blank industry counts as nothing)."""
    import ibis
    import pyarrow as pa

    acc = engine.table("accounts")
    matches = master_matches(engine)
    if not matches:
        return acc
    found = list(matches.values())
    m = ibis.memtable(
        pa.table(
            {
                "__m_acc": pa.array([x.account_id for x in found], pa.string()),
                "__m_employees": pa.array([x.values["employees"] for x in found], pa.int64()),
                "__m_industry": pa.array([x.values["industry"] for x in found], pa.string()),
                "__m_revenue": pa.array([x.values["annual_revenue"] for x in found], pa.float64()),
            }
        )
    )
    j = acc.left_join(m, acc.account_id == m.__m_acc)
    industry = j.industry.strip()
    own_industry = ibis.ifelse(industry == "", ibis.null("string"), j.industry)
    return j.mutate(
        employees=ibis.coalesce(j.employees, j.__m_employees.cast(j.employees.type())),
        industry=ibis.coalesce(own_industry, j.__m_industry),
        annual_revenue=ibis.coalesce(j.annual_revenue, j.__m_revenue.cast(j.annual_revenue.type())),
    ).select(*acc.columns)
