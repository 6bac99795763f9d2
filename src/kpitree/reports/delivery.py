"""Scheduled delivery of review reports by e-mail (``kpitree reports send``).

Which reports are due comes from :mod:`kpitree.reports.schedule`; what was
sent is remembered in the project's ``.kpitree/app.sqlite`` (table
``report_deliveries``, one row per report and occurrence), so running the
command again, or from cron every few minutes, sends nothing twice. A run
*claims* an occurrence in one transaction before building the report, so two
runs at the same moment do not both send it; a failed send is recorded with
its error, recipients and files, and the next run retries it to the same
recipients with the same files (rebuilt for the same period and day). Mail
goes through the alerts layer's :func:`kpitree.alerts.email.send_mail` on an
e-mail channel of ``notifications.channels``."""

from __future__ import annotations

import datetime as dt
import html
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpitree.appdb import APP_DB
from kpitree.definition.spec_reports import ReportSpec
from kpitree.errors import Diagnostic, Span, UserError
from kpitree.i18n import t
from kpitree.reports.schedule import latest_occurrence

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.reports.project_view import ProjectView as Project

__all__ = ["APP_DB", "Delivery", "configured_reports", "send_due_reports", "sent_reports"]

# A claim older than this is from a run that died mid-way: it may be retried.
STALE_CLAIM = dt.timedelta(minutes=30)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_deliveries (
    report TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    period TEXT NOT NULL,
    status TEXT NOT NULL,          -- sending | sent | failed
    recipients TEXT NOT NULL DEFAULT '',
    files TEXT NOT NULL DEFAULT '',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (report, occurrence)
)
"""


@dataclass(frozen=True)
class ConfiguredReport:
    name: str
    spec: ReportSpec
    spans: dict[str, Span]


@dataclass
class Delivery:
    """What a run did with one configured report."""

    report: str
    occurrence: dt.datetime
    period: str
    status: str  # sent | already_sent | in_progress | failed | due (dry run)
    recipients: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "occurrence": self.occurrence.isoformat(),
            "period": self.period,
            "status": self.status,
            "recipients": self.recipients,
            "files": self.files,
            "error": self.error,
        }


def configured_reports(project: Project) -> list[ConfiguredReport]:
    """The ``reports:`` section of the definition, with the place of each key
    (for messages that point at the file)."""
    from kpitree.definition.draft import DEFINITION_FILE
    from kpitree.source import load_yaml

    doc = load_yaml(project.path / DEFINITION_FILE)
    raw = doc.data.get("reports") if isinstance(doc.data, dict) else None
    found = []
    for name, value in (raw or {}).items():
        spec = ReportSpec.model_validate(value)  # the definition's check validated it
        spans = {key: doc.span(("reports", name, key)) for key in (value or {})}
        spans[""] = doc.key_span(("reports", name))
        found.append(ConfiguredReport(str(name), spec, spans))
    return found


def _email_channel(project: Project, report: ConfiguredReport) -> Any:
    from kpitree.alerts.channels import EmailChannel

    channels = project.tree.notifications.channels
    name = report.spec.channel
    span = report.spans.get("channel")
    if name not in channels:
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT810",
            "reports.unknown_channel",
            span,
            report=report.name,
            channel=name,
            channels=", ".join(c for c, s in channels.items() if s.type == "email") or "—",
            hint=did_you_mean(name, list(channels)),
        )
    channel = project.notification_channel(name)
    if not isinstance(channel, EmailChannel):
        raise UserError.of(
            "KT811",
            "reports.not_email",
            span,
            report=report.name,
            channel=name,
            type=channels[name].type,
        )
    return channel


def check_channels(project: Project) -> None:
    """Every configured report names an e-mail channel (KT810/KT811, located)."""
    errors: list[Diagnostic] = []
    for report in configured_reports(project):
        try:
            _email_channel(project, report)
        except UserError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise UserError(errors)


@contextmanager
def _db(project: Project) -> Iterator[sqlite3.Connection]:
    path = project.path / APP_DB
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as con:
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(_SCHEMA)
        yield con


def _claim(
    con: sqlite3.Connection,
    name: str,
    occurrence: str,
    period: str,
    now: str,
    what: tuple[list[str], list[str]],
) -> str | tuple[list[str], list[str]]:
    """Take the occurrence for this run: the recipients and files to send
    (``what`` the first time, what an earlier attempt was to send after that),
    or why not (``already_sent``, ``in_progress``)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        row = con.execute(
            "SELECT status, updated_at, recipients, files FROM report_deliveries "
            "WHERE report = ? AND occurrence = ?",
            (name, occurrence),
        ).fetchone()
        if row is not None and row["status"] == "sent":
            con.execute("COMMIT")
            return "already_sent"
        if row is not None and row["status"] == "sending":
            started = dt.datetime.fromisoformat(row["updated_at"])
            if dt.datetime.fromisoformat(now) - started < STALE_CLAIM:
                con.execute("COMMIT")
                return "in_progress"
        if row is not None and row["recipients"] and row["files"]:  # a retry: the same mail
            what = (row["recipients"].split(", "), row["files"].split(", "))
        con.execute(
            "INSERT INTO report_deliveries (report, occurrence, period, status, attempts, "
            "recipients, files, updated_at) VALUES (?, ?, ?, 'sending', 1, ?, ?, ?) "
            "ON CONFLICT (report, occurrence) DO UPDATE SET status = 'sending', "
            "attempts = attempts + 1, recipients = excluded.recipients, "
            "files = excluded.files, updated_at = excluded.updated_at, error = NULL",
            (name, occurrence, period, ", ".join(what[0]), ", ".join(what[1]), now),
        )
        con.execute("COMMIT")
        return what
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _report_period(
    project: Project, spec: ReportSpec, occurrence: dt.datetime
) -> tuple[Period, dt.date]:
    """The period a scheduled report covers and the day it is measured to."""
    from zoneinfo import ZoneInfo

    from kpitree.compute.periods import period_of

    day = occurrence.astimezone(ZoneInfo(project.tree.timezone)).date()
    current = period_of(
        day, "week" if spec.kind == "weekly" else "month", project.tree.fiscal_year_start
    )
    if spec.period == "current":
        return current, day
    previous = current.previous()
    return previous, previous.end


