"""The canonical revenue data model.

Every importer writes into these tables and every metric reads from them. The
description of each table and column is the documentation (``docs/data-model.md``
is generated from it and checked by a test).

Conventions:
- ids are text, as the source system gives them (``source_id``); they are unique
  per table within a project.
- ``*_at`` columns are instants (``TIMESTAMPTZ``, stored in UTC); a source
  timestamp without a zone is read in the project's time zone (default
  Asia/Tokyo). ``*_date`` columns are calendar dates.
- money is ``DOUBLE`` in the unit of ``currency`` (yen have no decimals).
- ``attributes`` keeps source columns that have no canonical place (JSON object),
  so nothing the user exported is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "CANONICAL_STAGES",
    "DIMENSION_REGISTRY_TABLE",
    "DIMENSION_VALUES_TABLE",
    "TABLES",
    "Column",
    "Table",
    "arrow_schema",
    "table",
]

# The side tables of custom dimensions (kpitree.data.dimensions): named here,
# with the canonical tables, for the queries that read them and the writers
# that count their writes, which need no more of that module.
DIMENSION_VALUES_TABLE = "kpitree_dimension_values"
DIMENSION_REGISTRY_TABLE = "kpitree_dimensions"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a canonical table."""

    name: str
    type: str  # DuckDB type name
    description: str
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class Table:
    """A canonical table: its columns and primary key."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# Lifecycle stages in funnel order. Companies may add their own stage names; the
# mapping says where each of their names goes.
CANONICAL_STAGES: tuple[str, ...] = (
    "lead",
    "mql",
    "sql",
    "opportunity",
    "won",
    "lost",
    "disqualified",
)

_ATTRS = Column("attributes", "JSON", "Source columns with no canonical place, as a JSON object.")

TABLES: tuple[Table, ...] = (
    Table(
        "accounts",
        "Companies the business sells to (取引先).",
        (
            Column("account_id", "VARCHAR", "Account id in the source system.", nullable=False),
            Column("name", "VARCHAR", "Company name."),
            Column("industry", "VARCHAR", "Industry (業種), as mapped."),
            Column("employees", "BIGINT", "Number of employees."),
            Column("annual_revenue", "DOUBLE", "Company's annual revenue, in `currency`."),
            Column("region", "VARCHAR", "Sales region (地域)."),
            Column("segment", "VARCHAR", "Customer segment, e.g. enterprise / mid / smb."),
            Column("country", "VARCHAR", "Country code or name."),
            Column("owner_id", "VARCHAR", "Account owner (rep_id)."),
            Column("created_at", "TIMESTAMPTZ", "When the account was created in the source."),
            _ATTRS,
        ),
        ("account_id",),
    ),
    Table(
        "leads",
        "People who entered the funnel (リード / コンタクト): one row per lead.",
        (
            Column("lead_id", "VARCHAR", "Lead or contact id in the source.", nullable=False),
            Column("created_at", "TIMESTAMPTZ", "When the lead was created.", nullable=False),
            Column("channel", "VARCHAR", "Acquisition channel / source (流入経路), as mapped."),
            Column("campaign", "VARCHAR", "Campaign that brought the lead."),
            Column("owner_id", "VARCHAR", "Owning rep (rep_id)."),
            Column("team", "VARCHAR", "Team recorded on the lead in the source, if any."),
            Column("region", "VARCHAR", "Region of the lead."),
            Column("segment", "VARCHAR", "Segment of the lead."),
            Column("industry", "VARCHAR", "Industry of the lead's company."),
            Column("account_id", "VARCHAR", "Account the lead belongs to."),
            Column("current_stage", "VARCHAR", "Latest canonical stage reached."),
            _ATTRS,
        ),
        ("lead_id",),
    ),
    Table(
        "lead_stage_history",
        "Every lifecycle stage entry of every lead, with its timestamp.",
        (
            Column("lead_id", "VARCHAR", "The lead.", nullable=False),
            Column("stage", "VARCHAR", "Canonical (or custom) stage entered.", nullable=False),
            Column("entered_at", "TIMESTAMPTZ", "When the stage was entered.", nullable=False),
        ),
        ("lead_id", "stage", "entered_at"),
    ),
    Table(
        "deals",
        "Opportunities / deals (商談): one row per deal.",
        (
            Column("deal_id", "VARCHAR", "Deal id in the source.", nullable=False),
            Column("account_id", "VARCHAR", "Account the deal is with."),
            Column("lead_id", "VARCHAR", "Lead the deal originated from."),
            Column("owner_id", "VARCHAR", "Owning rep (rep_id)."),
            Column("team", "VARCHAR", "Team recorded on the deal in the source, if any."),
            Column("created_at", "TIMESTAMPTZ", "When the deal was created.", nullable=False),
            Column("close_date", "DATE", "Close date (actual when closed, expected when open)."),
            Column("amount", "DOUBLE", "Deal amount in `currency`."),
            Column("currency", "VARCHAR", "ISO 4217 currency code."),
            Column("status", "VARCHAR", "open, won or lost.", nullable=False),
            Column("stage", "VARCHAR", "Current stage name as mapped."),
            Column("product", "VARCHAR", "Product sold."),
            Column("pipeline", "VARCHAR", "Pipeline (e.g. new business / renewal)."),
            Column("region", "VARCHAR", "Region of the deal."),
            Column("segment", "VARCHAR", "Segment of the deal."),
            _ATTRS,
        ),
        ("deal_id",),
    ),
    Table(
        "deal_stage_history",
        "Every stage entry of every deal, with its timestamp.",
        (
            Column("deal_id", "VARCHAR", "The deal.", nullable=False),
            Column("stage", "VARCHAR", "Stage entered.", nullable=False),
            Column("entered_at", "TIMESTAMPTZ", "When the stage was entered.", nullable=False),
        ),
        ("deal_id", "stage", "entered_at"),
    ),
    Table(
        "activities",
        "Sales activities: calls, e-mails, meetings.",
        (
            Column("activity_id", "VARCHAR", "Activity id in the source.", nullable=False),
            Column(
                "type",
                "VARCHAR",
                "call, email, meeting, web_visit, form_fill or other.",
                nullable=False,
            ),
            Column("occurred_at", "TIMESTAMPTZ", "When it happened.", nullable=False),
            Column("owner_id", "VARCHAR", "Rep who did it (rep_id)."),
            Column("lead_id", "VARCHAR", "Related lead."),
            Column("deal_id", "VARCHAR", "Related deal."),
            Column("account_id", "VARCHAR", "Related account."),
            Column("outcome", "VARCHAR", "e.g. connected, no_answer, held, no_show."),
            Column("duration_seconds", "DOUBLE", "Duration, when known."),
            _ATTRS,
        ),
        ("activity_id",),
    ),
    Table(
        "contracts",
        "Contracts / subscriptions, for retention, churn, NRR and LTV.",
        (
            Column("contract_id", "VARCHAR", "Contract id in the source.", nullable=False),
            Column("account_id", "VARCHAR", "Customer account.", nullable=False),
            Column("product", "VARCHAR", "Product."),
            Column("start_date", "DATE", "First day of the term.", nullable=False),
            Column("end_date", "DATE", "Last day of the term (null: open-ended)."),
            Column("mrr", "DOUBLE", "Monthly recurring revenue in `currency`."),
            Column("arr", "DOUBLE", "Annual recurring revenue in `currency`."),
            Column("currency", "VARCHAR", "ISO 4217 currency code."),
            Column("status", "VARCHAR", "active, renewed, churned or ended."),
            Column("renewed_from", "VARCHAR", "contract_id of the term this one renews."),
            _ATTRS,
        ),
        ("contract_id",),
    ),
    Table(
        "marketing_spend",
        "Marketing spend per day, channel and campaign (for CPL and CAC).",
        (
            Column("spend_id", "VARCHAR", "Source id, or date|channel|campaign.", nullable=False),
            Column("spend_date", "DATE", "Day the money was spent.", nullable=False),
            Column("channel", "VARCHAR", "Channel."),
            Column("campaign", "VARCHAR", "Campaign."),
            Column("amount", "DOUBLE", "Amount in `currency`.", nullable=False),
            Column("currency", "VARCHAR", "ISO 4217 currency code."),
        ),
        ("spend_id",),
    ),
    Table(
        "nps_responses",
        "NPS survey answers (0-10).",
        (
            Column("response_id", "VARCHAR", "Response id.", nullable=False),
            Column("responded_at", "TIMESTAMPTZ", "When the answer was given.", nullable=False),
            Column("account_id", "VARCHAR", "Customer account."),
            Column("score", "INTEGER", "Score from 0 to 10.", nullable=False),
            Column("comment", "VARCHAR", "Free text."),
        ),
        ("response_id",),
    ),
    Table(
        "reps",
        "People in the revenue organisation (担当者).",
        (
            Column("rep_id", "VARCHAR", "Rep id (e.g. the source's owner id).", nullable=False),
            Column("name", "VARCHAR", "Display name."),
            Column("email", "VARCHAR", "E-mail address."),
            _ATTRS,
        ),
        ("rep_id",),
    ),
    Table(
        "rep_assignments",
        "Which team, department and region a rep belonged to, over time. A rep who "
        "moves keeps their history in the old team: facts are attributed to the "
        "assignment valid on the fact's date.",
        (
            Column("rep_id", "VARCHAR", "The rep.", nullable=False),
            Column("valid_from", "DATE", "First day of this assignment.", nullable=False),
            Column("valid_to", "DATE", "Last day (null: still current)."),
            Column(
                "department",
                "VARCHAR",
                "marketing, inside_sales, field_sales, customer_success or user-defined.",
            ),
            Column("team", "VARCHAR", "Team name."),
            Column("region", "VARCHAR", "Region."),
            Column("manager_id", "VARCHAR", "The rep's manager (rep_id)."),
        ),
        ("rep_id", "valid_from"),
    ),
)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """The canonical table called ``name``."""
    return _BY_NAME[name]


def arrow_schema(
    name: str, columns: Sequence[str] | None = None, *, enforce_nullability: bool = False
) -> pyarrow.Schema:
    """The Arrow schema of canonical table ``name`` (all its columns, or
    ``columns`` in that order). Timestamps are UTC microseconds; JSON is text.
    With ``enforce_nullability`` the non-null columns are marked so."""
    import pyarrow as pa

    types = {
        "VARCHAR": pa.string(),
        "JSON": pa.string(),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        "DATE": pa.date32(),
        "DOUBLE": pa.float64(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
    }
    spec = table(name)
    chosen = [spec.column(c) for c in columns] if columns is not None else list(spec.columns)
    return pa.schema(
        [
            pa.field(c.name, types[c.type], nullable=c.nullable or not enforce_nullability)
            for c in chosen
        ]
    )
