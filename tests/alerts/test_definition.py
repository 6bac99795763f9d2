"""Alert, channel and SLA definitions: located errors with a fix, through
``kpitree check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree import Project
from kpitree.cli import main

from .company import DEFINITION

BAD = """\
notifications:
  channels:
    is-slack: {type: slack}
    mail: {type: email, host: smtp.example.co.jp, from: kpitree, to: [is@example.co.jp]}
    hook: {type: webhook, url: "https://hooks.example.co.jp/x"}
  owners: {inside_sales: [is-slak]}
  quiet_hours: {start: "25:00", end: "08:00"}
alerts:
  a1: {node: mql, condition: below_pace, threshold: 80, by: reps, notify: [mial]}
  a2: {node: mqls, condition: below_target, threshold: -5, segment: 東日本}
  a3: {node: mqls, condition: below_target, by: team, segment: 東日本部}
  a4: {condition: sla_breaches, sla: mql_first_tuch}
  a5: {node: mqls, condition: change}
  a6: {node: mqls, condition: no_data, by: rep}
  a7: {node: mqls, condition: sla_breaches}
"""
BAD_SLA = """\
sla:
  s1:
    from: mqll
    within_hours: 8
    business_hours: {mon: "09:00-18:00", tue: "18:00-09:00", fri_day: "09:00-18:00"}
    closed_days: [2026-13-01]
    timezone: Asia/Tokio
    holidays: XX
"""


def check(tmp_path: Path, text: str) -> list[tuple[str, int, str]]:
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    result = Project.check(tmp_path)
    return [(d.code, d.span.line if d.span else 0, d.message("en")) for d in result.errors]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_every_problem_is_located_with_a_fix(tmp_path: Path) -> None:
    text = DEFINITION.replace("sla:\n", BAD_SLA) + BAD
    found = check(tmp_path, text)
    codes = {(code, line) for code, line, _ in found}
    messages = " | ".join(m for _, _, m in found)
    expected = {
        ("KT706", line_of(text, "is-slack: {type: slack}")),  # no URL
        ("KT707", line_of(text, "from: kpitree,")),  # sender without @
        ("KT706", line_of(text, "hook: {type: webhook")),  # no secret_env
        ("KT703", line_of(text, "owners: {inside_sales")),  # is-slak
        ("KT708", line_of(text, "quiet_hours: {start")),
        ("KT700", line_of(text, "a1: {node: mql,")),
        ("KT704", line_of(text, "a1: {node: mql,")),
        ("KT703", line_of(text, "a1: {node: mql,")),
        ("KT702", line_of(text, "a2:")),
        ("KT705", line_of(text, "a2:")),
        ("KT705", line_of(text, "a3:")),
        ("KT750", line_of(text, "a4:")),
        ("KT701", line_of(text, "a5:")),
        ("KT704", line_of(text, "a6:")),
        ("KT701", line_of(text, "a7:")),
        ("KT751", line_of(text, "from: mqll")),
        ("KT752", line_of(text, "business_hours:")),
        ("KT753", line_of(text, "closed_days:")),
        ("KT754", line_of(text, "timezone: Asia/Tokio")),
        ("KT755", line_of(text, "holidays: XX")),
    }
    assert expected <= codes, sorted(expected - codes)
    for hint in ("'mqls'", "'is-slack'", "'mail'", "'rep'", "'東日本'", "'mql_first_touch'"):
        assert f"did you mean {hint}" in messages, hint


def test_check_cli_prints_file_line_col(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_LANG", "ja")
    text = DEFINITION + "alerts:\n  a1: {node: mql, condition: below_pace}\n"
    (tmp_path / "kpitree.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(tmp_path)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    line = line_of(text, "a1: {node: mql")
    assert f"kpitree.yaml:{line}:" in err
    assert "アラート 'a1' が監視する 'mql' はノードではありません" in err
    assert "Traceback" not in err


def test_unknown_keys_and_sla_metric_errors_are_located(tmp_path: Path) -> None:
    text = (
        DEFINITION.replace(
            "  first_touch_p95: {type: sla_response_p95, sla: mql_first_touch}",
            "  first_touch_p95: {type: sla_response_p95, sla: mql_first}",
        )
        + "alerts:\n  a1: {node: mqls, condition: below_pace, treshold: 80}\n"
    )
    found = check(tmp_path, text)
    assert (
        "KT010",
        line_of(text, "treshold"),
    ) == found[0][:2] or any(
        c == "KT010" and line == line_of(text, "treshold") for c, line, _ in found
    )
    # The metric's SLA is checked with the metrics (kpitree check shows both).
    (tmp_path / "kpitree.yaml").write_text(text.replace("treshold", "threshold"), "utf-8")
    result = Project.check(tmp_path)
    metric_errors = [d for d in result.errors if d.code == "KT750"]
    assert metric_errors and metric_errors[0].span is not None
    assert metric_errors[0].span.line == line_of(text, "sla: mql_first}")


def test_a_valid_definition_has_no_alert_errors(tmp_path: Path) -> None:
    good = (
        DEFINITION
        + """\
notifications:
  base_url: https://kpi.example.co.jp
  channels:
    is-slack: {type: slack, url_env: SLACK_URL}
    mail: {type: email, host: smtp.example.co.jp, from: kpitree@example.co.jp,
           to: [a@example.co.jp]}
  owners: {inside_sales: [is-slack]}
alerts:
  pace: {node: mqls, condition: below_pace, threshold: 90, by: team, segment: 東日本,
         notify: [owner, mail], quiet_hours: {start: "20:00", end: "08:00", weekends: true}}
  breaches: {condition: sla_breaches, sla: mql_first_touch, threshold: 2, by: rep}
  idle: {node: mqls, condition: no_data, days: 3}
"""
    )
    assert check(tmp_path, good) == []
