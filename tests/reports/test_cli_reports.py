"""``kpitree report`` and ``kpitree reports`` run in-process, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitree.cli import app
from kpitree.cli.output import run_app
from kpitree.i18n import set_lang

from .conftest import PERIOD

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = run_app(app, list(args))
    finally:
        set_lang(None)
    out, err = capsys.readouterr()
    return code, out, err


def test_report_writes_the_default_file_and_prints_its_path(
    company: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "report", str(company), "--period", PERIOD, "--as-of", "2025-10-15",
        "--format", "md", "--lang", "ja",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.strip() == "kpitree-report-2025-10.md"
    text = (tmp_path / "kpitree-report-2025-10.md").read_text(encoding="utf-8")
    assert text.startswith("# 月次KPIレビュー — 2025年10月")


def test_report_json_summary(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "review.xlsx"
    code, out, _ = run(
        capsys, "report", str(company), "--kind", "weekly", "--as-of", "2025-10-15",
        "--format", "xlsx", "--out", str(out_file), "--lang", "en", "--json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["file"] == str(out_file) and summary["period"] == "2025-W42"
    assert summary["kind"] == "weekly" and summary["bytes"] == out_file.stat().st_size
    assert summary["kgi"]["node"] == "revenue"
    assert summary["narrative"][0].startswith("Revenue is at")


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--period", "2025-Q3"], "KT801", "'2025-Q3'"),
        (["--as-of", "15/10/2025x"], "KT806", "--as-of"),
        (["--period", "2027-01", "--as-of", "2025-10-15"], "KT802", "2027-01"),
    ],
)
def test_report_errors_are_messages_without_traceback(
    company: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: str, text: str
) -> None:
    status, out, err = run(capsys, "report", str(company), *args)
    assert status == 1 and out == ""
    assert "error:" in err and text in err and "Traceback" not in err


def test_unwritable_out_file(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "r.md"
    status, _, err = run(
        capsys, "report", str(company), "--period", PERIOD, "--as-of", "2025-10-15",
        "--format", "md", "--out", str(target),
    )  # fmt: skip
    assert status == 1 and str(target) in err and "Traceback" not in err


def test_reports_send_without_configuration(
    company: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "--lang", "en", "reports", "send", str(company), "--dry-run")
    assert status == 0 and "No reports configured" in out
    status, out, _ = run(capsys, "reports", "list", str(company), "--json")
    assert status == 0 and json.loads(out) == {"reports": {}, "deliveries": []}


def test_reports_send_bad_now(company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "reports", "send", str(company), "--now", "monday")
    assert status == 1 and "--now" in err and "Traceback" not in err
