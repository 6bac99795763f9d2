"""Review reports: ``kpitree report`` writes one; ``kpitree reports send``
e-mails the scheduled ones that are due; ``kpitree reports list`` shows them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.errors import UserError
from kpitree.i18n import t

PathArg = Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class KindName(StrEnum):
    weekly = "weekly"
    monthly = "monthly"


class FormatName(StrEnum):
    pdf = "pdf"
    xlsx = "xlsx"
    html = "html"
    md = "md"


class LangName(StrEnum):
    ja = "ja"
    en = "en"


reports_app = typer.Typer(
    name="reports",
    help="Scheduled review reports (reports: in kpitree.yaml): send the due ones, list them.",
    no_args_is_help=True,
)
app.add_typer(reports_app)


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise UserError.of("KT806", "reports.bad_as_of", None, value=text) from None


def _moment(text: str | None) -> dt.datetime | None:
    """``--now``: an ISO date-time; without a zone it is the project's."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError.of("KT806", "reports.bad_now", None, value=text) from None


@app.command()
def report(
    path: PathArg = Path(),
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="A month (2026-10) or an ISO week (2026-W41); default: the one containing "
            "--as-of (today).",
        ),
    ] = None,
    kind: Annotated[
        KindName | None,
        typer.Option("--kind", help="weekly or monthly (default: from --period, else monthly)."),
    ] = None,
    fmt: Annotated[FormatName, typer.Option("--format", "-f", help="File format.")] = (
        FormatName.pdf
    ),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File to write (default: kpitree-report-<period>.<fmt>)."),
    ] = None,
    lang: Annotated[
        LangName | None,
        typer.Option("--lang", help="Language of the report (default: the message language)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day to measure up to, YYYY-MM-DD.")
    ] = None,
    targets: Annotated[
        str,
        typer.Option(
            "--targets",
            help="then: the targets valid at the time (kpitree revisions); current: today's.",
        ),
    ] = "then",
    json: JsonOpt = False,
) -> None:
    """Write a weekly or monthly review report (PDF, Excel, HTML or Markdown)."""
    from kpitree.project import Project
    from kpitree.reports import build_report, default_file_name, render

    project = Project.load(path)
    built = build_report(
        project,
        period,
        kind.value if kind else None,
        lang.value if lang else None,
        _day(as_of),
        targets=targets,
    )
    content = render(built, fmt.value)
    target = out or Path(default_file_name(built, fmt.value))
    try:
        target.write_bytes(content)
    except OSError as exc:
        raise UserError.of(
            "KT805", "reports.cannot_write", None, path=str(target), reason=exc.strerror or exc
        ) from None
    if json:
        print_json(
            {
                "file": str(target),
                "format": fmt.value,
                "bytes": len(content),
                "kind": built.kind,
                "period": built.period.key,
                "as_of": built.as_of.isoformat(),
                "kgi": {
                    "node": built.kgi.node,
                    "actual": built.kgi.actual,
                    "target": built.kgi.target,
                    "achievement": built.kgi.achievement,
                    "expected_to_date": built.kgi.expected,
                    "forecast": built.kgi.forecast,
                    "status": built.kgi.status,
                },
                "narrative": built.narrative,
            }
        )
    else:
        typer.echo(str(target))


@reports_app.command("send")
def reports_send(
    path: PathArg = Path(),
    now: Annotated[
        str | None,
        typer.Option("--now", help="Act as if it were this moment (ISO date-time; default: now)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what is due; send and record nothing.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--report", help="Only this configured report.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Send the scheduled reports that are due (idempotent: safe to run from cron)."""
    from zoneinfo import ZoneInfo

    from kpitree.project import Project
    from kpitree.reports.delivery import send_due_reports

    project = Project.load(path)
    moment = _moment(now)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(project.tree.timezone))
    done = send_due_reports(project, now=moment, dry_run=dry_run, only=name)
    if json:
        print_json([d.to_json() for d in done])
    elif not done:
        typer.echo(t("reports.cli.none"))
    for d in done if not json else []:
        typer.echo(
            t(
                "reports.cli.delivery",
                report=d.report,
                period=d.period,
                status=t(f"reports.delivery.{d.status}"),
                recipients=", ".join(d.recipients),
            )
            + (f" ({d.error})" if d.error else "")
        )
    if any(d.status == "failed" for d in done):
        raise typer.Exit(1)


@reports_app.command("list")
def reports_list(path: PathArg = Path(), json: JsonOpt = False) -> None:
    """The configured reports, their schedule and what was sent."""
    from kpitree.project import Project
    from kpitree.reports.delivery import configured_reports, sent_reports

    project = Project.load(path)
    configured = configured_reports(project)
    sent = sent_reports(project)
    if json:
        print_json(
            {
                "reports": {
                    r.name: r.spec.model_dump(mode="json", exclude_none=True) for r in configured
                },
                "deliveries": sent,
            }
        )
        return
    if not configured:
        typer.echo(t("reports.cli.none"))
    for r in configured:
        s = r.spec.schedule
        when = s.day or "monday" if s.every == "week" else f"business_day {s.business_day or 1}"
        typer.echo(
            f"{r.name}: {r.spec.kind} {', '.join(r.spec.formats)} → {r.spec.channel} "
            f"({s.every}, {when}, {s.at})"
        )
    for row in sent:
        typer.echo(
            f"  {row['report']} {row['period']} {row['occurrence']}: "
            f"{t('reports.delivery.' + row['status'])}"
            + (f" → {row['recipients']}" if row["recipients"] else "")
        )
        if row["status"] == "failed":  # what went wrong, and what the retry will send
            typer.echo(
                "    "
                + t(
                    "reports.cli.failed",
                    attempts=row["attempts"],
                    files=row["files"] or "—",
                    error=row["error"] or "—",
                ),
                err=True,
            )
