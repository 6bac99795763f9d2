from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from kpitree.calendar import business_days, fiscal_months
from kpitree.definition.tree import Tree
from kpitree.planning.plan import allocation_weights, make_plan

from .conftest import ISSUE_EXAMPLE


def test_issue_example_plans_4000_sqls_and_200_won_deals(example: Tree) -> None:
    plan = make_plan(example, fiscal_year=2026)
    assert plan.ok, plan.diagnostics
    assert plan.nodes["sqls"].value == pytest.approx(4000)
    assert plan.nodes["won_deals"].value == pytest.approx(200)
    assert plan.nodes["opportunities"].value == pytest.approx(800)
    assert plan.nodes["sqls"].source == "solved"
    assert plan.nodes["win_rate"].source == "assumption"
    assert plan.nodes["revenue"].source == "target"
    # Even allocation: counts and currency split, ratios and averages do not.
    assert plan.periods == fiscal_months(2026, 4)
    assert plan.nodes["sqls"].per_period["2026-04"] == pytest.approx(4000 / 12)
    assert plan.nodes["revenue"].per_period["2027-03"] == pytest.approx(25_000_000)
    assert plan.nodes["win_rate"].per_period["2026-09"] == pytest.approx(0.25)
    assert plan.nodes["avg_deal_size"].per_period["2026-09"] == pytest.approx(1_500_000)


def test_json_shape(example: Tree) -> None:
    payload = make_plan(example, fiscal_year=2026).to_json()
    node = payload["nodes"]["sqls"]
    assert node["value"] == pytest.approx(4000)
    assert set(node["per_period"]) == set(fiscal_months(2026, 4))


FUNNEL = """\
kpitree: 1
name: opportunities from leads
nodes:
  opportunities:
    kind: kgi
    unit: count
    formula: leads * lead_to_opportunity_rate
    target: {target}
  leads: {{unit: count}}
  lead_to_opportunity_rate: {{unit: ratio, assume: 0.2}}
"""


@pytest.mark.parametrize("target", ["408", "{monthly: 34}"])
def test_34_opportunities_a_month_need_170_leads(
    write_tree: Callable[[str], Tree], target: str
) -> None:
    tree = write_tree(FUNNEL.format(target=target))
    plan = make_plan(tree, fiscal_year=2026)
    assert plan.nodes["leads"].value == pytest.approx(2040)
    for month in plan.periods:
        assert plan.nodes["leads"].per_period[month] == pytest.approx(170)
        assert plan.nodes["opportunities"].per_period[month] == pytest.approx(34)


def test_per_period_targets_solve_each_month(write_tree: Callable[[str], Tree]) -> None:
    months = fiscal_months(2026, 4)
    targets = ", ".join(f"'{m}': {10 * (i + 1)}" for i, m in enumerate(months))
    tree = write_tree(FUNNEL.format(target="{" + targets + "}"))
    plan = make_plan(tree, fiscal_year=2026)
    assert plan.ok
    for i, month in enumerate(months):
        assert plan.nodes["leads"].per_period[month] == pytest.approx(10 * (i + 1) / 0.2)
    assert plan.nodes["opportunities"].value == pytest.approx(sum(10 * (i + 1) for i in range(12)))


def test_business_day_allocation_follows_japanese_calendar(
    write_tree: Callable[[str], Tree],
) -> None:
    tree = write_tree(
        ISSUE_EXAMPLE.replace("currency: JPY", "currency: JPY\nplan: {allocation: business_days}")
    )
    weights = allocation_weights(tree, 2026)
    days = {m: business_days(int(m[:4]), int(m[5:])) for m in fiscal_months(2026, 4)}
    total = sum(days.values())
    # Counted by hand from the 2026 calendar: April has 22 weekdays minus Showa Day
    # (4/29, Wed); May has 21 weekdays minus 5/4, 5/5 and the substitute 5/6.
    assert days["2026-04"] == 22 - 1
    assert days["2026-05"] == 21 - 3
    for month, share in weights.items():
        assert share == pytest.approx(days[month] / total)
    plan = make_plan(tree, fiscal_year=2026)
    monthly = plan.nodes["sqls"].per_period
    assert sum(v for v in monthly.values() if v is not None) == pytest.approx(4000)
    assert monthly["2026-05"] == pytest.approx(4000 * 18 / total)


def test_weights_allocation_is_normalised(write_tree: Callable[[str], Tree]) -> None:
    weights = ", ".join(f"{m}: {2 if m == 3 else 1}" for m in range(1, 13))
    tree = write_tree(
        ISSUE_EXAMPLE.replace(
            "currency: JPY",
            "currency: JPY\nplan: {allocation: weights, weights: {" + weights + "}}",
        )
    )
    plan = make_plan(tree, fiscal_year=2026)
    assert plan.nodes["revenue"].per_period["2027-03"] == pytest.approx(300_000_000 * 2 / 13)
    assert plan.nodes["revenue"].per_period["2026-04"] == pytest.approx(300_000_000 / 13)


