"""Commands over alerts and hand-off SLAs: ``kpitree alerts run|list|history``
and ``kpitree sla``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.errors import UserError
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t

if TYPE_CHECKING:
    from kpitree.alerts import AlertEvent, AlertRun, Delivery
    from kpitree.sla import SlaReport

alerts_app = typer.Typer(
    help="Alert rules: evaluate and deliver, list open alerts, show the history.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

PathArg = Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _instant(text: str | None, option: str) -> dt.datetime | None:
    """An ISO date-time; without an offset it is in the project's zone (set later)."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError.of("KT721", "alerts.bad_now", None, value=text, option=option) from None


def _aware(at: dt.datetime | None, zone: str) -> dt.datetime | None:
    from zoneinfo import ZoneInfo

    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=ZoneInfo(zone))


def _print_events(events: list[AlertEvent]) -> None:
    from rich.console import Console
    from rich.table import Table

    from kpitree.alerts.messages import rule_label

    lang = current_lang()
    table = Table(show_lines=False)
    for key in ("at", "kind", "severity", "rule", "message", "delivery"):
        table.add_column(t(f"alerts.cli.col.{key}"))
    for e in events:
        table.add_row(
            e.at.astimezone().strftime("%Y-%m-%d %H:%M"),
            t(f"alerts.kind.{e.kind}"),
            t(f"alerts.severity.{e.severity}"),
            terminal_text(rule_label(e.as_message_input(), lang)),
            terminal_text(e.message(lang)),
            t(f"alerts.cli.delivery.{e.delivery_state}"),
        )
    Console(highlight=False).print(table)
    _print_failures([(e.rule, d) for e in events for d in e.deliveries])


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _print_failures(deliveries: list[tuple[str, Delivery]]) -> None:
    """One line per delivery still pending after a failed attempt: where to,
    how many attempts, when the next one is, and the receiver's error."""
    from kpitree.alerts.store import parse_iso

    for rule, d in deliveries:
        if not d.failing:
            continue
        retry = parse_iso(d.next_attempt_at).astimezone() if d.next_attempt_at else None
        typer.echo(
            t(
                "alerts.cli.delivery_failed",
                rule=rule,
                channel=d.channel,
                attempts=d.attempts,
                next=retry.strftime("%Y-%m-%d %H:%M") if retry else "—",
                # A receiver's answer is quoted: its control characters must not
                # reach the terminal (escape sequences, carriage returns).
                error=_CONTROL.sub("\ufffd", d.last_error or ""),
            ),
            err=True,
        )


@alerts_app.command("run")
def alerts_run(
    path: PathArg = Path(),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Evaluate and show; change and send nothing.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Run as of this ISO date-time (default: now), e.g. "
            "2026-10-05T09:00+09:00; without an offset, in the project's zone.",
        ),
    ] = None,
    targets: Annotated[
        str,
        typer.Option(
            "--targets",
            help="then: each month's targets as the definition's revision in force then "
            "(kpitree revisions); current: today's definition (e.g. with a past --now).",
        ),
    ] = "then",
    json: JsonOpt = False,
) -> None:
    """Evaluate every alert rule and deliver what is due (safe to run from cron)."""
    from kpitree.project import Project

    at = _instant(now, "--now")
    project = Project.load(path)
    result = project.alerts_run(
        now=_aware(at, project.tree.timezone), dry_run=dry_run, targets=targets
    )
    if json:
        print_json(result.to_json())
    else:
        _print_run(result, dry_run)
    if result.failed:  # cron and scripts see that something was not delivered
        raise typer.Exit(1)


def _print_run(result: AlertRun, dry_run: bool) -> None:
    if result.events:
        _print_events(result.events)
    # Deliveries of earlier events still failing (waiting for their next attempt).
    shown = {d.id for e in result.events for d in e.deliveries}
    _print_failures([(d.rule or "", d) for d in result.pending if d.id not in shown])
    for problem in result.problems:
        typer.echo(t("alerts.cli.problem", **problem), err=True)
    typer.echo(
        t(
            "alerts.cli.run_summary",
            evaluated=result.evaluated,
            holding=result.holding,
            events=len(result.events),
            sent=result.sent,
            failed=result.failed,
            deferred=result.deferred,
            pending=len(result.pending),
        )
    )
    if result.replay:
        typer.echo(t("alerts.cli.replay", now=result.now.isoformat()))
    elif dry_run:
        typer.echo(t("alerts.cli.dry_run"))


