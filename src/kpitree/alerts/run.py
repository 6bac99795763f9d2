"""One alert run: evaluate every rule, move each (rule, node, segment) through
its states, and deliver what is due.

State machine per (rule, node, segment)::

    (none | resolved) --condition holds--> firing          event "fired"
    firing --holds, renotify_hours passed--> firing        event "renotified"
    firing --condition no longer holds--> resolved          event "resolved"

A condition that cannot be evaluated (no target, fewer facts than
``min_volume``) changes nothing. Each event gets one delivery per recipient
channel; a delivery due in quiet hours waits for their end; a failed one stays
``pending`` with its error and is retried by later runs (exponential backoff
between runs, ``retry.attempts`` tries with ``retry.backoff_seconds`` doubling
within a run). Runs hold a file lock, so overlapping cron runs never send
twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kpitree.alerts.channels import DeliveryError, resolve_channel
from kpitree.alerts.evaluate import Finding, evaluate_rules, segment_key
from kpitree.alerts.model import AlertEvent, AlertRun, Delivery
from kpitree.alerts.quiet import QuietHours
from kpitree.alerts.store import AlertStore, parse_iso, run_lock
from kpitree.errors import UserError

if TYPE_CHECKING:
    from kpitree.alerts.project_view import ProjectView as Project
    from kpitree.definition.spec_alerts import AlertRuleSpec

__all__ = ["alert_events", "run_alerts"]

_UTC = dt.UTC


def _quiet(project: Project, rule: AlertRuleSpec | None) -> QuietHours | None:
    n = project.tree.notifications
    spec = (rule.quiet_hours if rule is not None else None) or n.quiet_hours
    if spec is None:
        return None
    return QuietHours.of(
        spec.start,
        spec.end,
        project.tree.timezone,
        weekends=spec.weekends,
        holidays_country=project.tree.plan.holidays if spec.holidays else None,
    )


def recipients(project: Project, rule: AlertRuleSpec, finding: Finding) -> list[str]:
    """Channel names the rule's ``notify`` list comes to for this finding."""
    n = project.tree.notifications
    out: list[str] = []
    for name in rule.notify:
        if name == "owner":
            node = project.tree.nodes.get(finding.node)
            owner = node.owner if node is not None else None
            out.extend(n.owners.get(owner or "", []))
        elif name == "segment_owner":
            if finding.segment:
                out.extend(n.owners.get(finding.segment[-1][1] or "", []))
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def _facts(
    project: Project,
    rule_id: str,
    rule: AlertRuleSpec,
    finding: Finding,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    tree = project.tree
    facts: dict[str, Any] = dict(finding.facts)
    rep = dict(finding.segment).get("rep")
    if rep is not None and names and rep in names:
        # Stored with the event, so its history names the rep as it was named then.
        facts["rep_names"] = {rep: names[rep]}
    department = dict(finding.segment).get("department")
    found = tree.organisation.departments.get(department) if department else None
    if found is not None:
        # Like a rep's name: the department as it was labelled then.
        label_of = found.label
        facts["department_labels"] = {
            found.id: {"ja": label_of.text("ja", found.id), "en": label_of.text("en", found.id)}
        }
    facts["condition"] = rule.condition
    label = rule.label
    if label is None:
        facts["rule_label"] = {"ja": rule_id, "en": rule_id}
    elif isinstance(label, str):
        facts["rule_label"] = {"ja": label, "en": label}
    else:
        facts["rule_label"] = {"ja": label.ja, "en": label.en}
    node = tree.nodes.get(finding.node)
    if node is not None:
        facts["node_label"] = {"ja": node.label.ja, "en": node.label.en}
        facts["unit"] = node.unit_name
    if rule.sla is not None and rule.sla in tree.sla:
        sla_label = tree.sla[rule.sla].label
        text = sla_label if isinstance(sla_label, str) or sla_label is None else None
        facts["sla_label"] = (
            {"ja": text or rule.sla, "en": text or rule.sla}
            if text is not None or sla_label is None
            else {"ja": sla_label.ja, "en": sla_label.en}  # type: ignore[union-attr]
        )
    facts["currency"] = tree.currency
    return facts


def _transitions(
    project: Project,
    findings: list[Finding],
    states: Mapping[tuple[str, str, str], Any],
    now: dt.datetime,
) -> list[tuple[Finding, str]]:
    rules = project.tree.alerts
    out: list[tuple[Finding, str]] = []
    for f in findings:
        key = (f.rule, f.node, segment_key(f.segment))
        state = states.get(key)
        firing = state is not None and state["state"] == "firing"
        if f.holds is True and not firing:
            out.append((f, "fired"))
        elif f.holds is True and firing:
            hours = rules[f.rule].renotify_hours
            assert state is not None
            last = parse_iso(state["last_notified_at"]) if state["last_notified_at"] else None
            if hours is not None and last is not None and now - last >= dt.timedelta(hours=hours):
                out.append((f, "renotified"))
        elif f.holds is False and firing:
            out.append((f, "resolved"))
    return out


def _cleared_sla_segments(
    project: Project,
    findings: list[Finding],
    states: Mapping[tuple[str, str, str], Any],
    now: dt.datetime,
) -> list[Finding]:
    """A firing SLA-breach segment with no case in the period has no breach:
    the condition is false (a node without data, in contrast, is unknown)."""
    import json
    from zoneinfo import ZoneInfo

    from kpitree.compute.periods import period_of

    rules = project.tree.alerts
    seen = {(f.rule, f.node, segment_key(f.segment)) for f in findings}
    today = now.astimezone(ZoneInfo(project.tree.timezone)).date()
    out = []
    for key, state in states.items():
        rule = rules.get(key[0])
        if state["state"] != "firing" or key in seen or rule is None:
            continue
        if rule.condition != "sla_breaches" or key[1] != f"sla:{rule.sla}":
            continue
        segment = tuple((k, v) for k, v in json.loads(key[2]))
        period = period_of(today, rule.period, project.tree.fiscal_year_start)
        facts = {"breaches": 0, "cases": 0, "threshold": rule.threshold or 0, "volume": 0}
        out.append(Finding(key[0], key[1], segment, False, period.key, facts))
    return out


def _cleared_quality(
    project: Project,
    findings: list[Finding],
    states: Mapping[tuple[str, str, str], Any],
    now: dt.datetime,
    store: AlertStore,
) -> list[Finding]:
    from zoneinfo import ZoneInfo

    from kpitree.alerts.quality import cleared_quality

    today = now.astimezone(ZoneInfo(project.tree.timezone)).date()
    return cleared_quality(project, findings, states, today, store.event)


def run_alerts(
    project: Project,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lock_timeout: float = 30.0,
    targets: str = "then",
) -> AlertRun:
    """Evaluate and deliver at ``now`` (default: the present; must be aware),
    against the targets valid ``then`` or today's (``current``; the caller,
    :meth:`kpitree.project.Project.alerts_run`, checks the choice)."""
    if now is not None and now.tzinfo is None:
        from zoneinfo import ZoneInfo

        now = now.replace(tzinfo=ZoneInfo(project.tree.timezone))  # the project's clock
    now = (now or dt.datetime.now(_UTC)).astimezone(_UTC)
    result = AlertRun(now, dry_run)
    rules = project.tree.alerts
    with run_lock(project.path, lock_timeout), AlertStore(project.path) as store:
        # A run as of a moment before the latest recorded one replays the past:
        # it says what would have fired then (from no state) and touches
        # nothing, so today's alerts are neither resolved nor sent again.
        latest = store.latest_moment()
        result.replay = latest is not None and now < parse_iso(latest)
        problems: list[tuple[str, UserError]] = []
        findings = evaluate_rules(project, rules, now, problems, targets=targets) if rules else []
        result.problems = [
            {"rule": rid, "code": d.code, "message": d.message()}
            for rid, exc in problems
            for d in exc.diagnostics
        ]
        result.evaluated = len(findings)
        result.holding = sum(1 for f in findings if f.holds)
        result.guarded = sum(1 for f in findings if f.facts.get("guarded"))
        states = {} if result.replay else store.states()
        findings.extend(_cleared_sla_segments(project, findings, states, now))
        findings.extend(_cleared_quality(project, findings, states, now, store))
        changes = _transitions(project, findings, states, now)
        names = project.rep_names() if any(dict(f.segment).get("rep") for f, _ in changes) else {}
        if dry_run or result.replay:
            for f, kind in changes:
                rule = rules[f.rule]
                facts = _facts(project, f.rule, rule, f, names)
                deliveries = tuple(
                    Delivery(None, c, _kind(project, c), "pending")
                    for c in recipients(project, rule, f)
                )
                result.events.append(
                    AlertEvent(
                        None,
                        f.rule,
                        f.node,
                        f.segment,
                        kind,
                        now,
                        rule.severity,
                        f.period,
                        facts,
                        deliveries,
                    )
                )
            result.pending = [Delivery.from_row(r) for r in store.pending()]
            return result
        new_ids: list[int] = []
        with store.transaction():
            for f, kind in changes:
                rule = rules[f.rule]
                event_id = store.add_event(
                    f.rule,
                    f.node,
                    segment_key(f.segment),
                    kind,
                    now,
                    rule.severity,
                    f.period,
                    _facts(project, f.rule, rule, f, names),
                )
                new_ids.append(event_id)
                quiet = _quiet(project, rule)
                for channel in recipients(project, rule, f):
                    kind_of = _kind(project, channel)
                    due = now if quiet is None or kind_of == "in_app" else quiet.until(now)
                    store.add_delivery(event_id, channel, kind_of, due)
        _deliver_due(project, store, now, result, environ, sleep)
        rows = {r["id"]: r for r in (store.event(i) for i in new_ids)}
        sent = store.deliveries_of(new_ids)
        result.events = [
            AlertEvent.from_row(rows[i], tuple(Delivery.from_row(d) for d in sent[i]))
            for i in new_ids
        ]
        result.pending = [Delivery.from_row(r) for r in store.pending()]
        store.record_run(
            now,
            {
                "evaluated": result.evaluated,
                "events": len(new_ids),
                "sent": result.sent,
                "failed": result.failed,
                "deferred": result.deferred,
                "pending": len(result.pending),
            },
        )
    return result


def _kind(project: Project, channel: str) -> str:
    spec = project.tree.notifications.channels.get(channel)
    return spec.type if spec is not None else "unknown"


def _deliver_due(
    project: Project,
    store: AlertStore,
    now: dt.datetime,
    result: AlertRun,
    environ: Mapping[str, str] | None,
    sleep: Callable[[float], None],
) -> None:
    retry = project.tree.notifications.retry
    for row in store.due_deliveries(now):
        event = AlertEvent.from_row(store.event(row["event_id"]))
        quiet = _quiet(project, project.tree.alerts.get(event.rule))
        if quiet is not None and row["channel_kind"] != "in_app" and quiet.is_quiet(now):
            store.defer(row["id"], quiet.until(now))
            result.deferred += 1
            continue
        ok, attempts, error = _attempts(project, row, event, environ, sleep, now)
        if ok:
            store.delivered(row["id"], attempts, now)
            result.sent += 1
            continue
        # Backoff between runs: 1, 2, 4 ... minutes (capped), by failed runs so far.
        failed_runs = (row["attempts"] + attempts) // max(1, retry.attempts)
        wait = min(retry.max_backoff_minutes, 2.0 ** max(0, failed_runs - 1))
        store.failed(row["id"], attempts, error, now + dt.timedelta(minutes=wait))
        result.failed += 1


def _attempts(
    project: Project,
    row: Any,
    event: AlertEvent,
    environ: Mapping[str, str] | None,
    sleep: Callable[[float], None],
    now: dt.datetime,
) -> tuple[bool, int, str]:
    """(delivered, attempts made, last error) of one delivery in this run."""
    from kpitree.alerts.send import deliver

    n = project.tree.notifications
    retry = n.retry
    error = ""
    for attempt in range(retry.attempts):
        try:
            channel = resolve_channel(project.tree, row["channel"])
            deliver(
                channel,
                event.as_message_input(),
                lang=n.language,
                base_url=n.base_url,
                delivery_id=row["id"],
                environ=environ,
            )
            return True, attempt + 1, ""
        except UserError as exc:  # a secret's variable is not set: retrying will not help
            return False, attempt + 1, str(exc)
        except DeliveryError as exc:
            error = str(exc)
            if exc.permanent:
                return False, attempt + 1, error
            if attempt + 1 < retry.attempts:
                sleep(retry.backoff_seconds * 2**attempt)
    return False, retry.attempts, error


def alert_events(
    project: Project, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[AlertEvent]:
    """Events with ``start <= at < end`` (either may be open), oldest first,
    with their deliveries."""
    with AlertStore(project.path) as store:
        rows = store.events(start, end)
        deliveries = store.deliveries_of([r["id"] for r in rows])
        return [
            AlertEvent.from_row(r, tuple(Delivery.from_row(d) for d in deliveries[r["id"]]))
            for r in rows
        ]


def open_alerts(project: Project) -> list[AlertEvent]:
    """The latest event of every (rule, node, segment) that is firing now."""
    with AlertStore(project.path) as store:
        rows = store.db.execute(
            "SELECT e.* FROM alert_state s JOIN alert_events e ON e.id = s.last_event_id"
            " WHERE s.state = 'firing' ORDER BY e.at, e.id"
        ).fetchall()
        deliveries = store.deliveries_of([r["id"] for r in rows])
        return [
            AlertEvent.from_row(r, tuple(Delivery.from_row(d) for d in deliveries[r["id"]]))
            for r in rows
        ]
