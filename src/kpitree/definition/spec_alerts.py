"""Definition models of alerts, notification channels and hand-off SLAs
(``alerts:``, ``notifications:`` and ``sla:`` in ``kpitree.yaml``), and the
checks that locate their problems (:func:`check_alerting`).

Shapes are flat on purpose: one model per channel and per rule, with the keys
a type needs checked here (with the file position and a fix), rather than a
pydantic union whose errors would name the wrong member.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from kpitree.errors import Diagnostic, Severity, Span
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft
    from kpitree.definition.spec import ProjectSpec

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
    "check_alerting",
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
# Any other level an alert names must look like a custom dimension's name.
_CUSTOM_LEVEL = re.compile(r"^[^\W\d]\w*$")
SPECIAL_RECIPIENTS = ("owner", "segment_owner")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_HOURS = re.compile(
    r"^\s*(closed|([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00)"
    r"(\s*,\s*([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00))*)?\s*$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True
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
    retry: RetrySpec = RetrySpec()
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
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True
    )


# --- located checks ----------------------------------------------------------------


class _Checks:
    def __init__(self, draft: Draft, head: ProjectSpec) -> None:
        self.draft = draft
        self.head = head
        self.doc = draft.main
        self.found: list[Diagnostic] = []

    def error(self, code: str, key: str, path: tuple[str | int, ...], /, **params: object) -> None:
        self.found.append(Diagnostic(Severity.ERROR, code, key, params, self.span(path)))

    def span(self, path: tuple[str | int, ...]) -> Span:
        # The deepest place the file has (defaults are not in the file).
        return self.doc.span(path)

    def channels(self) -> None:
        n = self.head.notifications
        for name, ch in n.channels.items():
            path = ("notifications", "channels", name)
            needed: tuple[str, ...] = ()
            if ch.type in ("slack", "webhook") and ch.url is None and ch.url_env is None:
                self.error(
                    "KT706",
                    "alerts.def.channel_missing",
                    path,
                    channel=name,
                    type=ch.type,
                    keys="url / url_env",
                )
            if ch.type == "email":
                needed = ("host", "from", "to")
            for key in needed:
                value = getattr(ch, "from_" if key == "from" else key)
                if not value:
                    self.error(
                        "KT706",
                        "alerts.def.channel_missing",
                        path,
                        channel=name,
                        type=ch.type,
                        keys=key,
                    )
            if ch.type == "webhook" and ch.secret_env is None:
                self.error(
                    "KT706",
                    "alerts.def.channel_missing",
                    path,
                    channel=name,
                    type=ch.type,
                    keys="secret_env",
                )
            for i, address in enumerate(ch.to):
                if "@" not in address:
                    self.error("KT707", "alerts.def.bad_address", (*path, "to", i), value=address)
            if ch.from_ is not None and "@" not in ch.from_:
                self.error("KT707", "alerts.def.bad_address", (*path, "from"), value=ch.from_)
        for owner, names in n.owners.items():
            for i, name in enumerate(names):
                if name not in n.channels:
                    self.error(
                        "KT703",
                        "alerts.def.unknown_channel",
                        ("notifications", "owners", owner, i),
                        channel=name,
                        hint=did_you_mean(name, list(n.channels)),
                    )
        if n.quiet_hours is not None:
            self.quiet(n.quiet_hours, ("notifications", "quiet_hours"))

    def quiet(self, q: QuietHoursSpec, path: tuple[str | int, ...]) -> None:
        for key in ("start", "end"):
            value = getattr(q, key)
            if not _CLOCK.match(value):
                self.error("KT708", "alerts.def.bad_time", (*path, key), value=value)

    def rules(self) -> None:
        nodes = list(self.draft.nodes)
        n = self.head.notifications
        for rid, rule in self.head.alerts.items():
            path = ("alerts", rid)
            cond = rule.condition
            if cond in ACCOUNT_CONDITIONS:
                pass  # per account, checked with abm: (kpitree.definition.spec_abm)
            elif cond == "data_quality":
                pass  # per quality finding (kpitree.definition.spec_quality_alerts)
            elif cond != "sla_breaches":
                if rule.node is None:
                    self.error(
                        "KT701", "alerts.def.missing", path, rule=rid, condition=cond, key="node"
                    )
                elif rule.node not in self.draft.nodes:
                    self.error(
                        "KT700",
                        "alerts.def.unknown_node",
                        (*path, "node"),
                        rule=rid,
                        node=rule.node,
                        hint=did_you_mean(rule.node, nodes),
                    )
            elif rule.sla is None:
                self.error("KT701", "alerts.def.missing", path, rule=rid, condition=cond, key="sla")
            if rule.sla is not None and rule.sla not in self.head.sla:
                self.error(
                    "KT750",
                    "sla.def.unknown",
                    (*path, "sla"),
                    name=rule.sla,
                    hint=did_you_mean(rule.sla, list(self.head.sla)),
                )
            if cond == "no_data" and rule.days is None:
                self.error(
                    "KT701", "alerts.def.missing", path, rule=rid, condition=cond, key="days"
                )
            if cond == "change" and rule.threshold is None:
                self.error(
                    "KT701", "alerts.def.missing", path, rule=rid, condition=cond, key="threshold"
                )
            self.threshold(rid, rule, path)
            if cond != "data_quality":
                self.level(rid, rule, path)
            for i, name in enumerate(rule.notify):
                if name not in n.channels and name not in SPECIAL_RECIPIENTS:
                    known = [*n.channels, *SPECIAL_RECIPIENTS]
                    self.error(
                        "KT703",
                        "alerts.def.unknown_channel",
                        (*path, "notify", i),
                        channel=name,
                        hint=did_you_mean(name, known),
                    )
            if rule.quiet_hours is not None:
                self.quiet(rule.quiet_hours, (*path, "quiet_hours"))

    def threshold(self, rid: str, rule: AlertRuleSpec, path: tuple[str, ...]) -> None:
        t = rule.threshold
        if t is None:
            return
        bad = (
            (rule.condition in ("below_target", "below_pace", "forecast_below_target") and t <= 0)
            or (rule.condition == "change" and t <= 0)
            or (rule.condition == "sla_breaches" and (t < 0 or t != int(t)))
        )
        if rule.condition == "no_data":
            bad = True
        if bad:
            self.error(
                "KT702",
                f"alerts.def.bad_threshold.{rule.condition}",
                (*path, "threshold"),
                rule=rid,
                value=t,
            )

    def level(self, rid: str, rule: AlertRuleSpec, path: tuple[str, ...]) -> None:
        if rule.by is None:
            if rule.segment is not None:
                self.error(
                    "KT705", "alerts.def.segment_without_level", (*path, "segment"), rule=rid
                )
            return
        hint = did_you_mean(rule.by, LEVELS)
        if rule.by not in LEVELS and not hint and _CUSTOM_LEVEL.match(rule.by):
            # A custom dimension (a mapping's ``dimensions:``): the data knows
            # it, so it is checked when the alert runs (KT530, "did you mean").
            if rule.condition == "no_data":
                self.error("KT704", "alerts.def.no_data_level", (*path, "by"), rule=rid)
            return
        if rule.by not in LEVELS:
            self.error(
                "KT704",
                "alerts.def.unknown_level",
                (*path, "by"),
                rule=rid,
                level=rule.by,
                levels=", ".join(LEVELS),
                hint=hint,
            )
            return
        if rule.condition == "no_data":
            self.error("KT704", "alerts.def.no_data_level", (*path, "by"), rule=rid)
            return
        org = self.head.organisation
        known: list[str] = []
        if rule.by == "department":
            known = list(org)
        elif rule.by == "team":
            known = [t for d in org.values() for t in d.teams]
        elif rule.by == "rep":
            known = [r for d in org.values() for t in d.teams.values() for r in t.reps]
        if rule.segment is not None and known and rule.segment not in known:
            self.error(
                "KT705",
                "alerts.def.unknown_segment",
                (*path, "segment"),
                rule=rid,
                level=rule.by,
                segment=rule.segment,
                hint=did_you_mean(rule.segment, known),
            )

    def slas(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        for sid, sla in self.head.sla.items():
            path = ("sla", sid)
            for key in ("from", "to"):
                event = sla.from_ if key == "from" else sla.to
                if not _sla_event_ok(sla.entity, event, key):
                    self.error(
                        "KT751",
                        "sla.def.bad_event",
                        (*path, key),
                        sla=sid,
                        event=event,
                        entity=sla.entity,
                    )
            for day, text in (sla.business_hours or {}).items():
                if day not in _WEEKDAYS:
                    self.error(
                        "KT752",
                        "sla.def.bad_weekday",
                        (*path, "business_hours", day),
                        day=day,
                        hint=did_you_mean(day, _WEEKDAYS),
                    )
                elif not _hours_ok(text):
                    self.error(
                        "KT752", "sla.def.bad_hours", (*path, "business_hours", day), value=text
                    )
            if sla.business_hours is not None and not any(
                _hours_ok(v) and v.strip() not in ("", "closed")
                for k, v in sla.business_hours.items()
                if k in _WEEKDAYS
            ):
                self.error("KT752", "sla.def.never_open", (*path, "business_hours"), sla=sid)
            for i, day in enumerate(sla.closed_days):
                try:
                    dt.date.fromisoformat(day)
                except ValueError:
                    self.error("KT753", "sla.def.bad_day", (*path, "closed_days", i), value=day)
            if sla.timezone is not None:
                try:
                    ZoneInfo(sla.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    self.error(
                        "KT754", "sla.def.bad_timezone", (*path, "timezone"), value=sla.timezone
                    )
            if sla.holidays not in (None, "none") and not _country_ok(sla.holidays):
                self.error("KT755", "sla.def.bad_country", (*path, "holidays"), value=sla.holidays)


_SLA_COLUMNS = {"leads": ("created_at",), "deals": ("created_at", "close_date")}
_STAGES = ("lead", "mql", "sql", "opportunity", "won", "lost")


def _sla_event_ok(entity: str, event: str, key: str) -> bool:
    if key == "to" and event == "first_activity":
        return True
    if event in _SLA_COLUMNS.get(entity, ()):
        return True
    if event.startswith("stage:") and len(event) > len("stage:"):
        return True
    return entity == "leads" and event in _STAGES


def _hours_ok(text: str) -> bool:
    return bool(_HOURS.match(text)) and _parse_ok(text)


def _parse_ok(text: str) -> bool:
    """Ranges in order, each ending after it starts."""
    if text.strip() in ("", "closed"):
        return True
    last = -1
    for part in text.split(","):
        a, b = (x.strip() for x in part.split("-"))
        start = int(a[:2]) * 60 + int(a[3:])
        end = int(b[:2]) * 60 + int(b[3:])
        if end <= start or start < last:
            return False
        last = end
    return True


def _country_ok(code: str) -> bool:
    import holidays

    return code.upper() in holidays.list_supported_countries()


def check_alerting(draft: Draft) -> Iterator[Diagnostic]:
    """Problems of ``alerts:``, ``notifications:`` and ``sla:``, located."""
    if draft.head is None:
        return
    checks = _Checks(draft, draft.head)
    checks.channels()
    checks.rules()
    checks.slas()
    yield from checks.found
    from kpitree.definition.spec_quality_alerts import check_quality_alerts

    yield from check_quality_alerts(draft)
