"""The ``data:`` section of ``kpitree.yaml``: the warehouse, files to import,
landed ELT tables, data-quality thresholds, link keys and record links."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, StringConstraints

__all__ = ["DataSourceSpec", "DataSpec", "LandedSpec", "QualityRule", "QualitySpec"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class DataSourceSpec(_Strict):
    file: str
    mapping: str
    sheet: str | None = None


QualityRule = Literal[
    "stage_backwards",
    "stage_skipped",
    "before_creation",
    "in_future",
    "negative_duration",
    "deal_without_amount",
    "deal_without_owner",
    "lead_without_owner",
    "owner_without_assignment",
    "stale_source",
    "history_missing",
    "lost_characters",
    "dangling_reference",
    "duplicate_across_sources",
    "ambiguous_link",
    "unlinked_deal",
]


class QualitySpec(_Strict):
    """Thresholds of ``kpitree data check`` (see docs/data.md, Data quality)."""

    examples: int = Field(5, ge=0, le=1000, description="Record ids shown per finding.")
    stale_after_days: int = Field(
        7,
        ge=0,
        description="A source whose newest fact in a table, and last delivery, are more "
        "than this many days before the as-of day is stale.",
    )
    stale_after: dict[Annotated[str, StringConstraints(min_length=1)], NonNegativeInt] = Field(
        default_factory=dict,
        description="Per table or per source (a sync source's name, an import's mapping "
        "or preset): days after which it is stale; a source's own wins over its table's.",
    )
    levels: dict[QualityRule, Literal["error", "warning", "off"]] = Field(
        default_factory=dict,
        description="Per rule: error, warning or off (default: see docs/data.md).",
    )
    stage_order: dict[Literal["leads", "deals"], list[str]] = Field(
        default_factory=dict,
        description="Stages in funnel order (default: lead, mql, sql, opportunity, won; "
        "deals: opportunity, won); lost and disqualified end any history.",
    )
    check: Literal["error", "warning", "off"] = Field(
        "off",
        description="kpitree check fails on the data-quality findings at this level or "
        "worse (off: it does not run the data check).",
    )


class LandedSpec(_Strict):
    """Canonical tables read from what an ELT tool landed (docs/engine.md)."""

    preset: Literal[
        "fivetran_salesforce",
        "fivetran_hubspot",
        "airbyte_salesforce",
        "dlt_salesforce",
        "airbyte_hubspot",
        "dlt_hubspot",
    ] = Field(description="The ELT tool's layout of the landed tables.")
    database: str | None = Field(
        None, description="Schema (or dataset) the tool lands into, e.g. salesforce."
    )
    lead_statuses: dict[str, str] = Field(
        default_factory=dict,
        description="Lead status (or lifecycle stage) -> canonical stage, e.g. "
        "{Marketing Qualified: mql}.",
    )
    deal_stages: dict[str, str] = Field(
        default_factory=dict,
        description="Opportunity stage (or deal stage id) -> canonical stage, e.g. "
        "{Closed Won: closed_won}.",
    )


class DataSpec(_Strict):
    warehouse: str | None = Field(
        None, description="DuckDB file (default .kpitree/warehouse.duckdb)."
    )
    landed: LandedSpec | None = Field(
        None,
        description="Read the canonical tables from the tables an ELT tool (Fivetran, "
        "Airbyte, dlt) landed in the warehouse instead of importing: nothing is written.",
    )
    quality: QualitySpec = Field(
        default_factory=QualitySpec, description="Thresholds of kpitree data check."
    )
    sources: list[DataSourceSpec] = Field(default_factory=list)
    targets: list[str] = Field(
        default_factory=list,
        description="CSV files of targets: node, period, target, and optional segment "
        "columns (department, team, rep, ...).",
    )
    links: dict[
        str,
        dict[
            Literal["leads", "deals", "accounts"],
            list[Annotated[str, StringConstraints(min_length=1)]],
        ],
    ] = Field(
        default_factory=dict,
        description="Columns holding the match keys that link sources: per key (email, "
        "name, corporate_number, website, or a key of your own such as customer_code) and "
        "table (leads, deals, accounts), the source column headers, tried before the "
        "built-in ones.",
    )
    record_links: dict[
        Literal["leads", "deals", "activities", "contracts", "accounts"],
        Annotated[str, StringConstraints(pattern=r"^https?://\S*\{id\}\S*$")],
    ] = Field(
        default_factory=dict,
        description="Per fact table: the URL of a record in the source system, with {id} "
        "for its id (e.g. https://app.hubspot.com/contacts/123/record/0-3/{id}); the "
        "dashboard's record lists link to it.",
    )
