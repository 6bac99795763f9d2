"""Definition models of alerts, notification channels and hand-off SLAs
(``alerts:``, ``notifications:`` and ``sla:`` in ``kpitree.yaml``); the checks
that locate their problems are in :mod:`kpitree.definition.alerting_checks`.

Shapes are flat on purpose: one model per channel and per rule, with the keys
a type needs checked here (with the file position and a fix), rather than a
pydantic union whose errors would name the wrong member.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACCOUNT_CONDITIONS",
    "CONDITIONS",
    "LEVELS",
    "SPECIAL_RECIPIENTS",
    "AlertRuleSpec",
    "ChannelSpec",
    "NotificationsSpec",
    "QuietHoursSpec",
    "RetrySpec",
    "SlaSpec",
]

CONDITIONS = (
    "below_target",
    "below_pace",
    "forecast_below_target",
    "change",
    "no_data",
    "sla_breaches",
    "tier_change",
    "engagement_surge",
    "data_quality",
)
# Conditions on accounts (``abm:``): one finding per account, no node.
ACCOUNT_CONDITIONS = ("tier_change", "engagement_surge")
# Segment levels an alert can run at: the organisation drills down from the
# department; the others are dimensions of the facts.
LEVELS = (
    "department",
    "team",
    "rep",
    "manager",
    "region",
    "channel",
    "campaign",
    "segment",
    "industry",
    "product",
    "pipeline",
)
SPECIAL_RECIPIENTS = ("owner", "segment_owner")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class _Text(_Strict):
    ja: str | None = None
    en: str | None = None


class QuietHoursSpec(_Strict):
    """Hours when notifications wait (they are sent when the quiet time ends)."""

    start: str = Field(description="Local time quiet hours begin, HH:MM (e.g. 20:00).")
    end: str = Field(description="Local time they end, HH:MM (e.g. 08:00; may be next day).")
    weekends: bool = Field(False, description="Saturdays and Sundays are quiet all day.")
    holidays: bool = Field(False, description="Public holidays (plan.holidays) are quiet.")


class RetrySpec(_Strict):
    attempts: int = Field(3, ge=1, le=10, description="Tries per delivery within one run.")
    backoff_seconds: float = Field(
        1.0, ge=0, description="Wait before the 2nd try; doubles for each further try."
    )
    max_backoff_minutes: float = Field(
        60.0, gt=0, description="Longest wait before a failed delivery is retried by a run."
    )


class ChannelSpec(_Strict):
    """Where notifications go: a Slack incoming webhook, SMTP e-mail, a signed
    generic webhook, or the in-app list on the dashboard."""

    type: Literal["slack", "email", "webhook", "in_app"] = Field(description="Channel kind.")
    url: str | None = Field(None, description="slack/webhook: the URL posted to.")
    url_env: str | None = Field(
        None, description="slack/webhook: environment variable holding the URL (a secret)."
    )
    secret_env: str | None = Field(
        None, description="webhook: environment variable holding the HMAC-SHA256 key."
    )
    host: str | None = Field(None, description="email: SMTP server host.")
    port: int | None = Field(
        None, ge=1, le=65535, description="email: SMTP port (587 starttls, 465 ssl, 25 none)."
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="email: starttls, ssl (implicit TLS) or none."
    )
    user: str | None = Field(None, description="email: SMTP login name.")
    password_env: str | None = Field(
        None, description="email: environment variable holding the SMTP password."
    )
    from_: str | None = Field(None, alias="from", description="email: sender address.")
    to: list[str] = Field(default_factory=list, description="email: recipient addresses.")
    timeout_seconds: float = Field(10.0, gt=0, description="Network timeout per attempt.")

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,
    )


class NotificationsSpec(_Strict):
    """Channels and delivery settings shared by every alert rule."""

    base_url: str | None = Field(
        None, description="Dashboard address for links, e.g. https://kpi.example.co.jp."
    )
    language: Literal["ja", "en"] = Field("ja", description="Language of notifications.")
    schedule_minutes: int = Field(15, ge=1, description="How often the web server runs the alerts.")
    quiet_hours: QuietHoursSpec | None = Field(
        None, description="Default quiet hours of every rule."
    )
    # Constructed, not validated: validating a default at import would build the
    # model's validator on every command, which a kept tree never needs.
    retry: RetrySpec = RetrySpec.model_construct()
    channels: dict[str, ChannelSpec] = Field(
        default_factory=dict, description="Channel name -> channel."
    )
    owners: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Department, team or rep -> channel names; used by the recipients "
        "owner (the node's department) and segment_owner (the alert's segment).",
    )


class AlertRuleSpec(_Strict):
    """One alert rule: a condition on a node (or an SLA), at a segment level."""

    label: str | _Text | None = Field(None, description="Name shown in notifications.")
    node: str | None = Field(None, description="Node id watched (not for sla_breaches).")
    condition: Literal[
        "below_target",
        "below_pace",
        "forecast_below_target",
        "change",
        "no_data",
        "sla_breaches",
        "tier_change",
        "engagement_surge",
        "data_quality",
    ] = Field(description="What makes the alert fire.")
    threshold: float | None = Field(
        None,
        description="below_target / below_pace / forecast_below_target: percent of the "
        "reference (default 100); change: percent change vs the previous period; "
        "sla_breaches: fires above this many breaches (default 0); engagement_surge: "
        "engagement points gained since the previous period (default abm.surge_points).",
    )
    direction: Literal["down", "up", "both"] = Field(
        "both", description="change, tier_change: which direction of change fires."
    )
    days: int | None = Field(None, ge=1, description="no_data: days without a new fact.")
    sla: str | None = Field(None, description="sla_breaches: the SLA rule (under sla:).")
    level: str | None = Field(
        None,
        description="data_quality: the lowest level of finding that fires: error (default) "
        "or warning (warnings and errors).",
    )
    rules: list[str] | None = Field(
        None,
        description="data_quality: only findings of these quality rules (e.g. "
        "deal_without_amount); omitted: every rule.",
    )
    by: str | None = Field(
        None,
        description="Segment level: rep (any rep), team (any team), department, or a "
        "dimension such as channel. Omitted: the whole company.",
    )
    segment: str | None = Field(None, description="Only this segment of the level (a team).")
    period: Literal["week", "month", "quarter", "half", "year"] = Field(
        "month", description="Period evaluated: the one containing the run's day."
    )
    min_volume: float | None = Field(
        None,
        ge=0,
        description="No alert when the facts behind the value (a rate's denominator) "
        "are fewer than this.",
    )
    severity: Literal["info", "warning", "critical"] = "warning"
    notify: list[str] = Field(
        default_factory=list,
        description="Recipients: channel names, owner (the node's department's channels) "
        "and segment_owner (the segment's channels, from notifications.owners).",
    )
    renotify_hours: float | None = Field(
        None, gt=0, description="Notify again after this many hours while it holds."
    )
    quiet_hours: QuietHoursSpec | None = Field(
        None, description="Overrides notifications.quiet_hours for this rule."
    )


class SlaSpec(_Strict):
    """A hand-off SLA: from an event to the next one, within a limit."""

    label: str | _Text | None = None
    entity: Literal["leads", "deals"] = Field("leads", description="What is handed off.")
    from_: str = Field(
        alias="from",
        description="Start event: a stage (mql, stage:<name>) or a column (created_at).",
    )
    to: str = Field(
        "first_activity",
        description="End event: first_activity (of activity_types), a stage or a column.",
    )
    activity_types: list[str] = Field(
        default_factory=list,
        description="first_activity: activity types that count (empty: any).",
    )
    within_hours: float = Field(gt=0, description="The limit, in hours of the clock.")
    clock: Literal["business", "calendar"] = Field(
        "business", description="business (open hours only) or calendar hours."
    )
    business_hours: dict[str, str] | None = Field(
        None,
        description='Open hours per weekday (mon..sun): "09:00-18:00" or '
        '"09:00-12:00,13:00-18:00" or "closed". Default Mon-Fri 09:00-18:00.',
    )
    holidays: str | None = Field(
        None, description="Country whose holidays are closed (default plan.holidays); none."
    )
    closed_days: list[str] = Field(
        default_factory=list, description="Extra closed days, YYYY-MM-DD (plus plan's)."
    )
    timezone: str | None = Field(None, description="Time zone (default the project's).")
    warn_hours: float | None = Field(
        None,
        gt=0,
        description="An open case is about to breach within this many clock hours of its "
        "due time (default a quarter of within_hours).",
    )

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,
    )
