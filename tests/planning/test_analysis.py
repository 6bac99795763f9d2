"""Sensitivity, attribution and evaluation, with answers known by hand."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest

from kpitree.definition.formula import parse
from kpitree.definition.tree import Tree
from kpitree.planning.attribution import attribute, shapley
from kpitree.planning.evaluate import UNDEFINED, Dual, evaluate
from kpitree.planning.sensitivity import sensitivity

PRICE_VOLUME = """\
kpitree: 1
name: price x volume
nodes:
  revenue: {kind: kgi, unit: currency, formula: deals * price}
  deals: {unit: count}
  price: {unit: currency}
"""


def test_division_by_zero_is_undefined_not_a_crash() -> None:
    expr = parse("a / (b - c) + 1")
    assert evaluate(expr, {"a": 1.0, "b": 2.0, "c": 2.0}.__getitem__) is UNDEFINED
    assert evaluate(parse("max(a, b) - abs(-c)"), {"a": 1.0, "b": 3.0, "c": 2.0}.get) == 1.0


def test_dual_gives_exact_derivative_of_a_ratio() -> None:
    expr = parse("won / opportunities")
    out = evaluate(expr, {"won": Dual(30.0), "opportunities": Dual(120.0, 1.0)}.__getitem__, Dual)
    assert out.value == pytest.approx(0.25)
    assert out.slope == pytest.approx(-30.0 / 120.0**2)


def test_shapley_price_volume_by_hand(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(PRICE_VOLUME)
    result = attribute(tree, {"deals": 100, "price": 10}, {"deals": 120, "price": 12})
    # Δ = 1440 − 1000 = 440. Deals: ½[(1200−1000) + (1440−1200)] = 220; price likewise.
    assert result.change == 440
    assert result.by_input == {"deals": Fraction(220), "price": Fraction(220)}
    assert result.exact


def test_shapley_of_a_sum_is_each_change() -> None:
    values = shapley(
        lambda v: v["a"] + v["b"] + v["c"],
        ["a", "b", "c"],
        {"a": 1, "b": 2, "c": 3},
        {"a": 4, "b": 2, "c": 0},
    )
    assert values == {"a": 3, "b": 0, "c": -3}


def test_attribution_recurses_down_the_issue_example(example: Tree) -> None:
    base = {"sqls": 4000, "opportunity_rate": 0.2, "win_rate": 0.25, "avg_deal_size": 1_500_000}
    current = {**base, "sqls": 3600, "win_rate": 0.22, "avg_deal_size": 1_600_000}
    result = attribute(example, base, current)
    assert result.exact
    assert float(sum(v for v in result.by_input.values() if v is not None)) == pytest.approx(
        float(result.change or 0)
    )
    assert result.by_input["opportunity_rate"] == 0
    top = {c.node: c.contribution for c in result.tree.children}
    assert set(top) == {"won_deals", "avg_deal_size"}
    ranked = [name for name, _ in result.ranked()]
    assert ranked[0] == "win_rate"  # the largest loss


def test_attribution_with_undefined_values_is_marked_not_exact(
    write_tree: Callable[[str], Tree],
) -> None:
    tree = write_tree(
        "kpitree: 1\nname: x\nnodes:\n  rate: {kind: kgi, unit: ratio, formula: won / opps}\n"
        "  won: {unit: count}\n  opps: {unit: count}\n"
    )
    result = attribute(tree, {"won": 1, "opps": 0}, {"won": 2, "opps": 4})
    assert result.change is None
    assert not result.exact


def test_sensitivity_of_a_product_chain(example: Tree) -> None:
    inputs = {"sqls": 4000, "opportunity_rate": 0.2, "win_rate": 0.25, "avg_deal_size": 1_500_000}
    found = {s.node: s for s in sensitivity(example, inputs)}
    for s in found.values():
        assert s.elasticity == pytest.approx(1.0)
        assert s.effect == pytest.approx(30_000_000)
    assert found["sqls"].derivative == pytest.approx(75_000)


def test_sensitivity_is_ranked_by_effect(tmp_path: object) -> None:
    from pathlib import Path

    from kpitree.project import Project

    folder = Path(str(tmp_path)) / "p"
    Project.init(folder)
    result = Project.load(folder).explain(fiscal_year=2026)
    effects = [abs(s.effect or 0) for s in result.sensitivity]
    assert effects == sorted(effects, reverse=True)
    by_node = {s.node: s for s in result.sensitivity}
    # New business is 200M of 300M: its inputs have elasticity 2/3.
    assert by_node["win_rate"].elasticity == pytest.approx(2 / 3)
    assert by_node["renewal_rate"].elasticity == pytest.approx(0.3)
    assert by_node["win_rate"].effect == pytest.approx(20_000_000)


COHORT_CHAIN = (
    "kpitree: 1\nname: x\nnodes:\n"
    "  won: {kind: kgi, unit: count, formula: opps * win_rate}\n"
    "  opps: {unit: count, formula: mqls * rate}\n"
    "  mqls: {unit: count}\n  rate: {unit: ratio}\n  win_rate: {unit: ratio}\n"
)


def test_a_measured_node_explains_what_its_formula_does_not_by_hand(
    write_tree: Callable[[str], Tree],
) -> None:
    """Opportunities measured (25 → 16) beside MQLs × a cohort rate that
    computes 25 → 10: the rate and MQLs explain the formula's change, the
    reconciliation (0 → 6) the rest, and the node's change is the measured one."""
    tree = write_tree(COHORT_CHAIN)
    base = {"mqls": 100, "rate": 0.25, "win_rate": 0.5}
    current = {"mqls": 80, "rate": 0.125, "win_rate": 0.5}
    result = attribute(
        tree, base, current, root="opps", base_nodes={"opps": 25}, current_nodes={"opps": 16}
    )
    # f = mqls·rate + gap. v(∅)=25, v(m)=20, v(r)=12.5, v(g)=31, v(mr)=10, v(mg)=26,
    # v(rg)=18.5, v(mrg)=16; weights ⅓ (none or both others switched), ⅙ (one).
    # mqls: −5/3 + (−2.5 − 5)/6 − 2.5/3 = −3.75; rate: −12.5/3 + (−10 − 12.5)/6 − 10/3
    # = −11.25; gap: +6 (it adds).
    assert result.change == -9
    assert (result.base, result.current) == (25, 16)
    assert result.by_input == {"mqls": Fraction(-15, 4), "rate": Fraction(-45, 4)}
    assert result.reconciliation == {"opps": 6}
    assert result.tree.reconciliation == 6
    assert result.exact
    # Up the tree: the KGI's change (won = opps × win_rate: 12.5 → 8) is the
    # measured one, split in the same proportions (× ½).
    up = attribute(tree, base, current, base_nodes={"opps": 25}, current_nodes={"opps": 16})
    assert up.change == Fraction(-9, 2)
    assert up.by_input == {"mqls": Fraction(-15, 8), "rate": Fraction(-45, 8), "win_rate": 0}
    assert up.reconciliation == {"opps": 3}
    assert up.exact


def test_a_measured_node_that_reconciles_changes_nothing(
    write_tree: Callable[[str], Tree],
) -> None:
    tree = write_tree(COHORT_CHAIN)
    base = {"mqls": 100, "rate": 0.25, "win_rate": 0.5}
    current = {"mqls": 80, "rate": 0.125, "win_rate": 0.5}
    plain = attribute(tree, base, current)
    measured = attribute(tree, base, current, base_nodes={"opps": 25}, current_nodes={"opps": 10})
    assert measured.by_input == plain.by_input
    assert measured.reconciliation == {"opps": 0}
    assert measured.tree.to_json()["children"][0]["reconciliation"] == 0
