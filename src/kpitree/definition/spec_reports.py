"""Raw definition models of scheduled review reports (``reports:`` in
``kpitree.yaml``): what is sent, to whom, through which e-mail channel and
when. Sending lives in :mod:`kpitree.reports.delivery`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from kpitree.i18n import t

__all__ = ["ReportScheduleSpec", "ReportSpec"]

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _invalid(key: str, **params: Any) -> PydanticCustomError:
    """A validation error whose reason is a catalog message (in the language
    of the command that reads the definition)."""
    return PydanticCustomError("kpitree_invalid", t(key, **params).replace("{", "{{"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class ReportScheduleSpec(_Strict):
    """When a report is sent: ``{every: week, day: monday, at: "08:00"}`` or
    ``{every: month, business_day: 1, at: "09:00"}``."""

    every: Literal["week", "month"] = Field(description="week or month.")
    day: Weekday | None = Field(None, description="every: week: the weekday (default monday).")
    business_day: int | None = Field(
        None,
        ge=1,
        le=20,
        description="every: month: the n-th business day of the month (default 1), "
        "skipping weekends, the plan's public holidays and closed days.",
    )
    at: str = Field("08:00", description="Local time of day, HH:MM (24 hours).")
    timezone: str | None = Field(None, description="Time zone (default: the project's).")

    @field_validator("at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not _TIME.match(value):
            raise _invalid("reports.def.bad_time")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise _invalid("reports.def.bad_zone") from None
        return value

    @model_validator(mode="after")
    def _fits_every(self) -> ReportScheduleSpec:
        if self.every == "week" and self.business_day is not None:
            raise _invalid("reports.def.day_for_week")
        if self.every == "month" and self.day is not None:
            raise _invalid("reports.def.day_for_month")
        return self


class ReportSpec(_Strict):
    """A review report sent by e-mail on a schedule. Its name is its key."""

    kind: Literal["weekly", "monthly"] = Field(
        description="weekly (the ISO week) or monthly (the month)."
    )
    formats: list[Literal["pdf", "xlsx", "html", "md"]] = Field(
        default_factory=lambda: ["pdf"],  # type: ignore[arg-type]
        min_length=1,
        description="Attached formats.",
    )
    lang: Literal["ja", "en"] = Field("ja", description="Language of the report and the mail.")
    channel: str = Field(description="The e-mail channel under notifications.channels.")
    recipients: list[str] = Field(
        default_factory=list, description="Addresses (default: the channel's own recipients)."
    )
    schedule: ReportScheduleSpec = Field(description="When it is sent.")
    period: Literal["previous", "current"] = Field(
        "previous",
        description="previous: the week or month that just ended (a Monday report covers "
        "last week); current: the one running, to date.",
    )

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", a)]
        if bad:
            raise _invalid("reports.def.bad_address", addresses=", ".join(bad))
        return value
