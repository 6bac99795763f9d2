"""The metric models of a definition (``metrics:`` and the built-in library):
apart from the rest of :mod:`kpitree.definition.spec`, so that reading a kept
tree or the library builds no model the command does not use."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MIN_VOLUME",
    "FilterValue",
    "LocalizedText",
    "MetricSpec",
    "ReferenceSpec",
    "Text",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class LocalizedText(_Strict):
    """Text in Japanese and/or English: ``{ja: 売上, en: Revenue}``."""

    ja: str | None = None
    en: str | None = None


Text = str | LocalizedText


class ReferenceSpec(_Strict):
    """The range a metric's values normally fall in; a value outside it is
    flagged (``outside_reference``)."""

    min: float | None = Field(None, description="Lower end of the range.")
    max: float | None = Field(None, description="Upper end of the range.")


FilterScalar = str | int | float | bool | None
FilterValue = FilterScalar | list[FilterScalar] | dict[str, FilterScalar | list[FilterScalar]]


class MetricSpec(_Strict):
    """A data metric over the canonical tables (like a dbt MetricFlow metric).
    A node measures one with ``metric:``; built-in metrics can be redefined."""

    label: Text | None = None
    description: Text | None = None
    type: Literal[
        "count",
        "count_distinct",
        "sum",
        "average",
        "median",
        "min",
        "max",
        "ratio",
        "derived",
        "conversion",
        "duration",
        "sla_compliance",
        "sla_breaches",
        "sla_open",
        "sla_response_p50",
        "sla_response_p95",
    ] = Field(description="What is computed.")
    entity: str | None = Field(
        None,
        description="What is counted: leads, deals, activities, contracts, renewals, "
        "marketing_spend, nps_responses or accounts.",
    )
    measure: str | None = Field(
        None, description="Column summed / averaged / counted distinct (not for count)."
    )
    time: str | None = Field(
        None,
        description="When a fact happens, placing it in a period: a column (created_at, "
        "close_date, ...) or stage:<name> (first entry of a lifecycle stage).",
    )
    where: dict[str, FilterValue] = Field(
        default_factory=dict,
        description="Filters: column -> value, [values] or {op: value} with op one of "
        "eq, ne, lt, le, gt, ge, in, not_in, is_null.",
    )
    numerator: str | None = Field(None, description="ratio: metric counted on top.")
    denominator: str | None = Field(None, description="ratio: metric counted below.")
    expr: str | None = Field(
        None, description="derived: arithmetic over other metrics, e.g. 100 * (a - b) / c."
    )
    from_: str | None = Field(
        None,
        alias="from",
        description="conversion/duration: starting event (stage name, stage:<name> or a "
        "column such as created_at).",
    )
    to: str | None = Field(
        None,
        description="conversion/duration: ending event (stage, column, or first_activity).",
    )
    window_days: int | None = Field(
        None, ge=1, description="conversion: days allowed from the first event to the second."
    )
    mode: Literal["cohort", "period"] = Field(
        "cohort",
        description="conversion: cohort (entrants of the period, converted within the "
        "window) or period (second events over first events in the period).",
    )
    stat: Literal["average", "median"] = Field(
        "average", description="duration: how durations are combined."
    )
    duration_unit: Literal["days", "hours"] = Field("days", description="duration: unit.")
    place_by: Literal["from", "to"] = Field(
        "from", description="duration: which event places a duration in a period."
    )
    credit: str | None = Field(
        None,
        description="Who a fact counts for in department, team and rep views: owner (the "
        "fact's owner, the default), lead_owner (the owner of the lead it came from: the "
        "inside-sales rep who created an opportunity), or a column of the entity holding a "
        "rep id (a canonical column, or attributes.<key> for a source column kept in "
        "attributes: attributes.sourced_by); the fact's owner when that is empty.",
    )
    snapshot: bool = Field(
        False,
        description="Measured at the end of each period over facts open then "
        "(time = opened, close column = closed), e.g. open pipeline.",
    )
    closed_by: str | None = Field(
        None, description="snapshot: column that closes a fact (e.g. close_date)."
    )
    sla: str | None = Field(None, description="sla_*: the SLA rule measured (under sla:).")
    reference: ReferenceSpec | None = Field(
        None,
        description="Range the metric's values normally fall in (a value outside it is "
        "flagged on the nodes that measure it, unless the node has its own benchmark).",
    )

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,
    )


DEFAULT_MIN_VOLUME: dict[str, float] = {
    "ratio": 30.0,
    "score": 30.0,
    "currency": 10.0,
    "days": 10.0,
    "hours": 10.0,
    "number": 10.0,
}
