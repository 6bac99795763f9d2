"""Alert runs end to end on the hand-made company, with real receivers:
firing, no duplicates, re-notify, resolve, quiet hours, the minimum-volume
guard, per-rep rules, and retry after an outage with nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from kpitree import Project

from .company import DEFINITION, JST, NOW, build
from .conftest import HttpReceiver, SmtpReceiver

ALERTS = """\
notifications:
  base_url: https://kpi.example.co.jp
  language: ja
  retry: {{attempts: 2, backoff_seconds: 0}}
  channels:
    is-slack: {{type: slack, url: "http://127.0.0.1:{http}/slack"}}
    hook: {{type: webhook, url: "http://127.0.0.1:{http}/hook", secret_env: KT_TEST_HOOK_SECRET}}
    mail: {{type: email, host: 127.0.0.1, port: {smtp}, security: none,
           from: kpitree@example.co.jp, to: [is-managers@example.co.jp]}}
    app: {{type: in_app}}
  owners: {{r1: [is-slack], r2: [hook]}}
alerts:
  first_touch_low:
    label: {{ja: 初回対応率の低下, en: First-touch compliance low}}
    node: first_touch
    condition: below_target
    threshold: {threshold}
    by: rep
    severity: critical
    notify: [segment_owner, mail, app]
    renotify_hours: 24
{extra}"""


def project_at(
    folder: Path, http: int, smtp: int, threshold: float = 80, extra: str = ""
) -> Project:
    text = DEFINITION + ALERTS.format(http=http, smtp=smtp, threshold=threshold, extra=extra)
    if not (folder / "warehouse.duckdb").exists():
        build(folder, text)
    else:
        (folder / "kpitree.yaml").write_text(text, encoding="utf-8")
    return Project.load(folder)


def test_fires_once_per_rep_notifies_each_owner_and_does_not_repeat(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port)
    # On 10-05 both reps have answered every MQL so far: nothing fires.
    quiet_run = project.alerts_run(now=dt.datetime(2026, 10, 5, 16, 0, tzinfo=JST))
    assert quiet_run.evaluated == 2 and quiet_run.events == []

    run = project.alerts_run(now=NOW)
    # Both reps are at 50% of a 90% target: 55.6% < 80%.
    assert sorted((e.kind, dict(e.segment)["rep"]) for e in run.events) == [
        ("fired", "r1"),
        ("fired", "r2"),
    ]
    assert run.sent == 6 and run.failed == 0 and run.pending == []
    r1 = next(e for e in run.events if dict(e.segment)["rep"] == "r1")
    assert r1.facts["actual"] == pytest.approx(0.5)
    assert r1.facts["ratio"] == pytest.approx(0.5 / 0.9 * 100)
    assert {d.channel: d.status for d in r1.deliveries} == {
        "is-slack": "sent",
        "mail": "sent",
        "app": "sent",
    }

    # r1's owner channel is Slack: a Block Kit message with the numbers and a link.
    (slack,) = http_receiver.to("/slack")
    payload = slack.json()
    assert payload["blocks"][0]["type"] == "header"
    assert "初回対応率の低下" in payload["blocks"][0]["text"]["text"]
    text = json.dumps(payload, ensure_ascii=False)
    assert "50.0%" in text and "90.0%" in text and "担当者: 佐藤" in text
    button = payload["blocks"][-1]["elements"][0]
    assert button["url"] == "https://kpi.example.co.jp/nodes/first_touch?period=2026-10"

    # r2's owner channel is the signed webhook: the receiver verified the HMAC.
    (hook,) = http_receiver.to("/hook")
    assert hook.verified is True
    body = hook.json()
    assert body["kind"] == "fired" and body["segment"]["rep"] == "r2"
    assert body["facts"]["actual"] == pytest.approx(0.5)

    # Both went to the managers' mailbox, in Japanese, with text and HTML parts.
    assert len(smtp_receiver.messages) == 2
    mail = smtp_receiver.messages[0]
    assert smtp_receiver.envelopes[0][1] == ["is-managers@example.co.jp"]
    assert mail["Subject"] == "[kpitree] アラート（重大）: 初回対応率の低下"
    raw_subject = smtp_receiver.raw[0].split(b"Subject:", 1)[1].split(b"\n", 1)[0]
    assert raw_subject.isascii() and b"=?utf-8?" in raw_subject.lower()  # RFC 2047
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert "MQL初回対応率" in plain.get_content() and "50.0%" in plain.get_content()
    assert "<table>" in html.get_content()

    # The same day, an hour later: the condition holds, nothing new is sent.
    again = project.alerts_run(now=NOW + dt.timedelta(hours=1))
    assert again.events == [] and again.sent == 0
    assert len(http_receiver.posts) == 2 and len(smtp_receiver.messages) == 2

    # After renotify_hours (24 h), still holding: notified again.
    later = project.alerts_run(now=NOW + dt.timedelta(hours=25))
    assert sorted(e.kind for e in later.events) == ["renotified", "renotified"]
    assert len(http_receiver.posts) == 4

    # The rule's threshold drops to 40%: the condition clears and says so.
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port, threshold=40)
    cleared = project.alerts_run(now=NOW + dt.timedelta(hours=26))
    assert sorted(e.kind for e in cleared.events) == ["resolved", "resolved"]
    resolved_mail = smtp_receiver.messages[-1]
    assert resolved_mail["Subject"].startswith("[kpitree] 解消")
    assert "解消:" in resolved_mail.get_body(("plain",)).get_content()

    history = project.alert_events()
    assert [e.kind for e in history] == ["fired"] * 2 + ["renotified"] * 2 + ["resolved"] * 2
    assert all(e.delivery_state == "sent" for e in history)


def test_dry_run_changes_and_sends_nothing(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port)
    dry = project.alerts_run(now=NOW, dry_run=True)
    assert len(dry.events) == 2 and all(e.id is None for e in dry.events)
    assert http_receiver.posts == [] and smtp_receiver.messages == []
    assert project.alert_events() == []
    assert len(project.alerts_run(now=NOW).events) == 2


def test_quiet_hours_defer_and_do_not_drop(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    extra = "    quiet_hours: {start: '20:00', end: '08:00'}\n"
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port, extra=extra)
    night = dt.datetime(2026, 10, 14, 22, 30, tzinfo=JST)
    run = project.alerts_run(now=night)
    assert len(run.events) == 2 and run.sent == 2  # in-app only
    assert http_receiver.posts == [] and smtp_receiver.messages == []
    waiting = list(run.pending)
    assert len(waiting) == 4
    assert {d.due_at for d in waiting} == {"2026-10-14T23:00:00+00:00"}  # 08:00 JST
    # 07:59: still quiet.
    assert project.alerts_run(now=dt.datetime(2026, 10, 15, 7, 59, tzinfo=JST)).sent == 0
    morning = project.alerts_run(now=dt.datetime(2026, 10, 15, 8, 5, tzinfo=JST))
    assert morning.events == [] and morning.sent == 4 and morning.pending == []
    assert len(http_receiver.posts) == 2 and len(smtp_receiver.messages) == 2


def test_minimum_volume_guard(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    # Each rep has 4 decided cases on 10-14: below a minimum of 5, no alert.
    extra = "    min_volume: 5\n"
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port, extra=extra)
    run = project.alerts_run(now=NOW)
    assert run.events == [] and run.guarded == 2
    extra = "    min_volume: 4\n"
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port, extra=extra)
    assert len(project.alerts_run(now=NOW).events) == 2


def test_named_segment_only(
    tmp_path: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    extra = (
        "  east_only:\n    node: first_touch\n    condition: below_target\n"
        "    threshold: 80\n    by: team\n    segment: 東日本\n    notify: [app]\n"
    )
    project = project_at(tmp_path, http_receiver.port, smtp_receiver.port, extra=extra)
    run = project.alerts_run(now=NOW)
    east = [e for e in run.events if e.rule == "east_only"]
    assert [dict(e.segment) for e in east] == [{"department": "inside_sales", "team": "東日本"}]


def test_receivers_down_then_up_nothing_lost(tmp_path: Path) -> None:
    from .conftest import HttpReceiver, SmtpReceiver, free_port

    http, smtp = HttpReceiver(free_port()), SmtpReceiver(free_port())
    project = project_at(tmp_path, http.port, smtp.port)
    first = project.alerts_run(now=NOW)  # nothing listens on either port
    assert len(first.events) == 2 and first.sent == 2 and first.failed == 4
    assert len(first.pending) == 4
    assert all(d.attempts == 2 and d.last_error for d in first.pending)
    # Visible in the history as failing (pending with an error).
    assert {e.delivery_state for e in project.alert_events()} == {"failing"}
    # A run before the backoff is over does not retry yet.
    soon = project.alerts_run(now=NOW + dt.timedelta(seconds=30))
    assert soon.sent == 0 and soon.failed == 0 and len(soon.pending) == 4
    http.start()
    smtp.start()
    try:
        second = project.alerts_run(now=NOW + dt.timedelta(minutes=10))
        assert second.events == [] and second.sent == 4 and second.pending == []
        assert len(http.posts) == 2 and all(p.verified is not False for p in http.posts)
        assert len(smtp.messages) == 2
    finally:
        http.stop()
        smtp.stop()
    db = sqlite3.connect(tmp_path / ".kpitree" / "app.sqlite")
    rows = db.execute(
        "SELECT status, attempts FROM alert_deliveries WHERE channel_kind != 'in_app'"
    )
    assert sorted(rows) == [("sent", 3)] * 4


def test_a_second_run_waits_for_the_first(tmp_path: Path) -> None:
    from kpitree.alerts.store import run_lock
    from kpitree.errors import UserError

    project = project_at(tmp_path, 9, 9)
    with run_lock(project.path), pytest.raises(UserError) as caught:
        from kpitree.alerts.run import run_alerts

        run_alerts(project, now=NOW, lock_timeout=0.2)
    assert caught.value.diagnostics[0].code == "KT720"
    assert project.alert_events() == []
