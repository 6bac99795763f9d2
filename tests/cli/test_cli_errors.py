"""Bad input: every problem is printed as ``file:line:col: error: message`` (with a
caret under the formula where it helps), the exit code is 1 and there is no
traceback unless ``--debug`` is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Cli


@dataclass(frozen=True)
class BadCase:
    text: str
    where: str  # line:col
    message: str
    caret: str | None = None  # the source line then the caret line, when printed


HEAD = "kpitree: 1\nname: Bad plan\ncurrency: JPY\nnodes:\n"

CASES = {
    "broken-yaml": BadCase(
        "kpitree: 1\nname: Broken: plan\nnodes: {}\n",
        "2:13",
        "YAML syntax error: mapping values are not allowed in this context",
    ),
    "unknown-node": BadCase(
        HEAD
        + "  revenue:\n    kind: kgi\n    unit: currency\n"
        + "    formula: won_deal * avg_deal_size\n    target: 1000\n"
        + "  won_deals: {unit: count, assume: 10}\n"
        + "  avg_deal_size: {unit: currency, assume: 100}\n",
        "8:14",
        "the formula of 'revenue' uses 'won_deal', which is not a node (did you mean 'won_deals'?)",
        "        formula: won_deal * avg_deal_size\n                 ^^^^^^^^",
    ),
    "cycle": BadCase(
        HEAD
        + "  revenue:\n    kind: kgi\n    unit: currency\n"
        + "    formula: won_deals * avg_deal_size\n    target: 1000\n"
        + "  won_deals: {unit: count, formula: opportunities * win_rate}\n"
        + "  opportunities: {unit: count, formula: won_deals / win_rate}\n"
        + "  win_rate: {unit: ratio, assume: 0.25}\n"
        + "  avg_deal_size: {unit: currency, assume: 100}\n",
        "10:37",
        "formulas form a cycle: won_deals → opportunities → won_deals",
    ),
    "unit-mismatch": BadCase(
        HEAD
        + "  revenue:\n    kind: kgi\n    unit: currency\n"
        + "    formula: won_deals + avg_deal_size\n    target: 1000\n"
        + "  won_deals: {unit: count, assume: 10}\n"
        + "  avg_deal_size: {unit: currency, assume: 100}\n",
        "8:14",
        "units do not match in the formula of 'revenue': count + currency",
        "        formula: won_deals + avg_deal_size\n                 ^^^^^^^^^^^^^^^^^^^^^^^^^",
    ),
    "unknown-key": BadCase(
        HEAD
        + "  revenue:\n    kind: kgi\n    unit: currency\n"
        + "    formula: won_deals * avg_deal_size\n    taget: 1000\n"
        + "  won_deals: {unit: count, assume: 10}\n"
        + "  avg_deal_size: {unit: currency, assume: 100}\n",
        "9:5",
        "unknown key 'taget' in nodes.revenue (did you mean 'target'?)",
        "        taget: 1000\n        ^^^^^",
    ),
}

WriteDefinition = Callable[[str], Path]


@pytest.mark.parametrize("command", ["check", "plan", "tree", "explain"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_definition_gives_located_error(
    cli: Cli, write_definition: WriteDefinition, case: str, command: str
) -> None:
    bad = CASES[case]
    file = write_definition(bad.text)
    result = cli(command, file.parent)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    line = f"{file}:{bad.where}: error: {bad.message}"
    assert line in result.err_lines
    if bad.caret is not None:
        assert f"{line}\n{bad.caret}\n" in result.err
    # Errors come once, each on its own located line.
    errors = [x for x in result.err_lines if ": error: " in x]
    assert errors == [line]
    if command == "check" and case != "broken-yaml":
        assert result.err_lines[-1].startswith("check failed: 1 error(s)")


@pytest.mark.parametrize("case", list(CASES))
def test_check_json_reports_bad_definitions(
    cli: Cli, write_definition: WriteDefinition, case: str
) -> None:
    bad = CASES[case]
    file = write_definition(bad.text)
    result = cli("check", file.parent, "--json")
    assert result.code == 1
    report = result.json()
    assert report["ok"] is False
    assert report["errors"] == 1
    (error,) = [d for d in report["diagnostics"] if d["severity"] == "error"]
    line, column = map(int, bad.where.split(":"))
    assert (error["file"], error["line"], error["column"]) == (str(file), line, column)
    assert error["message"] == bad.message


def test_check_collects_every_error_at_once(cli: Cli, write_definition: WriteDefinition) -> None:
    file = write_definition(
        HEAD
        + "  revenue:\n    kind: kgi\n    unit: currency\n"
        + "    formula: won_deals * avg_deal_size\n    taget: 1000\n"
        + "  won_deals: {unit: count, formula: leeds * 2}\n"
        + "  avg_deal_size: {unit: currency, assume: 100}\n"
    )
    result = cli("check", file)
    assert result.code == 1
    errors = [x for x in result.err_lines if ": error: " in x]
    assert [x.split(": error: ")[0].rsplit(":", 2)[1:] for x in errors] == [
        ["9", "5"],
        ["10", "37"],
    ]
    assert "'taget'" in errors[0]
    assert "'leeds'" in errors[1]
    assert result.err_lines[-1].startswith("check failed: 2 error(s)")


def test_errors_in_japanese(cli: Cli, write_definition: WriteDefinition) -> None:
    file = write_definition(CASES["unit-mismatch"].text)
    result = cli("check", file, lang="ja")
    assert result.code == 1
    assert f"{file}:8:14: エラー: 'revenue' の計算式で単位が合いません: count + currency" in (
        result.err_lines
    )
    assert ": 警告: " in result.err
    assert ": error: " not in result.err
    via_option = cli("--lang", "ja", "check", file, lang="en")
    assert via_option.err == result.err


def test_missing_project_is_a_clean_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("plan", tmp_path / "nowhere")
    assert result.code == 1
    assert "error" in result.err
    assert "Traceback" not in result.err


# --- a real process: entry point, exit code, --debug --------------------------


def test_process_reports_located_error_without_traceback(
    kpitree_process: Cli, write_definition: WriteDefinition
) -> None:
    bad = CASES["unit-mismatch"]
    file = write_definition(bad.text)
    for command in ("check", "plan"):
        result = kpitree_process(command, file.parent)
        assert result.code == 1, result.err
        assert "Traceback" not in result.err
        assert f"{file}:{bad.where}: error: {bad.message}\n{bad.caret}\n" in result.err


def test_debug_shows_the_traceback(kpitree_process: Cli, write_definition: WriteDefinition) -> None:
    file = write_definition(CASES["unit-mismatch"].text)
    result = kpitree_process("--debug", "plan", file.parent)
    assert result.code == 1
    assert "Traceback (most recent call last):" in result.err
    assert "DefinitionError: units do not match in the formula of 'revenue'" in result.err


def test_process_usage_error(kpitree_process: Cli, tmp_path: Path) -> None:
    result = kpitree_process("--lang", "xx", "check", tmp_path)
    assert result.code == 2
    assert "Usage: kpitree [OPTIONS] COMMAND [ARGS]..." in result.err
    assert "unsupported language 'xx'" in result.err
    assert "Traceback" not in result.err


UNDER_DETERMINED = """\
kpitree: 1
name: Under-determined
period: month
nodes:
  revenue: {kind: kgi, unit: currency, formula: deals * price, target: 1000}
  deals: {unit: count, owner: field_sales, indicator: leading}
  price: {unit: currency, owner: field_sales}
"""


def test_plan_that_cannot_be_solved_fails_naming_the_nodes(
    cli: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(UNDER_DETERMINED)
    located = f"{file}:5:3: error: cannot plan 'revenue'"

    text = cli("plan", file, "-y", "2026")
    assert text.code == 1
    (line,) = [x for x in text.err_lines if x.startswith(located)]
    assert "deals, price" in line

    as_json = cli("plan", file, "-y", "2026", "--json")
    assert as_json.code == 1
    (error,) = [d for d in as_json.json()["diagnostics"] if d["severity"] == "error"]
    assert (error["line"], error["column"]) == (5, 3)
    assert "deals, price" in error["message"]

    explained = cli("explain", file, "-y", "2026")
    assert explained.code == 1
    assert any(x.startswith(located) for x in explained.err_lines)
    assert "Traceback" not in explained.err

    # The design is unfinished, not wrong: check only warns.
    checked = cli("check", file)
    assert checked.code == 0
    assert f"{file}:5:3: warning: cannot plan 'revenue'" in checked.err