def test_underdetermined_names_the_nodes(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(ISSUE_EXAMPLE.replace(", assume: 1500000", ""))
    plan = make_plan(tree, fiscal_year=2026)
    assert not plan.ok
    diag = next(d for d in plan.diagnostics if d.code == "KT201")
    assert diag.message("en") == (
        "cannot plan 'revenue' (FY): won_deals, avg_deal_size are all unknown; "
        "give one of them a target or an assumption"
    )
    assert diag.span is not None and diag.span.line == 6


def test_conflicting_targets_are_reported(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(
        ISSUE_EXAMPLE.replace(
            "    formula: opportunities * win_rate",
            "    formula: opportunities * win_rate\n    target: 150",
        )
    )
    plan = make_plan(tree, fiscal_year=2026)
    diag = next(d for d in plan.diagnostics if d.code == "KT202")
    assert diag.message("en") == (
        "conflicting targets (FY): 'revenue' is 300,000,000, but won_deals * avg_deal_size "
        "gives 225,000,000 from won_deals (target), avg_deal_size (assumption)"
    )


def test_zero_rate_cannot_be_inverted(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(ISSUE_EXAMPLE.replace("assume: 0.2}", "assume: 0}"))
    plan = make_plan(tree, fiscal_year=2026)
    codes = {d.code for d in plan.diagnostics}
    assert "KT203" in codes
    assert plan.nodes["sqls"].value is None
    assert plan.nodes["opportunities"].value == pytest.approx(800)


def test_overrides_and_scenarios(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(ISSUE_EXAMPLE + "scenarios:\n  stretch: {set: {revenue: 360000000}}\n")
    assert make_plan(tree, fiscal_year=2026, scenario="stretch").nodes["sqls"].value == (
        pytest.approx(4800)
    )
    lower = make_plan(tree, fiscal_year=2026, overrides={"win_rate": 0.2})
    assert lower.nodes["sqls"].value == pytest.approx(5000)
    assert lower.nodes["win_rate"].source == "set"


def test_cascade_splits_counts_and_copies_rates(write_tree: Callable[[str], Tree]) -> None:
    org = """
organisation:
  field_sales:
    teams:
      east: {share: 0.6, reps: {佐藤: 0.5, 鈴木: 0.5}}
      west: {share: 0.4}
"""
    plan = make_plan(write_tree(ISSUE_EXAMPLE + org), fiscal_year=2026)
    won = plan.nodes["won_deals"].segments
    assert won["field_sales/east"].value == pytest.approx(120)
    assert won["field_sales/west"].value == pytest.approx(80)
    assert won["field_sales/east/佐藤"].value == pytest.approx(60)
    assert won["field_sales/east"].per_period["2026-04"] == pytest.approx(10)
    rate = plan.nodes["win_rate"].segments
    assert rate["field_sales/west"].value == pytest.approx(0.25)
    assert "inside_sales/east" not in plan.nodes["sqls"].segments


def test_template_months_add_up_to_the_year(tmp_path: object) -> None:
    from pathlib import Path

    from kpitree.project import Project

    folder = Path(str(tmp_path)) / "p"
    Project.init(folder)
    project = Project.load(folder)
    plan = project.plan(fiscal_year=2026)
    assert plan.ok
    for node_id, node_plan in plan.nodes.items():
        node = project.tree.nodes[node_id]
        months = [v for v in node_plan.per_period.values() if v is not None]
        assert len(months) == 12
        if node.is_additive:
            assert math.isclose(sum(months), node_plan.value or 0, rel_tol=1e-9), node_id
        else:
            assert all(math.isclose(v, node_plan.value or 0, rel_tol=1e-9) for v in months)
    assert plan.nodes["leads"].value == pytest.approx(10_000)
    assert plan.nodes["won_deals"].value == pytest.approx(125)


def test_a_zero_divisor_is_reported_without_its_consequences(
    write_tree: Callable[[str], Tree],
) -> None:
    """n1 = 1 / n2 must be 0 here, so n2 cannot be solved (KT203); the equation
    below it then has two unknowns, which is not a second design problem."""
    tree = write_tree(
        "kpitree: 1\nname: zero\nnodes:\n"
        "  kgi: {kind: kgi, formula: n1 + k0, target: 10.0}\n"
        "  k0: {assume: 10.0}\n"
        "  n1: {kind: kpi, formula: k1 / n2}\n"
        "  k1: {assume: 1.0}\n"
        "  n2: {kind: kpi, formula: k2 - n3}\n"
        "  k2: {assume: 1.0}\n"
        "  n3: {}\n"
    )
    plan = make_plan(tree, fiscal_year=2026)
    assert [(d.code, d.params["node"]) for d in plan.diagnostics if d.is_error] == [("KT203", "n1")]
