"""What metrics count: entities over the canonical tables, their events and
their segment dimensions.

An *entity* is a kind of fact with an id (a lead, a deal, an activity, ...).
An *event* is a moment in an entity's life: a column (``created_at``,
``close_date``), the first entry of a lifecycle stage (``stage:mql``), or for
deals the close of a won or lost deal. Each entity is counted at most once per
event, because a stage's event is its *first* entry: a lead that re-enters MQL
is still one MQL.

A *dimension* splits facts into segments. The organisation dimensions
(department, team, manager, and region when the entity has none of its own) come
from the rep assignment valid on the day of the fact, so a rep who moved team
keeps their history in the old team.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpitree.data.schema import table as canonical_table

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kpitree.engines import Engine

__all__ = [
    "ENTITIES",
    "ORG_DIMENSIONS",
    "Entity",
    "entity",
]

# Dimensions taken from the rep assignment valid on the fact's day.
ORG_DIMENSIONS = ("department", "team", "manager")


@dataclass(frozen=True, slots=True)
class Entity:
    """What a metric counts (leads, deals, activities, …): its table, id, time and owner
    columns."""

    name: str
    table: str  # canonical table the rows come from
    id: str  # id column
    time: str  # default event placing a fact in a period
    owner: str | None = None  # rep column, for org dimensions
    stages: str | None = None  # stage history table
    # event name -> (column, status filter): deals close as won or lost.
    closes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    lead_column: str | None = None  # link to leads, for dimensions like channel
    account_column: str | None = None  # link to accounts, for industry and the like
    # Whom a fact is credited to (a metric's ``credit``): None or ``owner`` (the
    # owner column, else the account's owner), ``lead_owner`` (the originating
    # lead's owner) or a column (``attributes.<key>`` inside the JSON column).
    credit: str | None = None

    def credited(self, credit: str | None) -> Entity:
        """This entity with facts credited by ``credit``."""
        from dataclasses import replace

        if credit in (None, "owner") or (credit == "lead_owner" and self.name == "leads"):
            return self
        return replace(self, credit=credit)

    def columns(self) -> tuple[str, ...]:
        if self.name == "renewals":
            return _RENEWAL_COLUMNS
        return canonical_table(self.table).column_names

    def is_date(self, column: str) -> bool:
        if self.name == "renewals":
            return column in ("end_date", "start_date")
        return canonical_table(self.table).column(column).type == "DATE"

    def events(self) -> tuple[str, ...]:
        """Event names usable as ``time``, ``from`` or ``to``."""
        out = [c for c in self.columns() if c.endswith(("_at", "_date"))]
        out += list(self.closes)
        if self.stages:
            out += ["stage:<name>"]
        return tuple(out)

    def base(self, engine: Engine) -> ir.Table:
        """The entity's rows as an Ibis table."""
        if self.name == "renewals":
            return _renewals(engine)
        return engine.table(self.table)


_RENEWAL_COLUMNS = (
    "contract_id",
    "account_id",
    "product",
    "start_date",
    "end_date",
    "currency",
    "status",
    "mrr",
    "arr",
    "mrr_after",
    "mrr_retained",
    "renewed",
    "arr_retained",
    "arr_expansion",
)


def _renewals(engine: Engine) -> ir.Table:
    """One row per contract term that ended renewed or churned, with the MRR of
    the term that follows (0 when churned): the base of renewal rate, churn, NRR
    and GRR. Several following terms (a split renewal) add up."""
    import ibis

    c = engine.table("contracts")
    ended = c.filter(c.status.isin(["renewed", "churned"]))
    nxt = c.filter(c.renewed_from.notnull())
    after = nxt.group_by(prev=nxt.renewed_from).aggregate(mrr_after=nxt.mrr.sum())
    j = ended.left_join(after, ended.contract_id == after.prev)
    mrr_after = ibis.ifelse(j.status == "renewed", j.mrr_after.fill_null(0.0), 0.0)
    out = j.select(
        "contract_id",
        "account_id",
        "product",
        "start_date",
        "end_date",
        "currency",
        "status",
        "mrr",
        "arr",
        mrr_after=mrr_after,
    )
    out = out.mutate(
        mrr_retained=ibis.least(out.mrr_after, out.mrr.fill_null(0.0)),
        renewed=ibis.ifelse(out.status == "renewed", 1, 0),
    )
    # Annualised as 12 x MRR, so that retained + expansion = 12 x MRR after renewal.
    return out.mutate(
        arr_retained=out.mrr_retained * 12.0,
        arr_expansion=(out.mrr_after - out.mrr_retained) * 12.0,
    )


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "leads",
            "leads",
            "lead_id",
            "created_at",
            owner="owner_id",
            stages="lead_stage_history",
            account_column="account_id",
        ),
        Entity(
            "deals",
            "deals",
            "deal_id",
            "created_at",
            owner="owner_id",
            stages="deal_stage_history",
            closes={"won": ("close_date", "won"), "lost": ("close_date", "lost")},
            lead_column="lead_id",
            account_column="account_id",
        ),
        Entity(
            "activities",
            "activities",
            "activity_id",
            "occurred_at",
            owner="owner_id",
            lead_column="lead_id",
            account_column="account_id",
        ),
        Entity("contracts", "contracts", "contract_id", "start_date", account_column="account_id"),
        Entity("renewals", "contracts", "contract_id", "end_date", account_column="account_id"),
        Entity("marketing_spend", "marketing_spend", "spend_id", "spend_date"),
        Entity(
            "nps_responses",
            "nps_responses",
            "response_id",
            "responded_at",
            account_column="account_id",
        ),
        Entity("accounts", "accounts", "account_id", "created_at", owner="owner_id"),
    )
}


def entity(name: str) -> Entity:
    return ENTITIES[name]
