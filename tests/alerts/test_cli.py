"""``kpitree alerts run|list|history`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitree.cli import main

from .conftest import HttpReceiver, SmtpReceiver
from .test_run import project_at


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_list_history_json(
    tmp_path: Path,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project_at(tmp_path, http_receiver.port, smtp_receiver.port)
    folder = str(tmp_path)
    code, out, err = run_cli(capsys, "alerts", "run", folder, "--dry-run",
                             "--now", "2026-10-14T12:00", "--json")  # fmt: skip
    assert code == 0, err
    dry = json.loads(out)
    assert dry["dry_run"] is True and len(dry["events"]) == 2
    assert http_receiver.posts == []

    # Without an offset, --now is in the project's zone (Asia/Tokyo).
    code, out, err = run_cli(capsys, "alerts", "run", folder, "--now", "2026-10-14T12:00",
                             "--json")  # fmt: skip
    assert code == 0, err
    ran = json.loads(out)
    assert ran["now"] == "2026-10-14T03:00:00+00:00"
    assert ran["sent"] == 6 and [e["kind"] for e in ran["events"]] == ["fired", "fired"]
    assert all(e["delivery_state"] == "sent" for e in ran["events"])

    code, out, _ = run_cli(capsys, "alerts", "list", folder, "--json")
    open_alerts = json.loads(out)
    assert sorted(a["segment"]["rep"] for a in open_alerts) == ["r1", "r2"]

    code, out, _ = run_cli(capsys, "alerts", "history", folder, "--since", "2026-10-14",
                           "--json")  # fmt: skip
    assert len(json.loads(out)) == 2
    code, out, _ = run_cli(capsys, "alerts", "history", folder, "--until", "2026-10-14T11:00",
                           "--json")  # fmt: skip
    assert json.loads(out) == []

    code, out, _ = run_cli(capsys, "--lang", "ja", "alerts", "history", folder)
    assert code == 0 and "アラート" in out and "イベント 2 件" in out


def test_bad_now_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project_at(tmp_path, 9, 9)
    code, _, err = run_cli(capsys, "alerts", "run", str(tmp_path), "--now", "yesterday")
    assert code == 1 and "--now" in err and "Traceback" not in err


def test_failed_deliveries_show_their_error_and_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import HttpReceiver, SmtpReceiver, free_port

    # Both receivers down, and the webhook's secret variable unset (KT723).
    http, smtp = HttpReceiver(free_port()), SmtpReceiver(free_port())
    project_at(tmp_path, http.port, smtp.port)
    monkeypatch.delenv("KT_TEST_HOOK_SECRET")
    folder = str(tmp_path)
    code, out, err = run_cli(capsys, "--lang", "en", "alerts", "run", folder,
                             "--now", "2026-10-14T12:00")  # fmt: skip
    assert code == 1
    assert "failing" in out and "pending" not in out.split("delivered")[0]
    lines = [line for line in err.splitlines() if line.startswith("error: alert")]
    assert len(lines) == 4  # r1: Slack and mail, r2: the webhook and mail; in-app delivered
    hook = next(line for line in lines if "'hook'" in line)
    assert hook.startswith(
        "error: alert 'first_touch_low' was not delivered to 'hook' after 1 attempt(s); "
        "next attempt at "
    )
    assert "KT_TEST_HOOK_SECRET" in hook
    mail = next(line for line in lines if "'mail'" in line)
    assert "after 2 attempt(s)" in mail and "Connection refused" in mail
    for command in ("list", "history"):
        code, out, err = run_cli(capsys, "--lang", "en", "alerts", command, folder)
        assert code == 0 and "failing" in out
        assert sum(line.startswith("error: alert") for line in err.splitlines()) == 4

    # A run before the backoff is over retries nothing but still shows what is failing
    # and exits 0 (nothing failed in this run).
    code, out, err = run_cli(capsys, "--lang", "en", "alerts", "run", folder,
                             "--now", "2026-10-14T12:00:30")  # fmt: skip
    assert code == 0 and sum(line.startswith("error: alert") for line in err.splitlines()) == 4

    monkeypatch.setenv("KT_TEST_HOOK_SECRET", "テスト用の秘密-hook-secret")
    http.start()
    smtp.start()
    try:
        code, out, err = run_cli(capsys, "--lang", "en", "alerts", "run", folder,
                                 "--now", "2026-10-14T12:30")  # fmt: skip
    finally:
        http.stop()
        smtp.stop()
    assert code == 0, err
    assert "error: alert" not in err and "4 delivered, 0 failed" in out
    code, out, err = run_cli(capsys, "--lang", "en", "alerts", "history", folder, "--json")
    assert {e["delivery_state"] for e in json.loads(out)} == {"sent"}


def test_a_receivers_answer_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from kpitree.alerts import Delivery
    from kpitree.cli.commands_alerts import _print_failures

    hostile = "hook: HTTP 500 \x1b]0;owned\x07\x1b[2Jgone\rX"
    delivery = Delivery(1, "hook", "webhook", "pending", 2, last_error=hostile)
    _print_failures([("rule", delivery)])
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\r" not in err
    assert "HTTP 500 \ufffd]0;owned\ufffd\ufffd[2Jgone\ufffdX" in err
