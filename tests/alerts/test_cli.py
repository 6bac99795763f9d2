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
