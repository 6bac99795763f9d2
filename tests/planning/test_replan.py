"""Re-planning the rest of the year from actuals, and capacity from the plan."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitree.definition.resolve import load_tree
from kpitree.definition.tree import Tree
from kpitree.planning.capacity import capacity_checks
from kpitree.planning.plan import make_plan
from kpitree.planning.replan import replan

TEMPLATE = Path(__file__).parents[2] / "src" / "kpitree" / "templates" / "the-model"

# revenue = won × price; won = opportunities × win rate; opportunities = leads × rate.
CHAIN = """\
kpitree: 1
name: chain
fiscal_year: 2026
plan: {allocation: business_days}
nodes:
  revenue: {kind: kgi, unit: currency, formula: won * price, target: 120000000}
  won: {unit: count, owner: field_sales, formula: opportunities * win_rate}
  price: {unit: currency, owner: field_sales, assume: 1000000}
  win_rate: {unit: ratio, owner: field_sales, assume: 0.25}
  opportunities: {unit: count, owner: inside_sales, formula: leads * opportunity_rate}
  opportunity_rate: {unit: ratio, owner: inside_sales, assume: 0.2}
  leads: {unit: count, owner: marketing}
organisation:
  inside_sales:
    teams:
      east: {share: 0.5, reps: {a: 0.5, b: 0.5}}
      west: {share: 0.5, reps: {c: 1.0}}
    capacity: {node: opportunities, min: 20, max: 40}