def _mail(report_title: str, narrative: list[str], files: list[str], lang: str) -> tuple[str, str]:
    attached = t("reports.mail.attached", lang=lang, files=", ".join(files))
    text = "\n".join([report_title, "", *narrative, "", attached]) + "\n"
    items = "".join(f"<li>{html.escape(line)}</li>" for line in narrative)
    body = (
        f"<html><body><h1>{html.escape(report_title)}</h1><ul>{items}</ul>"
        f"<p>{html.escape(attached)}</p></body></html>"
    )
    return text, body


def send_due_reports(
    project: Project,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    only: str | None = None,
    sender: Callable[..., None] | None = None,
) -> list[Delivery]:
    """Send every configured report whose latest occurrence at ``now`` (aware;
    default the present) has not been sent; ``dry_run`` only says what is due.
    ``sender`` replaces :func:`kpitree.alerts.email.send_mail` (same keywords)."""
    from kpitree.reports.build import build_report
    from kpitree.reports.html import title
    from kpitree.reports.render import MIME, default_file_name, render

    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise UserError.of("KT812", "reports.naive_now", None, value=now.isoformat())
    reports = configured_reports(project)
    if only is not None and only not in {r.name for r in reports}:
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT813",
            "reports.unknown_report",
            None,
            report=only,
            reports=", ".join(r.name for r in reports) or "—",
            hint=did_you_mean(only, [r.name for r in reports]),
        )
    if sender is None:
        from kpitree.alerts.email import send_mail

        sender = send_mail
    plan = project.tree.plan
    done: list[Delivery] = []
    with _db(project) as con:
        for report in reports:
            if only is not None and report.name != only:
                continue
            spec = report.spec
            occurrence = latest_occurrence(
                spec.schedule,
                now,
                timezone=project.tree.timezone,
                country=plan.holidays,
                closed_days=plan.closed_days,
            )
            period, as_of = _report_period(project, spec, occurrence)
            channel = _email_channel(project, report)
            recipients = list(spec.recipients) or list(channel.to)
            files = [f"kpitree-report-{period.key}.{fmt}" for fmt in spec.formats]
            delivery = Delivery(report.name, occurrence, period.key, "due", recipients, files)
            done.append(delivery)
            key = occurrence.isoformat()
            if dry_run:
                row = con.execute(
                    "SELECT status FROM report_deliveries WHERE report = ? AND occurrence = ?",
                    (report.name, key),
                ).fetchone()
                if row is not None and row["status"] == "sent":
                    delivery.status = "already_sent"
                continue
            stamp = dt.datetime.now(dt.UTC).isoformat()
            claim = _claim(con, report.name, key, period.key, stamp, (recipients, files))
            if isinstance(claim, str):
                delivery.status = claim
                continue
            recipients, files = claim
            delivery.recipients, delivery.files = recipients, files
            formats = [Path(f).suffix.lstrip(".") for f in files]
            try:
                built = build_report(project, period.key, spec.kind, spec.lang, as_of)
                attachments = [
                    (default_file_name(built, fmt), render(built, fmt), MIME[fmt])
                    for fmt in formats
                ]
                subject = f"{title(built)} — {built.project}"
                text, body = _mail(subject, built.narrative, files, spec.lang)
                sender(
                    channel, to=recipients, subject=subject, text=text, html=body,
                    attachments=attachments,
                )  # fmt: skip
            except Exception as exc:  # recorded and retried by the next run
                delivery.status, delivery.error = "failed", f"{type(exc).__name__}: {exc}"
                con.execute(
                    "UPDATE report_deliveries SET status = 'failed', error = ?, updated_at = ? "
                    "WHERE report = ? AND occurrence = ?",
                    (delivery.error, dt.datetime.now(dt.UTC).isoformat(), report.name, key),
                )
                continue
            delivery.status = "sent"
            con.execute(
                "UPDATE report_deliveries SET status = 'sent', recipients = ?, files = ?, "
                "updated_at = ? WHERE report = ? AND occurrence = ?",
                (", ".join(recipients), ", ".join(files), dt.datetime.now(dt.UTC).isoformat(),
                 report.name, key),
            )  # fmt: skip
    return done


def sent_reports(project: Project) -> list[dict[str, Any]]:
    """Every delivery recorded, newest first."""
    if not (project.path / APP_DB).exists():
        return []
    with _db(project) as con:
        rows = con.execute(
            "SELECT * FROM report_deliveries ORDER BY occurrence DESC, report"
        ).fetchall()
    return [dict(r) for r in rows]
