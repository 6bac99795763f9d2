"""The checks that locate problems in ``alerts:``, ``notifications:`` and
``sla:`` of ``kpitree.yaml`` (:func:`check_alerting`): unknown nodes, channels
and SLAs, missing channel keys, bad addresses, levels, segments, quiet hours
and business calendars, each with its position in the file and a fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kpitree.definition.spec_alerts import (
    ACCOUNT_CONDITIONS,
    LEVELS,
    SPECIAL_RECIPIENTS,
    AlertRuleSpec,
    QuietHoursSpec,
)
from kpitree.errors import Diagnostic, Severity, Span
from kpitree.source import did_you_mean

if TYPE_CHECKING:
    from kpitree.definition.draft import Draft
    from kpitree.definition.spec import ProjectSpec

__all__ = ["check_alerting"]

# Any other level an alert names must look like a custom dimension's name.
_CUSTOM_LEVEL = re.compile(r"^[^\W\d]\w*$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_HOURS = re.compile(
    r"^\s*(closed|([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00)"
    r"(\s*,\s*([01]\d|2[0-3]):[0-5]\d\s*-\s*(([01]\d|2[0-3]):[0-5]\d|24:00))*)?\s*$"
)


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