"""


def _close(a: float | None, b: float | None) -> bool:
    assert a is not None and b is not None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def test_half_year_behind_raises_the_rest(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(CHAIN)
    plan = make_plan(tree)
    # Six months at 80% of plan on every count (rates as assumed).
    actuals = {
        m: {
            n: (v * 0.8 if tree.nodes[n].is_additive else v)
            for n, v in ((n, plan.nodes[n].per_period[m]) for n in plan.nodes)
        }
        for m in plan.periods[:6]
    }
    re = replan(plan, actuals, "2026-10")
    assert re.closed == plan.periods[:6] and re.open == plan.periods[6:]
    revenue = re.nodes["revenue"]
    assert _close(sum(v or 0.0 for v in revenue.per_period.values()), 120_000_000)
    for m in re.closed:
        assert revenue.per_period[m] == actuals[m]["revenue"]
    # What the first half missed (20% of its plan) moves to the second half.
    first_half = sum(plan.nodes["leads"].per_period[m] or 0.0 for m in plan.periods[:6])
    second_half = sum(plan.nodes["leads"].per_period[m] or 0.0 for m in plan.periods[6:])
    left = sum(re.nodes["leads"].per_period[m] or 0.0 for m in re.open)
    assert _close(left, second_half + 0.2 * first_half)
    change = re.changes["leads"]
    assert change.change is not None and _close(change.change, 0.2 * first_half / second_half)
    # Rates keep their assumptions; nothing is unreachable.
    assert re.nodes["win_rate"].per_period["2026-12"] == 0.25
    assert re.unreachable == [] and re.ok
    # The cascade splits the re-planned months like the original plan.
    assert _close(
        re.nodes["opportunities"].segments["inside_sales/east/a"].per_period["2026-11"],
        0.25 * (re.nodes["opportunities"].per_period["2026-11"] or 0.0),
    )


def test_a_solved_rate_above_100_percent_is_unreachable(write_tree: Callable[[str], Tree]) -> None:
    text = CHAIN.replace("formula: opportunities * win_rate}", "formula: opportunities * win_rate}")
    text = text.replace(
        "win_rate: {unit: ratio, owner: field_sales, assume: 0.25}",
        "win_rate: {unit: ratio, owner: field_sales}",
    ).replace(
        "leads: {unit: count, owner: marketing}",
        "leads: {unit: count, owner: marketing, assume: 2400}",
    )
    tree = write_tree(text)
    plan = make_plan(tree)
    assert _close(plan.nodes["win_rate"].value, 0.25)
    nothing_won = {m: {"revenue": 0.0, "won": 0.0} for m in plan.periods[:11]}
    re = replan(plan, nothing_won, "2027-03")
    (hit,) = [u for u in re.unreachable if u.node == "win_rate"]
    assert hit.month == "2027-03" and hit.reason == "above_one" and hit.value > 1
    assert any(d.code == "KT450" for d in re.diagnostics)
    assert not re.ok


def test_a_target_already_passed_needs_negative_months(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(CHAIN)
    plan = make_plan(tree)
    huge = {m: {"revenue": 30_000_000.0, "won": 30.0} for m in plan.periods[:6]}
    re = replan(plan, huge, "2026-10")
    assert {u.reason for u in re.unreachable} == {"negative"}
    assert {u.node for u in re.unreachable} >= {"revenue", "won", "leads"}
    assert _close(sum(v or 0.0 for v in re.nodes["revenue"].per_period.values()), 120_000_000)


def test_after_the_year_there_is_nothing_left(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(CHAIN)
    plan = make_plan(tree)
    re = replan(plan, {}, "2027-05")
    assert re.open == [] and not re.ok
    assert any(d.code == "KT451" for d in re.diagnostics)
    # Months without actuals fall back to the plan, and say so.
    assert re.fallback["2026-04"] and "leads" in re.fallback["2026-04"]


def test_before_the_year_the_replan_is_the_plan(write_tree: Callable[[str], Tree]) -> None:
    tree = write_tree(CHAIN)
    plan = make_plan(tree)
    re = replan(plan, {}, "2026-01")
    for node_id, node_plan in plan.nodes.items():
        for m in plan.periods:
            assert re.nodes[node_id].per_period[m] == pytest.approx(node_plan.per_period[m])


def test_capacity_states_the_headcount_and_overloaded_months(
    write_tree: Callable[[str], Tree],
) -> None:
    tree = write_tree(CHAIN)
    plan = make_plan(tree)
    (check,) = capacity_checks(plan)
    # 480 opportunities a year: 40 a month on average, 3 reps today.
    assert _close(check.monthly, 40.0)
    assert check.headcount == (1, 2) and check.reps == 3 and not check.short
    # Rep c carries the whole west team (half the department): 20 a month; a
    # at a quarter: 10. The busiest month (most business days) stays under 40.
    assert check.overloaded_months == []
    tight = write_tree(CHAIN.replace("min: 20, max: 40", "min: 5, max: 18"))
    (tight_check,) = capacity_checks(make_plan(tight))
    assert tight_check.headcount == (3, 8)
    busy = {load.month for load in tight_check.loads if load.segment == "inside_sales/west/c"}
    over = {
        load.month
        for load in tight_check.loads
        if load.segment == "inside_sales/west/c" and load.per_rep and load.per_rep > 18
    }
    assert over and set(tight_check.overloaded_months) == over and over <= busy


def test_template_capacity_sentence() -> None:
    plan = make_plan(load_tree(str(TEMPLATE)))
    (check,) = plan.capacity()
    assert (check.department, check.node) == ("inside_sales", "opportunities")
    assert check.headcount == (2, 3) and check.reps == 4
    assert plan.to_json()["capacity"][0]["headcount"] == [2, 3]


shares = st.floats(min_value=0.0, max_value=2.0, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    as_of=st.integers(min_value=0, max_value=11),
    factors=st.lists(shares, min_size=12, max_size=12),
)
def test_replan_reproduces_the_kgi_target_with_past_months_as_actuals(
    as_of: int, factors: list[float]
) -> None:
    """On the template: whatever happened in the closed months, closed actuals
    plus the re-planned open months reach the KGI target exactly."""
    tree = load_tree(str(TEMPLATE))
    plan = make_plan(tree, fiscal_year=2026)
    closed = plan.periods[:as_of]
    actuals = {
        m: {
            n: (v * factors[i] if tree.nodes[n].is_additive else v)
            for n, v in ((n, plan.nodes[n].per_period[m]) for n in plan.nodes)
            if v is not None
        }
        for i, m in enumerate(closed)
    }
    re = replan(plan, actuals, plan.periods[as_of])
    kgi = re.nodes[tree.kgi]
    assert _close(sum(v or 0.0 for v in kgi.per_period.values()), plan.nodes[tree.kgi].value)
    for m in closed:
        for node_id, value in actuals[m].items():
            assert re.nodes[node_id].per_period[m] == value
    # Assumed additive nodes keep their original months.
    for m in re.open:
        assert re.nodes["renewable_arr"].per_period[m] == pytest.approx(
            plan.nodes["renewable_arr"].per_period[m]
        )
