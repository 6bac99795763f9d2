"""The bottleneck, gaps against pace and plan fallbacks (kpitree.compute.explain).

Hand-made company rows on the-model template tree check the rules exactly;
generated companies (hypothesis) check that the bottleneck is always a funnel
step and the one that costs the KGI the most; the tiny demo company checks the
whole path through ``Project.status`` and ``Project.explain``.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitree import Project
from kpitree.compute.explain import (
    MIN_STEP_VOLUME,
    describe_bottleneck,
    find_bottleneck,
    gap_values,
)
from kpitree.compute.status import NodeStatus
from kpitree.definition.funnel import funnel_steps
from kpitree.definition.resolve import check_definition, load_tree
from kpitree.definition.tree import Tree
from kpitree.planning.attribution import attribute

TEMPLATE = Path(__file__).parents[2] / "src" / "kpitree" / "templates" / "the-model"
FUNNEL_RATES = ["mql_rate", "opportunity_rate", "win_rate"]

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


@pytest.fixture(scope="module")
def tree() -> Tree:
    return load_tree(str(TEMPLATE / "kpitree.yaml"))


def row(node: str, actual: float | None, target: float | None, **extra: Any) -> NodeStatus:
    values: dict[str, Any] = {
        "node": node,
        "period": "2026-12",
        "segment": (),
        "actual": actual,
        "source": "measured",
        "target": target,
        "achievement": None,
        "expected": target,
        "pace": None,
        "forecast": actual,
        "status": None,
        "previous": None,
        "last_year": None,
        "reconciliation": None,
        "volume": None,
    }
    values.update(extra)
    return NodeStatus(**values)


PLAN = {
    "leads": 10_000.0,
    "mql_rate": 0.25,
    "opportunity_rate": 0.2,
    "win_rate": 0.25,
    "avg_deal_size": 1_600_000.0,
    "renewable_arr": 10_000_000.0,
    "renewal_rate": 0.9,
    "upsell_rate": 0.1,
}


def company(tree: Tree, actual: dict[str, float | None], **per_node: Any) -> dict[str, NodeStatus]:
    """Rows of every input at their plan value unless ``actual`` says otherwise,
    with the stages (leads, mqls, opportunities) computed from them."""
    values = {**PLAN, **actual}
    rows = {n: row(n, values[n], PLAN[n], **per_node.get(n, {})) for n in PLAN}
    stages = {
        "mqls": (values["leads"] or 0) * (values["mql_rate"] or 0),
    }
    stages["opportunities"] = stages["mqls"] * (values["opportunity_rate"] or 0)
    for n, v in stages.items():
        rows[n] = row(n, v, None)
    return rows


def _bottleneck(tree: Tree, rows: dict[str, NodeStatus], basis: str = "pace") -> Any:
    values = gap_values(tree, rows)
    assert values is not None
    return find_bottleneck(tree, rows, attribute(tree, values.base, values.current), basis)


def test_the_bottleneck_is_a_funnel_step_never_the_lowest_rate_elsewhere(tree: Tree) -> None:
    # アップセル率 at half its target is the lowest ratio of all, but it is not a
    # funnel step: 商談化率 at 90% is, and it costs revenue.
    rows = company(tree, {"upsell_rate": 0.05, "opportunity_rate": 0.18})
    b = _bottleneck(tree, rows)
    assert b is not None and b.node == "opportunity_rate"
    values = gap_values(tree, rows)
    assert values is not None
    att = attribute(tree, values.base, values.current)
    assert b.impact == pytest.approx(float(att.by_input["opportunity_rate"] or 0))
    assert b.impact < 0
    assert (b.from_node, b.to_node) == ("mqls", "opportunities")
    assert b.ratio == pytest.approx(0.9)


def test_the_step_that_costs_the_kgi_most_wins(tree: Tree) -> None:
    rows = company(tree, {"mql_rate": 0.24, "win_rate": 0.2})  # 96% and 80% of target
    b = _bottleneck(tree, rows)
    assert b is not None and b.node == "win_rate"
    # No step below its target: no bottleneck, even with other nodes behind.
    rows = company(tree, {"avg_deal_size": 800_000.0, "upsell_rate": 0.01})
    assert _bottleneck(tree, rows) is None


def test_a_step_without_enough_volume_is_not_named(tree: Tree) -> None:
    rows = company(
        tree,
        {"opportunity_rate": 0.1, "win_rate": 0.24},
        opportunity_rate={"volume": MIN_STEP_VOLUME - 1},
    )
    b = _bottleneck(tree, rows)
    assert b is not None and b.node == "win_rate"
    rows = company(tree, {"opportunity_rate": 0.1}, opportunity_rate={"status": "low_volume"})
    assert _bottleneck(tree, rows) is None


def test_the_projects_own_minimum_volume_decides(tree: Tree) -> None:
    # A small company judges rates from 10 entrants: 20 is enough there.
    rows = company(
        tree,
        {"opportunity_rate": 0.1, "win_rate": 0.24},
        opportunity_rate={"volume": 20, "min_volume": 10},
    )
    b = _bottleneck(tree, rows)
    assert b is not None and b.node == "opportunity_rate"
    # And a stricter minimum than the default holds back a step the default names.
    rows = company(
        tree,
        {"opportunity_rate": 0.1, "win_rate": 0.24},
        opportunity_rate={"volume": 60, "min_volume": 100},
    )
    b = _bottleneck(tree, rows)
    assert b is not None and b.node == "win_rate"


def test_the_bottleneck_in_one_sentence(tree: Tree) -> None:
    b = _bottleneck(tree, company(tree, {"opportunity_rate": 0.128}))
    assert b is not None
    text = describe_bottleneck(tree, b, "ja")
    assert text.startswith("商談化率 12.8%（目標20.0%）: 売上への影響 -¥")
    assert text.endswith("（ペース比）")
    final = _bottleneck(tree, company(tree, {"opportunity_rate": 0.128}), basis="target")
    assert final is not None and "ペース比" not in describe_bottleneck(tree, final, "ja")
    assert "effect on Revenue -¥" in describe_bottleneck(tree, b, "en")


def test_inputs_without_data_take_their_plan_value(tree: Tree) -> None:
    rows = company(tree, {"renewal_rate": None, "upsell_rate": None, "leads": 9000.0})
    values = gap_values(tree, rows)
    assert values is not None
    assert values.filled == ("renewal_rate", "upsell_rate")
    assert values.current["renewal_rate"] == PLAN["renewal_rate"]
    att = attribute(tree, values.base, values.current)
    assert att.by_input["renewal_rate"] == 0 and att.by_input["upsell_rate"] == 0
    assert att.exact


def test_gaps_are_measured_against_pace_and_forecast_against_target(tree: Tree) -> None:
    # A third of the month gone: leads 4,000 against 10,000 is ahead of pace
    # (expected 3,333) and must explain a gain, not a loss.
    third = 1 / 3
    rows = company(tree, {"leads": 4000.0})
    for n in ("leads", "renewable_arr"):
        plan = PLAN[n]
        actual = 4000.0 if n == "leads" else plan * third
        rows[n] = row(n, actual, plan, expected=plan * third, forecast=actual / third)
    pace = gap_values(tree, rows)
    assert pace is not None and pace.base["leads"] == pytest.approx(10_000 * third)
    att = attribute(tree, pace.base, pace.current)
    assert (att.by_input["leads"] or 0) > 0
    assert att.by_input["renewable_arr"] == 0
    forecast = gap_values(tree, rows, view="forecast")
    assert forecast is not None
    assert forecast.base["leads"] == 10_000 and forecast.current["leads"] == pytest.approx(12_000)


# -- generated companies ---------------------------------------------------------------

_ratio = st.floats(0.01, 0.99)
_count = st.floats(1.0, 100_000.0)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    actual=st.fixed_dictionaries(
        {
            "leads": _count,
            "mql_rate": _ratio,
            "opportunity_rate": _ratio,
            "win_rate": _ratio,
            "avg_deal_size": st.floats(1_000.0, 10_000_000.0),
            "renewable_arr": st.floats(0.0, 1e9),
            "renewal_rate": _ratio,
            "upsell_rate": _ratio,
        }
    ),
    volumes=st.lists(st.one_of(st.none(), st.floats(0, 1000)), min_size=3, max_size=3),
)
def test_generated_companies_bottleneck_is_the_costliest_funnel_step(
    tree: Tree, actual: dict[str, float], volumes: list[float | None]
) -> None:
    per_node = {rate: {"volume": v} for rate, v in zip(FUNNEL_RATES, volumes, strict=True)}
    rows = company(tree, dict(actual), **per_node)
    values = gap_values(tree, rows)
    assert values is not None
    att = attribute(tree, values.base, values.current)
    b = find_bottleneck(tree, rows, att, "pace")
    stages = dict(zip(FUNNEL_RATES, ["leads", "mqls", "opportunities"], strict=True))
    entrants = {
        rate: v if v is not None else rows[stages[rate]].actual
        for rate, v in zip(FUNNEL_RATES, volumes, strict=True)
    }
    eligible = {
        rate: att.by_input[rate]
        for rate, n in entrants.items()
        if n is None or n >= MIN_STEP_VOLUME
    }
    costs = {k: v for k, v in eligible.items() if v is not None and v < 0}
    if b is None:
        assert not costs
    else:
        assert b.node in FUNNEL_RATES
        assert b.node in costs
        assert Fraction(b.impact) == pytest.approx(min(costs.values()))


@settings(max_examples=25, deadline=None)
@given(length=st.integers(2, 6), data=st.data())
def test_generated_funnels_bottleneck_is_always_a_step(
    tmp_path_factory: Any, length: int, data: Any
) -> None:
    """Trees with a funnel of ``length`` stages and a non-funnel rate beside
    it: whatever the values, the bottleneck is one of the funnel's rates."""
    stages = [f"s{i}" for i in range(length)]
    lines = [
        "kpitree: 1",
        "name: generated",
        "nodes:",
        "  kgi:",
        "    kind: kgi",
        "    unit: currency",
        f"    formula: {stages[-1]} * price + base * extra_rate",
        "  price: {unit: currency, assume: 1000}",
        "  base: {unit: currency, assume: 100000}",
        "  extra_rate: {unit: ratio, assume: 0.5}",
        f"  {stages[0]}: {{unit: count, assume: 1000}}",
    ]
    for i in range(1, length):
        lines.append(f"  r{i}: {{unit: ratio, assume: 0.5}}")
        lines.append(f"  {stages[i]}: {{unit: count, formula: {stages[i - 1]} * r{i}}}")
    folder = tmp_path_factory.mktemp("funnel")
    (folder / "kpitree.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    generated = load_tree(str(folder / "kpitree.yaml"))
    rates = [s.rate_node for s in funnel_steps(generated)]
    assert rates == [f"r{i}" for i in range(1, length)]
    rows = {}
    for n in generated.inputs:
        plan = 0.5 if generated.nodes[n].unit_name == "ratio" else 1000.0
        low = 0.01 if plan == 0.5 else 1.0
        value = data.draw(st.floats(low, 0.99 if plan == 0.5 else 1e6), label=n)
        rows[n] = row(n, value, plan)
    values = gap_values(generated, rows)
    assert values is not None
    att = attribute(generated, values.base, values.current)
    b = find_bottleneck(generated, rows, att, "target")
    assert b is None or b.node in rates
    if rows["extra_rate"].actual < 0.5 and all((rows[r].actual or 0) >= 0.5 for r in rates):
        assert b is None


# -- named funnels -----------------------------------------------------------------------


def _project_with(tmp_path: Path, funnel: str) -> Path:
    text = (TEMPLATE / "kpitree.yaml").read_text(encoding="utf-8")
    folder = tmp_path / "named"
    folder.mkdir(parents=True)
    (folder / "kpitree.yaml").write_text(text + f"\nfunnel: {funnel}\n", encoding="utf-8")
    return folder / "kpitree.yaml"


def test_a_named_funnel_is_used(tmp_path: Path) -> None:
    named = load_tree(str(_project_with(tmp_path, "[mqls, opportunities, won_deals]")))
    assert [s.rate_node for s in funnel_steps(named)] == ["opportunity_rate", "win_rate"]


def test_a_named_funnel_is_checked(tmp_path: Path) -> None:
    result = check_definition(str(_project_with(tmp_path, "[leads, opportunity, won_deals]")))
    errors = [d for d in result.diagnostics if d.code == "KT560"]
    assert errors and "opportunities" in errors[0].message("en")
    result = check_definition(str(_project_with(tmp_path / "b", "[leads, opportunities]")))
    (error,) = [d for d in result.diagnostics if d.code == "KT560"]
    assert "'leads'" in error.message("en") and "mqls * opportunity_rate" in error.message("en")
    assert error.span is not None and error.span.line > 1
    result = check_definition(str(_project_with(tmp_path / "c", "[leads]")))
    assert [d.code for d in result.diagnostics if d.is_error] == ["KT560"]


# -- the demo company ------------------------------------------------------------------

FY = 2025
PERIOD = "2025-10"
AS_OF = dt.date(2025, 10, 15)


def _load(folder: Path, drop: tuple[str, ...] = ()) -> Project:
    from kpitree.data.demo import generate
    from kpitree.data.warehouse import Warehouse, warehouse_path

    Project.init(folder)
    project = Project.load(folder)
    tables = generate("tiny", seed=7, fiscal_year=FY).tables
    Warehouse(warehouse_path(folder, project.tree.warehouse)).bulk_load(
        {k: v for k, v in tables.items() if k not in drop}, label="test"
    )
    return project


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("demo")
    _load(folder).plan_from_history(f"FY{FY - 1}", fiscal_year=FY, as_of=dt.date(FY + 1, 3, 31))
    return Project.load(folder)


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The template's plan on data without contracts or NPS answers."""
    return _load(tmp_path_factory.mktemp("partial"), drop=("contracts", "nps_responses"))


def test_status_explains_the_gap_to_pace(demo: Project) -> None:
    status = demo.status(PERIOD, as_of=AS_OF)
    assert status.gap_basis == "pace"
    att = status.attribution_vs_target
    assert att is not None and att.exact
    rows = {r.node: r for r in status.select(period=PERIOD, level=())}
    # The KGI's gap to pace, computed from the inputs: expected vs actual.
    values = gap_values(demo.tree, rows)
    assert values is not None
    assert att.base == pytest.approx(
        float(attribute(demo.tree, values.base, values.base).base or 0)
    )
    # An input on pace never explains a loss.
    for node_id, share in att.by_input.items():
        r = rows[node_id]
        if r.status == "on_track" and node_id not in status.filled_from_plan:
            assert share is not None and share >= 0, node_id
    assert status.attribution_forecast_vs_target is not None
    b = status.bottleneck
    assert b is None or b.node in [s.rate_node for s in funnel_steps(demo.tree)]
    final = demo.status("2025-09", as_of=AS_OF)
    assert final.gap_basis == "target"


def test_explain_falls_back_to_the_plan_for_inputs_without_data(partial: Project) -> None:
    explanation = partial.explain(
        at=f"actual@{PERIOD}", base=f"expected@{PERIOD}", current=f"actual@{PERIOD}", as_of=AS_OF
    )
    assert explanation.pace
    filled = explanation.filled[f"actual@{PERIOD}"]
    assert "renewal_rate" in filled and "upsell_rate" in filled
    data = explanation.to_json()
    assert "renewal_rate" in data["filled_from_plan"][f"actual@{PERIOD}"]
    assert data["basis"] == "pace"
    assert explanation.attribution is not None and explanation.attribution.exact
    assert explanation.attribution.by_input["renewal_rate"] == 0


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from kpitree.cli import main, render

    monkeypatch.setattr(render.console, "width", 200)

    class Out:
        def __init__(self, code: int, out: str, err: str) -> None:
            self.code, self.out, self.err = code, out, err

        def json(self) -> Any:
            import json

            return json.loads(self.out)

    def run(*args: str | Path, lang: str = "en") -> Out:
        monkeypatch.setenv("KPITREE_LANG", lang)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Out(code, captured.out, captured.err)

    return run


def test_explain_command_says_which_inputs_took_the_plan(partial: Project, cli: Any) -> None:
    out = cli("explain", partial.path, "--period", PERIOD, "--as-of", AS_OF.isoformat())
    assert out.code == 0, out.err
    assert "Renewal rate" in out.out and "plan value" in out.out
    assert "Against pace" in out.out
    ja = cli("explain", partial.path, "--period", PERIOD, "--as-of", AS_OF.isoformat(), lang="ja")
    assert "計画値" in ja.out and "ペース比" in ja.out
    data = cli(
        "explain",
        partial.path,
        "--period",
        PERIOD,
        "--as-of",
        AS_OF.isoformat(),
        "--vs",
        "forecast",
        "--json",
    ).json()
    assert data["compared"] == [f"target@{PERIOD}", f"forecast@{PERIOD}"]
    assert "renewal_rate" in data["filled_from_plan"][f"forecast@{PERIOD}"]
