"""Deep, huge or overflowing definitions through the real command: a located
error or a correct answer, never an internal error or a crashed process."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from kpitree.errors import UserError
from kpitree.i18n.numbers import format_value
from kpitree.project import Project

from .conftest import Cli

WriteDefinition = Callable[[str], Path]
HEAD = "kpitree: 1\nname: Limits\nperiod: month\nnodes:\n"


@pytest.mark.parametrize("command", ["check", "plan"])
@pytest.mark.parametrize(
    "formula",
    ["(" * 5000 + "x" + ")" * 5000, " + ".join(["x"] * 10_000)],
    ids=["nested-5000", "sum-10000"],
)
def test_deep_and_long_formulas_are_located_errors(
    kpitree_process: Cli, write_definition: WriteDefinition, command: str, formula: str
) -> None:
    file = write_definition(
        HEAD
        + f"  r: {{kind: kgi, unit: count, formula: '{formula}'}}\n"
        + "  x: {unit: count, owner: marketing, target: 5}\n"
    )
    result = kpitree_process(command, file)
    assert result.code == 1
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert f"{file}:5:" in result.err and ": error: the formula of 'r' " in result.err


def test_yaml_nested_a_hundred_thousand_levels_does_not_crash_the_process(
    kpitree_process: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(HEAD.replace("nodes:\n", "nodes: ") + "[" * 100_000 + "]" * 100_000)
    result = kpitree_process("check", file)
    assert result.code == 1, result.err
    assert result.err.startswith(f"{file}:4:107: error: mappings and lists nest more than 100")


def test_an_overflowing_plan_is_a_located_error_not_a_crash(
    cli: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(
        HEAD
        + "  r: {kind: kgi, unit: count, formula: x * y}\n"
        + "  x: {unit: count, owner: marketing, target: 1e308}\n"
        + "  y: {unit: number, owner: marketing, assume: 10}\n"
    )
    result = cli("plan", file)
    assert result.code == 1
    assert "internal error" not in result.err
    assert f"{file}:5:3: error: 'r' is too large to compute from the formula of 'r' (FY)" in (
        result.err
    )
    assert "100,000,000,000,000,001,097,906,362,944" in result.out  # x is shown as given


def test_non_finite_values_are_shown_not_crashed_on() -> None:
    assert format_value(math.inf, "count") == "∞"
    assert format_value(-math.inf, "currency", "JPY") == "-∞"
    assert format_value(math.inf, "ratio") == "∞"


def test_a_target_beyond_a_float_is_refused_where_it_is_written(
    cli: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(HEAD + "  r: {kind: kgi, unit: count, target: 1e400}\n")
    result = cli("check", file)
    assert result.code == 1
    assert result.err.startswith(
        f"{file}:5:39: error: target must be a finite number, got 'inf'; .inf, .nan and "
        "numbers beyond 1.8e308 cannot be used"
    )


def test_set_refuses_non_finite_numbers(cli: Cli, write_definition: WriteDefinition) -> None:
    file = write_definition(HEAD + "  r: {kind: kgi, unit: count, target: 5}\n")
    for bad in ("r=inf", "r=nan", "r=1e400"):
        result = cli("plan", file, "--set", bad)
        assert result.code == 1 and "KT309" not in result.err  # code shown only in --json
        assert f"'{bad}'" in result.err and "internal error" not in result.err


def test_a_division_by_zero_conflict_is_said_in_words(
    cli: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(
        HEAD
        + "  r: {kind: kgi, unit: number, formula: x / y, target: 5}\n"
        + "  x: {unit: number, owner: marketing, target: 5}\n"
        + "  y: {unit: number, owner: marketing, target: 0}\n"
    )
    result = cli("plan", file)
    assert result.code == 1
    assert "nan" not in result.err
    assert (
        "conflicting targets (FY): 'r' is 5, but x / y cannot be computed from x (target), "
        "y (target): it divides by zero (a rate or divisor is 0)"
    ) in result.err


def test_a_values_file_nested_too_deeply_is_a_located_error(
    write_definition: WriteDefinition, tmp_path: Path
) -> None:
    file = write_definition(HEAD + "  r: {kind: kgi, unit: count, target: 5}\n")
    values = tmp_path / "values.json"
    values.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    infinite = tmp_path / "infinite.json"
    infinite.write_text(json.dumps({"r": math.inf}), encoding="utf-8")
    project = Project.load(file)
    with pytest.raises(UserError) as caught:
        project.values(str(values))
    (diag,) = caught.value.diagnostics
    assert (diag.code, str(diag.span)) == ("KT001", f"{values}:1:1")
    assert diag.message("en").startswith(f"{values} nests too deeply to be read")
    with pytest.raises(UserError) as caught:
        project.values(str(infinite))
    assert "r must be a number, got 'inf'" in str(caught.value)


@pytest.mark.slow
def test_ten_thousand_nodes_plan_in_seconds(tmp_path: Path) -> None:
    # 200 chains of 49 levels under one KGI: the solver once passed over every
    # equation for each level (49 x 10,000 looks per solve, 13 solves), finding
    # each formula's inputs again every time: 26 s of CPU then, 2 s now.
    lines = [HEAD.rstrip("\n")]
    lines.append(
        "  top: {kind: kgi, unit: count, formula: '"
        + " + ".join(f"c{i}_0" for i in range(200))
        + "'}"
    )
    for i in range(200):
        lines += [f"  c{i}_{j}: {{unit: count, formula: c{i}_{j + 1} + 1}}" for j in range(48)]
        lines.append(f"  c{i}_48: {{unit: count, target: 5}}")
    (tmp_path / "kpitree.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    project = Project.load(tmp_path)
    import time

    started = time.process_time()
    plan = project.plan()
    assert time.process_time() - started < 8
    assert plan.nodes["top"].value == 200 * (5 + 48)


def test_report_pace_points_survive_non_finite_pace() -> None:
    from kpitree.reports.narrative import signed_points

    assert signed_points(0.95) == "-5pt"
    assert signed_points(math.inf) == "—" and signed_points(math.nan) == "—"


def test_the_plan_page_refuses_non_finite_values() -> None:
    from kpitree.web.views.plan import parse_sets

    with pytest.raises(UserError) as caught:
        parse_sets(["revenue=inf", "win_rate=nan%", "deals=1e400"])
    assert [d.code for d in caught.value.diagnostics] == ["KT692"] * 3


def _metric_chain(length: int, *, cycle: bool = False) -> str:
    lines = [HEAD.rstrip("\n"), "  r: {kind: kgi, unit: count, metric: m0, target: 5}", "metrics:"]
    lines += [f"  m{i}: {{type: derived, expr: 'm{i + 1} * 1'}}" for i in range(length)]
    last = "m0" if cycle else "won_deals"
    lines.append(f"  m{length}: {{type: derived, expr: '{last} * 1'}}")
    return "\n".join(lines) + "\n"


def test_a_long_chain_of_custom_metrics_is_a_located_error(
    cli: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(_metric_chain(1500))
    result = cli("check", file)
    assert result.code == 1 and "internal error" not in result.err
    assert (
        f"{file}:1458:3: error: metric 'm1451' is computed through a chain of more than 50 "
        "metrics; define it from fewer intermediate metrics"
    ) in result.err
    file = write_definition(_metric_chain(1500, cycle=True))
    result = cli("check", file)
    assert result.code == 1 and "internal error" not in result.err
    assert f"{file}:7:3: error: metric 'm0' is defined in terms of itself: m0 -> m1 -> " in (
        result.err
    )


def test_a_chain_of_custom_metrics_within_the_limit_is_measured(
    cli: Cli, write_definition: WriteDefinition
) -> None:
    file = write_definition(_metric_chain(20))
    assert cli("check", file).code == 0