@alerts_app.command("list")
def alerts_list(path: PathArg = Path(), json: JsonOpt = False) -> None:
    """Alerts firing now, with their latest event and delivery state."""
    from kpitree.alerts.run import open_alerts
    from kpitree.project import Project

    events = open_alerts(Project.load(path))
    if json:
        print_json([e.to_json() for e in events])
        return
    if events:
        _print_events(events)
    typer.echo(t("alerts.cli.open_count", count=len(events)))


@alerts_app.command("history")
def alerts_history(
    path: PathArg = Path(),
    since: Annotated[
        str | None, typer.Option("--since", help="From this ISO date or date-time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this ISO date or date-time.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Every fired, renotified and resolved event, with its deliveries."""
    from kpitree.project import Project

    project = Project.load(path)
    zone = project.tree.timezone
    start = _aware(_instant(since, "--since"), zone)
    end = _aware(_instant(until, "--until"), zone)
    events = project.alert_events(start, end)
    if json:
        print_json([e.to_json() for e in events])
        return
    if events:
        _print_events(events)
    typer.echo(t("alerts.cli.event_count", count=len(events)))


@app.command()
def sla(
    path: PathArg = Path(),
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="Period the cases started in: 2026-10, 2026-Q3, "
            "this-month ... (default: this month).",
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", "-b", help="Rows per owner (default), team or department.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Measure as of this ISO date (its end) or date-time."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Hand-off SLAs: compliance, P50/P95 response hours, breaches, cases about to breach."""
    from kpitree.project import Project

    project = Project.load(path)
    when: dt.date | dt.datetime | None = None
    if as_of is not None:
        text = as_of.strip()
        if "T" in text or " " in text:
            when = _aware(_instant(text, "--as-of"), project.tree.timezone)
        else:
            try:
                when = dt.date.fromisoformat(text)
            except ValueError:
                raise UserError.of("KT721", "alerts.bad_now", None, value=as_of) from None
    report = project.sla_report(period, by=by, as_of=when)
    if json:
        print_json(report.to_json())
        return
    if report.by == "owner":
        names = project.rep_names()
    else:
        lang = current_lang()
        departments = project.tree.organisation.departments.values()
        names = {d.id: d.label.text(lang, d.id) for d in departments}
    _print_sla(report, names)


def _hours(value: float | None) -> str:
    return "—" if value is None else t("alerts.cli.hours", value=f"{value:,.1f}")


def _print_sla(report: SlaReport, names: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    lang = current_lang()
    console = Console(highlight=False)
    if not report.rules:
        typer.echo(t("sla.cli.none"))
    else:
        from zoneinfo import ZoneInfo

        moment = report.now.astimezone(ZoneInfo(report.timezone)).strftime("%Y-%m-%d %H:%M")
        typer.echo(t("sla.cli.as_of", period=report.period, moment=moment))
    for rule in report.rules:
        label = rule.label.get(lang) or rule.label.get("en") or rule.rule
        s = rule.summary
        console.print(
            t(
                "sla.cli.title",
                label=terminal_text(label),
                period=report.period,
                within=f"{rule.within_hours:g}",
                clock=t(f"sla.cli.clock.{rule.clock}"),
            )
        )
        table = Table()
        first = {"owner": "owner", "team": "team", "department": "department"}[report.by]
        for key in (first, "cases", "met", "breached", "open", "compliance", "p50", "p95"):
            table.add_column(t(f"sla.cli.col.{key}"))
        for g in [*rule.groups, None]:
            summary = s if g is None else g.summary
            name = (
                t("alerts.company")
                if g is None
                else " / ".join(
                    terminal_text(names.get(str(v), str(v)))
                    if v is not None
                    else t("status.unassigned")
                    for v in g.key.values()
                )
            )
            table.add_row(
                name,
                str(summary.cases),
                str(summary.met),
                str(summary.breached),
                str(summary.open),
                "—" if summary.compliance is None else f"{summary.compliance * 100:.1f}%",
                _hours(summary.p50_hours),
                _hours(summary.p95_hours),
            )
        console.print(table)
        for title, cases in (
            ("breaches", rule.breaches),
            ("about_to_breach", rule.about_to_breach),
        ):
            if not cases:
                continue
            console.print(t(f"sla.cli.{title}", count=len(cases)))
            for c in cases:
                console.print(
                    t(
                        "sla.cli.case",
                        id=terminal_text(c.id),
                        owner=terminal_text(names.get(c.owner, c.owner))
                        if c.owner
                        else t("status.unassigned"),
                        start=c.start.strftime("%Y-%m-%d %H:%M"),
                        due=c.due.strftime("%Y-%m-%d %H:%M"),
                        elapsed=_hours(c.elapsed_hours),
                    )
                )
