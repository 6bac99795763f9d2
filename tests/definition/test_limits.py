"""Deep or huge definitions: a located error at a documented limit, or a
correct answer, never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree.definition.formula import MAX_DEPTH, MAX_OPERATORS, FormulaSyntaxError, parse
from kpitree.definition.graph import MAX_TREE_DEPTH
from kpitree.errors import UserError
from kpitree.source import MAX_ALIAS_NODES, parse_yaml

from .conftest import CLEAN, Check, only, where


def _with_formula(formula: str) -> str:
    return CLEAN + f"  extra: {{unit: count, owner: marketing, formula: '{formula}'}}\n"


def test_a_formula_nested_past_the_limit_is_located(check: Check, tmp_path: Path) -> None:
    deep = "(" * 5000 + "leads" + ")" * 5000
    diag = only(check(_with_formula(deep)), "KT040")
    assert diag.message("en").startswith(
        f"the formula of 'extra' nests too deeply: parentheses, functions and signs nest "
        f"at most {MAX_DEPTH} levels"
    )
    # The caret is under the first parenthesis past the limit.
    assert where(diag, tmp_path) == f"kpitree.yaml:13:{52 + MAX_DEPTH}"


def test_a_formula_with_too_many_operators_is_located(check: Check, tmp_path: Path) -> None:
    diag = only(check(_with_formula(" + ".join(["leads"] * 10_000))), "KT040")
    assert diag.message("en").startswith(
        f"the formula of 'extra' is too long: a formula has at most {MAX_OPERATORS} operators"
    )
    assert where(diag, tmp_path) == f"kpitree.yaml:13:{52 + 8 * MAX_OPERATORS + 6}"


def test_signs_and_functions_count_as_nesting() -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        parse("-" * (MAX_DEPTH + 1) + "a")
    assert (caught.value.code, caught.value.key) == ("KT040", "formula.too_deep")
    with pytest.raises(FormulaSyntaxError) as caught:
        parse("abs(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert caught.value.key == "formula.too_deep"


def test_formulas_at_the_limits_are_read() -> None:
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    parse(" + ".join(["a"] * (MAX_OPERATORS + 1)))


def _chain(levels: int) -> str:
    """A KGI over a chain of ``levels`` formula levels (inputs included)."""
    lines = ["kpitree: 1", "name: chain", "period: month", "nodes:"]
    lines.append("  n0: {kind: kgi, unit: count, formula: n1 + 1}")
    for i in range(1, levels - 1):
        lines.append(f"  n{i}: {{unit: count, owner: marketing, formula: n{i + 1} + 1}}")
    lines.append(f"  n{levels - 1}: {{unit: count, owner: marketing, target: 5}}")
    return "\n".join(lines) + "\n"


def test_a_tree_at_the_depth_limit_plans(check: Check) -> None:
    result = check(_chain(MAX_TREE_DEPTH))
    assert result.tree is not None
    from kpitree.planning.plan import make_plan

    assert make_plan(result.tree).nodes["n0"].value == 5 + MAX_TREE_DEPTH - 1


def test_a_ten_thousand_node_chain_is_refused_where_it_crosses_the_limit(
    check: Check, tmp_path: Path
) -> None:
    result = check(_chain(10_000))
    diag = only(result, "KT041")
    # n9949 is the first node (from the inputs up) with 51 levels below and including it.
    node = f"n{10_000 - MAX_TREE_DEPTH - 1}"
    assert diag.message("en") == (
        f"the formulas below '{node}' chain more than {MAX_TREE_DEPTH} levels down to an "
        f"input; a tree has at most {MAX_TREE_DEPTH} levels: merge steps of the chain into "
        "fewer nodes"
    )
    assert where(diag, tmp_path).startswith(f"kpitree.yaml:{10_000 - MAX_TREE_DEPTH - 1 + 5}:")


def test_a_billion_laughs_definition_is_refused_at_the_alias(check: Check, tmp_path: Path) -> None:
    lines = ["kpitree: 1", "name: laughs", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    with pytest.raises(UserError) as caught:
        check("\n".join(lines) + "\n")
    (diag,) = caught.value.diagnostics
    assert diag.code == "KT042"
    assert diag.message("en") == (
        f"aliases (*name) here would expand to more than {MAX_ALIAS_NODES} values; use fewer "
        "nested anchors and aliases, or write the values out"
    )
    # The alias that crosses the budget: the 8th *d (11,111 values each) on line 7.
    assert where(diag, tmp_path) == "kpitree.yaml:7:36"


def test_aliases_and_merge_keys_within_the_budget_still_work() -> None:
    doc = parse_yaml("base: &b {unit: count, owner: marketing}\nx: {<<: *b, kind: kgi}\ny: *b\n")
    assert doc.data["x"] == {"kind": "kgi", "unit": "count", "owner": "marketing"}
    assert doc.data["y"] == {"unit": "count", "owner": "marketing"}


def test_yaml_nested_past_the_limit_is_located() -> None:
    with pytest.raises(UserError) as caught:
        parse_yaml("nodes: " + "[" * 100_000 + "]" * 100_000, "deep.yaml")
    (diag,) = caught.value.diagnostics
    assert (diag.code, diag.key, str(diag.span)) == ("KT042", "yaml.too_deep", "deep.yaml:1:107")


def test_an_alias_counts_the_depth_of_what_it_stands_for() -> None:
    anchored = "a: &a " + "[" * 60 + "]" * 60
    parse_yaml(anchored)
    with pytest.raises(UserError) as caught:
        parse_yaml(anchored + "\nb: " + "[" * 60 + "*a" + "]" * 60)
    assert caught.value.diagnostics[0].key == "yaml.too_deep"
