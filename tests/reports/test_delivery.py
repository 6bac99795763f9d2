"""Scheduled delivery through a real SMTP server on loopback (aiosmtpd), and
the SLA and alert sections of a project that has SLA rules and alert history."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kpitree.definition.spec_reports import ReportScheduleSpec
from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.reports import build_report, render
from kpitree.reports.delivery import send_due_reports, sent_reports
from kpitree.reports.schedule import business_day_of_month, latest_occurrence

from .conftest import AS_OF, PERIOD, SmtpReceiver, copy_project, edit_definition

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

JST = ZoneInfo("Asia/Tokyo")
MONDAY = dt.datetime(2025, 10, 20, 8, 30, tzinfo=JST)  # reports 2025-W42


def configure(folder: Path, port: int, **report: Any) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["notifications"] = {
            "channels": {
                "app": {"type": "in_app"},
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "from": "kpitree@example.co.jp",
                    "to": ["team@example.co.jp"],
                    "timeout_seconds": 5,
                },
            }
        }
        doc["alerts"] = {
            # Won deals are behind their pace in mid-October 2025 (revenue is not:
            # large deals put it ahead).
            "won_deals_behind": {
                "node": "won_deals",
                "condition": "below_pace",
                "threshold": 95,
                "notify": ["app"],
            }
        }
        doc["sla"] = {
            "mql_first_touch": {
                "label": {"ja": "MQL初回接触", "en": "MQL first touch"},
                "from": "mql",
                "to": "first_activity",
                "within_hours": 24,
            }
        }
        doc["reports"] = {
            "weekly-review": {
                "kind": "weekly",
                "formats": ["pdf", "md"],
                "lang": "ja",
                "channel": "mail",
                "recipients": ["leads@example.co.jp"],
                "schedule": {"every": "week", "day": "monday", "at": "08:00"},
                **report,
            }
        }

    edit_definition(folder, change)


@pytest.fixture
def configured(company: Path, tmp_path: Path, smtp: SmtpReceiver) -> Path:
    folder = copy_project(company, tmp_path / "project")
    configure(folder, smtp.port)
    return folder


# -- schedule -------------------------------------------------------------------------


def test_weekly_occurrence_is_the_last_monday_at_eight() -> None:
    schedule = ReportScheduleSpec(every="week", day="monday", at="08:00")
    at = latest_occurrence(schedule, MONDAY, timezone="Asia/Tokyo")
    assert at == dt.datetime(2025, 10, 20, 8, 0, tzinfo=JST)
    before = latest_occurrence(schedule, MONDAY.replace(hour=7, minute=59), timezone="Asia/Tokyo")
    assert before == dt.datetime(2025, 10, 13, 8, 0, tzinfo=JST)
    # 23:30 UTC on Sunday is 08:30 on Monday in Tokyo.
    utc = dt.datetime(2025, 10, 19, 23, 30, tzinfo=dt.UTC)
    assert latest_occurrence(schedule, utc, timezone="Asia/Tokyo") == at


def test_monthly_occurrence_skips_weekends_and_japanese_holidays() -> None:
    assert business_day_of_month(2027, 1, 1) == dt.date(2027, 1, 4)  # 1/1 holiday, weekend
    assert business_day_of_month(2026, 5, 3) == dt.date(2026, 5, 8)  # Golden Week
    assert business_day_of_month(2027, 1, 1, closed_days=["2027-01-04"]) == dt.date(2027, 1, 5)
    schedule = ReportScheduleSpec(every="month", business_day=1, at="09:00")
    now = dt.datetime(2027, 1, 3, 12, 0, tzinfo=JST)
    assert latest_occurrence(schedule, now, timezone="Asia/Tokyo") == dt.datetime(
        2026, 12, 1, 9, 0, tzinfo=JST
    )
    now = dt.datetime(2027, 1, 4, 9, 0, tzinfo=JST)
    assert latest_occurrence(schedule, now, timezone="Asia/Tokyo") == now


# -- delivery -------------------------------------------------------------------------


@pytest.mark.slow
def test_due_report_is_mailed_once_with_a_pdf(configured: Path, smtp: SmtpReceiver) -> None:
    from pypdf import PdfReader

    project = Project.load(configured)
    due = send_due_reports(project, now=MONDAY, dry_run=True)
    assert [(d.report, d.period, d.status) for d in due] == [("weekly-review", "2025-W42", "due")]
    assert smtp.messages == []

    done = send_due_reports(project, now=MONDAY)
    assert [(d.period, d.status) for d in done] == [("2025-W42", "sent")]
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"].startswith("週次KPIレビュー")
    assert smtp.envelopes[0][1] == ["leads@example.co.jp"]
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attachments) == {"kpitree-report-2025-W42.pdf", "kpitree-report-2025-W42.md"}
    pdf = attachments["kpitree-report-2025-W42.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    content = pdf.get_content()
    assert content.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "週次KPIレビュー" in text and "2025年 第42週" in text
    body = message.get_body(("plain",)).get_content()
    assert "売上は目標の" in body

    # Idempotent: the same occurrence is not sent again, later the same week either.
    again = send_due_reports(project, now=MONDAY + dt.timedelta(hours=3))
    assert [d.status for d in again] == ["already_sent"]
    assert len(smtp.messages) == 1
    rows = sent_reports(project)
    assert [(r["report"], r["period"], r["status"]) for r in rows] == [
        ("weekly-review", "2025-W42", "sent")
    ]


@pytest.mark.slow
def test_failed_send_is_retried_by_the_next_run(configured: Path, smtp: SmtpReceiver) -> None:
    def markdown_only(doc: dict[str, Any]) -> None:
        doc["reports"]["weekly-review"]["formats"] = ["md"]

    edit_definition(configured, markdown_only)
    project = Project.load(configured)
    smtp.stop()
    failed = send_due_reports(project, now=MONDAY)
    assert [d.status for d in failed] == ["failed"]
    assert failed[0].error
    assert [r["status"] for r in sent_reports(project)] == ["failed"]
    smtp.start()
    retried = send_due_reports(project, now=MONDAY + dt.timedelta(minutes=15))
    assert [d.status for d in retried] == ["sent"]
    assert len(smtp.messages) == 1
    assert [(r["status"], r["attempts"]) for r in sent_reports(project)] == [("sent", 2)]


def test_report_needs_an_email_channel(configured: Path, smtp: SmtpReceiver) -> None:
    def to_app(doc: dict[str, Any]) -> None:
        doc["reports"]["weekly-review"]["channel"] = "app"

    edit_definition(configured, to_app)
    with pytest.raises(UserError) as caught:
        send_due_reports(Project.load(configured), now=MONDAY)
    diag = caught.value.diagnostics[0]
    assert diag.code == "KT811"
    assert diag.span is not None and diag.span.file and diag.span.file.endswith("kpitree.yaml")

    def unknown(doc: dict[str, Any]) -> None:
        doc["reports"]["weekly-review"]["channel"] = "mial"

    edit_definition(configured, unknown)
    with pytest.raises(UserError) as caught:
        send_due_reports(Project.load(configured), now=MONDAY)
    assert caught.value.diagnostics[0].code == "KT810"
    assert "mail" in caught.value.diagnostics[0].message("en")
    assert smtp.messages == []


def test_bad_schedule_is_a_located_definition_error(configured: Path) -> None:
    def bad(doc: dict[str, Any]) -> None:
        report = doc["reports"]["weekly-review"]
        report["schedule"] = {"every": "week", "at": "8am"}
        report["recipients"] = ["leads-at-example"]

    edit_definition(configured, bad)
    errors = {d.params["key"]: d for d in Project.check(configured).errors}
    assert set(errors) == {"at", "recipients"}
    text = (configured / "kpitree.yaml").read_text(encoding="utf-8").splitlines()
    at = errors["at"]
    assert at.code == "KT012" and at.span is not None
    assert text[at.span.line - 1][at.span.column - 1 :].startswith("8am")
    assert "HH:MM" in at.message("en")
    # The reason is written when the definition is read, in the language then set.
    from kpitree.i18n import set_lang

    set_lang("ja")
    try:
        ja = {d.params["key"]: d for d in Project.check(configured).errors}
    finally:
        set_lang(None)
    assert "時刻は HH:MM で指定してください" in ja["at"].message("ja")
    assert "leads-at-example" in errors["recipients"].message("en")


# -- SLA and alerts in the report -------------------------------------------------------


@pytest.mark.slow
def test_sla_and_alert_sections_show_the_alerts_layer_numbers(configured: Path) -> None:
    project = Project.load(configured)
    run = project.alerts_run(now=dt.datetime(2025, 10, 15, 10, 0, tzinfo=JST))
    assert run is not None
    events = project.alert_events(
        dt.datetime(2025, 10, 1, tzinfo=JST), dt.datetime(2025, 10, 16, tzinfo=JST)
    )
    assert events, "the won-deals rule fires on October 2025 (won deals are behind their pace)"
    report = build_report(project, PERIOD, "monthly", "en", AS_OF)
    assert report.alerts.configured and len(report.alerts.events) == len(events)
    assert report.alerts.events[0].node == "Won deals"
    sla = project.sla_report(PERIOD, by="owner", as_of=AS_OF)
    assert report.sla.configured
    [line] = report.sla.rules
    summary = sla.rule("mql_first_touch").summary
    assert line.label == "MQL first touch"
    assert (line.compliance, line.p50_hours, line.p95_hours) == (
        summary.compliance,
        summary.p50_hours,
        summary.p95_hours,
    )
    assert (line.met, line.breaches, line.open) == (summary.met, summary.breached, summary.open)
    assert len(report.sla.owners) == len(sla.rule("mql_first_touch").groups)
    md = render(report, "md").decode("utf-8")
    assert "No SLA rules configured" not in md and "No alerts configured" not in md
    assert "| SLA rule | Compliance |" in md
    assert "MQL first touch" in md
    assert any(s.startswith("SLA compliance of MQL first touch") for s in report.narrative)
    assert report.narrative[-1] == f"Alerts in the period: {len(events)}."


@pytest.mark.slow
def test_a_failed_send_keeps_what_was_to_be_sent_and_the_retry_sends_it(
    configured: Path, smtp: SmtpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    from kpitree.cli import app
    from kpitree.cli.output import run_app
    from kpitree.i18n import set_lang

    def cli(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = run_app(app, ["--lang", "en", *args])
        finally:
            set_lang(None)
        out, err = capsys.readouterr()
        return code, out, err

    def markdown_only(doc: dict[str, Any]) -> None:
        doc["reports"]["weekly-review"]["formats"] = ["md"]

    edit_definition(configured, markdown_only)
    smtp.stop()  # the receiver is down
    now = MONDAY.isoformat()
    code, out, err = cli("reports", "send", str(configured), "--now", now)
    assert code == 1 and "failed" in out and "ConnectionRefusedError" in out
    (row,) = sent_reports(Project.load(configured))
    assert (row["status"], row["recipients"], row["files"]) == (
        "failed",
        "leads@example.co.jp",
        "kpitree-report-2025-W42.md",
    )
    code, out, err = cli("reports", "list", str(configured))
    assert "failed; the next run retries → leads@example.co.jp" in out
    assert "error: not sent after 1 attempt(s) (kpitree-report-2025-W42.md): " in err
    assert "ConnectionRefusedError" in err

    # The definition changes before the retry: the retry still sends what failed.
    def others(doc: dict[str, Any]) -> None:
        doc["reports"]["weekly-review"]["recipients"] = ["someone-else@example.co.jp"]
        doc["reports"]["weekly-review"]["formats"] = ["pdf", "md"]

    edit_definition(configured, others)
    smtp.start()
    later = (MONDAY + dt.timedelta(minutes=15)).isoformat()
    code, out, err = cli("reports", "send", str(configured), "--now", later)
    assert code == 0, err
    assert smtp.envelopes[0][1] == ["leads@example.co.jp"]
    attached = [p.get_filename() for p in smtp.messages[0].iter_attachments()]
    assert attached == ["kpitree-report-2025-W42.md"]
    (row,) = sent_reports(Project.load(configured))
    assert (row["status"], row["attempts"], row["recipients"]) == (
        "sent",
        2,
        "leads@example.co.jp",
    )
