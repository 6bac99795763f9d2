"""The commands over a definition: init, check, plan, tree, explain, schema, demo."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import ISSUE_EXAMPLE, Cli

YEAR = "2026"
MONTHS = [f"2026-{m:02d}" for m in range(4, 13)] + [f"2027-{m:02d}" for m in range(1, 4)]


def plan_json(cli: Cli, *args: str | Path) -> dict[str, Any]:
    result = cli("plan", *args, "--json", "--fiscal-year", YEAR)
    assert result.code == 0, result.err
    payload: dict[str, Any] = result.json()
    return payload


def values(payload: dict[str, Any]) -> dict[str, float]:
    return {node: entry["value"] for node, entry in payload["nodes"].items()}


# --- init -------------------------------------------------------------------


def test_init_the_model_then_check_passes_without_warnings(the_model: Path, cli: Cli) -> None:
    assert (the_model / "kpitree.yaml").is_file()
    result = cli("check", the_model)
    assert result.code == 0, result.err
    assert ": warning: " not in result.err
    assert "check passed: 0 error(s), 0 warning(s)" in result.err
    report = cli("check", the_model, "--json").json()
    assert report == {"ok": True, "errors": 0, "warnings": 0, "diagnostics": []}


def test_init_the_model_plans_the_funnel_per_month(the_model: Path, cli: Cli) -> None:
    payload = plan_json(cli, the_model)
    planned = values(payload)
    assert planned["revenue"] == pytest.approx(300_000_000)
    assert planned["won_deals"] == pytest.approx(125)
    assert planned["leads"] == pytest.approx(10_000)
    for node_id, entry in payload["nodes"].items():
        per_period = entry["per_period"]
        assert list(per_period) == MONTHS, node_id
        if entry["aggregation"] == "sum":
            # The template allocates by business days: months differ, the year adds up.
            assert math.fsum(per_period.values()) == pytest.approx(entry["value"]), node_id
        else:
            assert all(v == pytest.approx(entry["value"]) for v in per_period.values()), node_id
    leads = payload["nodes"]["leads"]["per_period"]
    assert leads["2026-04"] != pytest.approx(leads["2026-05"])
    assert payload["nodes"]["win_rate"]["aggregation"] != "sum"


def test_init_refuses_an_existing_project_without_force(the_model: Path, cli: Cli) -> None:
    definition = the_model / "kpitree.yaml"
    definition.write_text("kpitree: 1\nname: mine\n", encoding="utf-8")
    result = cli("init", the_model)
    assert result.code == 1
    assert f"{definition}:1:1: error: {definition} already exists; use --force" in result.err
    assert definition.read_text(encoding="utf-8") == "kpitree: 1\nname: mine\n"

    forced = cli("init", the_model, "--force")
    assert forced.code == 0, forced.err
    assert "nodes:" in definition.read_text(encoding="utf-8")


def test_init_unknown_template_suggests_the_closest(tmp_path: Path, cli: Cli) -> None:
    result = cli("init", tmp_path / "p", "--template", "the-modle")
    assert result.code == 1
    assert "unknown template 'the-modle'" in result.err
    assert "did you mean 'the-model'?" in result.err
    assert not (tmp_path / "p").exists()


def test_quickstart_end_to_end(tmp_path: Path, kpitree_process: Cli) -> None:
    """init, check, plan and explain as a new user types them, in the project folder."""
    created = kpitree_process("init", "acme", cwd=tmp_path)
    assert created.code == 0, created.err
    project = tmp_path / "acme"
    checked = kpitree_process("check", cwd=project)
    assert (checked.code, checked.err.strip()) == (0, "check passed: 0 error(s), 0 warning(s)")
    planned = kpitree_process("plan", "--json", "--fiscal-year", YEAR, cwd=project)
    assert planned.code == 0, planned.err
    assert values(planned.json())["won_deals"] == pytest.approx(125)
    explained = kpitree_process("explain", "--json", cwd=project)
    assert explained.code == 0, explained.err
    assert explained.json()["sensitivity"]


# --- the issue's example ----------------------------------------------------


def test_issue_example_checks_with_warnings_only(cli: Cli) -> None:
    result = cli("check", ISSUE_EXAMPLE)
    assert result.code == 0, result.err
    assert ": warning: " in result.err
    assert ": error: " not in result.err
    assert re.search(r"check passed: 0 error\(s\), [1-9]\d* warning\(s\)", result.err)


def test_issue_example_plans_4000_sqls_and_200_won_deals(cli: Cli) -> None:
    payload = plan_json(cli, ISSUE_EXAMPLE)
    planned = values(payload)
    assert planned["sqls"] == pytest.approx(4000)
    assert planned["won_deals"] == pytest.approx(200)
    assert planned["revenue"] == pytest.approx(300_000_000)
    sqls = payload["nodes"]["sqls"]["per_period"]
    assert list(sqls) == MONTHS
    assert all(v == pytest.approx(4000 / 12) for v in sqls.values())
    assert payload["nodes"]["win_rate"]["per_period"]["2026-09"] == pytest.approx(0.25)


def test_set_overrides_an_assumption(cli: Cli) -> None:
    payload = plan_json(cli, ISSUE_EXAMPLE, "--set", "win_rate=0.2")
    assert values(payload)["sqls"] == pytest.approx(5000)
    assert values(payload["base"])["sqls"] == pytest.approx(4000)
    assert payload["overrides"] == {"win_rate": 0.2}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("win_rate", "win_rate"),
        ("win_rat=0.2", "did you mean 'win_rate'?"),
    ],
)
def test_bad_set_is_a_clean_error(cli: Cli, option: str, message: str) -> None:
    result = cli("plan", ISSUE_EXAMPLE, "--set", option)
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("written", ["25%", "25 ％", "0.25"])
def test_a_rate_is_set_as_it_is_shown(cli: Cli, written: str) -> None:
    payload = plan_json(cli, ISSUE_EXAMPLE, "--set", f"win_rate={written}")
    assert payload["overrides"] == {"win_rate": pytest.approx(0.25)}


def test_a_bare_number_for_a_rate_is_refused_naming_both_readings(cli: Cli) -> None:
    """``win_rate=25`` would plan from a 2,500% win rate; it says how to write 25%."""
    result = cli("plan", ISSUE_EXAMPLE, "--set", "win_rate=25")
    assert result.code == 1
    assert "2,500%" in result.err
    assert "'25%'" in result.err and "0.25" in result.err
    assert "Traceback" not in result.err


def test_unknown_scenario_is_a_clean_error(cli: Cli) -> None:
    result = cli("plan", ISSUE_EXAMPLE, "--scenario", "stretch", "--json")
    assert result.code == 1
    assert result.out == ""
    assert "error: unknown scenario 'stretch'" in result.err
    assert "Traceback" not in result.err


# --- 34 opportunities a month ------------------------------------------------

OPPORTUNITIES = """\
kpitree: 1
name: Opportunity plan
fiscal_year_start: 4
period: month
{plan}nodes:
  opportunities:
    label: {{ja: 商談数, en: Opportunities}}
    kind: kgi
    unit: count
    formula: leads * lead_to_opportunity_rate
    target: {target}
  leads: {{label: リード数, unit: count, owner: marketing, indicator: leading}}
  lead_to_opportunity_rate: {{label: 商談化率, unit: ratio, owner: inside_sales, assume: 0.2}}
"""


@pytest.mark.parametrize(
    ("target", "plan"),
    [("{monthly: 34}", ""), ("408", "plan: {allocation: even}\n")],
    ids=["monthly-target", "yearly-target-even"],
)
def test_34_opportunities_a_month_plan_170_leads_a_month(
    cli: Cli, tmp_path: Path, target: str, plan: str
) -> None:
    (tmp_path / "kpitree.yaml").write_text(
        OPPORTUNITIES.format(target=target, plan=plan), encoding="utf-8"
    )
    payload = plan_json(cli, tmp_path)
    leads = payload["nodes"]["leads"]
    opportunities = payload["nodes"]["opportunities"]
    assert leads["value"] == pytest.approx(2040)
    assert opportunities["value"] == pytest.approx(408)
    assert list(leads["per_period"]) == MONTHS
    assert all(v == pytest.approx(170) for v in leads["per_period"].values())
    assert all(v == pytest.approx(34) for v in opportunities["per_period"].values())


# --- check --json ------------------------------------------------------------


def test_check_json_shape(cli: Cli, write_definition: Any) -> None:
    result = cli("check", ISSUE_EXAMPLE, "--json")
    assert result.code == 0
    report = result.json()
    assert set(report) == {"ok", "errors", "warnings", "diagnostics"}
    assert report["ok"] is True
    assert report["errors"] == 0
    assert report["warnings"] == len(report["diagnostics"]) > 0
    for diag in report["diagnostics"]:
        assert {"severity", "code", "message", "file", "line", "column"} <= set(diag)
        assert diag["severity"] == "warning"
        assert re.fullmatch(r"KT\d{3}", diag["code"])
        assert diag["file"] == str(ISSUE_EXAMPLE / "kpitree.yaml")
        assert isinstance(diag["line"], int) and diag["line"] >= 1
        assert isinstance(diag["column"], int) and diag["column"] >= 1
        assert diag["message"]

    broken = write_definition(
        (ISSUE_EXAMPLE / "kpitree.yaml")
        .read_text(encoding="utf-8")
        .replace("formula: won_deals * avg_deal_size", "formula: won_deal * avg_deal_size")
    )
    failed = cli("check", broken, "--json")
    assert failed.code == 1
    report = failed.json()
    assert report["ok"] is False
    assert report["errors"] == 1
    (error,) = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert (error["file"], error["line"], error["column"]) == (str(broken), 10, 14)
    assert "did you mean 'won_deals'?" in error["message"]


# --- plan views --------------------------------------------------------------


def test_plan_by_team_prints_the_cascade(the_model: Path, cli: Cli) -> None:
    result = cli("plan", the_model, "--by", "team", "-y", YEAR)
    assert result.code == 0, result.err
    assert "Plan by team" in result.out
    # 125 won deals split 0.6 / 0.4 between the field-sales teams.
    # The department by its label, the team as the organisation names it.
    assert re.search(r"Field sales / east\s*│\s*Won deals\s*│\s*75\s*│", result.out)
    assert re.search(r"Field sales / west\s*│\s*Won deals\s*│\s*50\s*│", result.out)
    assert "field_sales" not in result.out


def test_plan_by_unknown_level_is_a_clean_error(the_model: Path, cli: Cli) -> None:
    result = cli("plan", the_model, "--by", "region", "-y", YEAR)
    assert result.code == 1
    assert "region" in result.err
    assert "Traceback" not in result.err


def test_plan_saves_a_scenario_the_next_run_plans(the_model: Path, cli: Cli) -> None:
    definition = the_model / "kpitree.yaml"
    before = definition.read_text(encoding="utf-8")
    saved = cli("plan", the_model, "--set", "win_rate=0.3", "--save-scenario", "faster",
                "--label", "受注率改善", "--json", "-y", YEAR)  # fmt: skip
    assert saved.code == 0, saved.err
    assert "faster" in saved.err  # the JSON on stdout stays clean
    text = definition.read_text(encoding="utf-8")
    assert text.startswith(before.rstrip("\n"))  # comments and layout kept
    assert '  faster:\n    label: "受注率改善"\n    set: {win_rate: 0.3}' in text
    again = cli("plan", the_model, "--scenario", "faster", "--json", "-y", YEAR).json()
    assert again["scenario"] == "faster" and again["overrides"] == {"win_rate": 0.3}
    assert again["nodes"] == saved.json()["scenarios"]["--set"]["nodes"]
    nothing = cli("plan", the_model, "--save-scenario", "empty", "-y", YEAR)
    assert nothing.code == 1 and "--set" in nothing.err and "Traceback" not in nothing.err
    unknown = cli("plan", the_model, "--set", "win_rat=0.3", "--save-scenario", "bad", "-y", YEAR)
    assert unknown.code == 1 and "win_rate" in unknown.err  # did you mean
    assert "bad:" not in definition.read_text(encoding="utf-8")


def test_plan_months_prints_every_month(the_model: Path, cli: Cli) -> None:
    result = cli("plan", the_model, "--months", "-y", YEAR)
    assert result.code == 0, result.err
    header = next(line for line in result.out.splitlines() if "2026-04" in line)
    assert all(month in header for month in MONTHS)
    assert "FY2026" in result.out


def test_plan_scenario_json_has_base_and_scenarios(the_model: Path, cli: Cli) -> None:
    payload = plan_json(cli, the_model, "--scenario", "stretch")
    assert values(payload["base"])["revenue"] == pytest.approx(300_000_000)
    assert values(payload["scenarios"]["stretch"])["revenue"] == pytest.approx(360_000_000)
    assert values(payload)["revenue"] == pytest.approx(360_000_000)


def test_plan_scenario_table_shows_base_beside_it(the_model: Path, cli: Cli) -> None:
    result = cli("plan", the_model, "--scenario", "stretch", "-y", YEAR)
    assert result.code == 0, result.err
    assert re.search(r"Revenue revenue.*¥300,000,000.*¥360,000,000.*¥60,000,000", result.out)


# --- tree --------------------------------------------------------------------


def test_tree_shows_labels_formulas_owners_and_plan(the_model: Path, cli: Cli) -> None:
    result = cli("tree", the_model, "-y", YEAR)
    assert result.code == 0, result.err
    out = result.out
    assert "Revenue (revenue, KGI)" in out
    assert "= new_revenue + renewal_revenue + expansion_revenue" in out
    assert "target ¥300,000,000" in out
    assert re.search(r"Won deals \(won_deals, KPI\)  = opportunities \* win_rate", out)
    assert re.search(r"won_deals \* avg_deal_size.*plan ¥200,000,000", out)
    assert re.search(r"Won deals .*owner: Field sales.*plan 125\b", out)
    assert re.search(r"Leads \(leads, KPI\).*plan 10,000", out)
    # The tree goes down from the KGI: leads are drawn below won deals.
    assert out.index("Revenue (revenue") < out.index("Won deals") < out.index("Leads (leads")


def test_tree_in_japanese(the_model: Path, cli: Cli) -> None:
    result = cli("--lang", "ja", "tree", the_model, "-y", YEAR)
    assert result.code == 0, result.err
    assert "売上 (revenue, KGI)" in result.out
    owner = "担当: フィールドセールス"
    assert re.search(rf"受注件数 \(won_deals, KPI\).*{owner}.*計画 125\b", result.out)
    assert "Won deals" not in result.out


# --- explain -----------------------------------------------------------------


def test_explain_ranks_inputs_by_effect(the_model: Path, cli: Cli) -> None:
    result = cli("explain", the_model, "-y", YEAR)
    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if line.startswith("│")]
    order = [re.search(r"│ .*? (\w+)\s+│", row).group(1) for row in rows]  # type: ignore[union-attr]
    assert order[-3:] == ["renewable_arr", "renewal_rate", "upsell_rate"]
    assert re.search(r"Upsell rate upsell_rate .*│\s*0\.03\s*│\s*\+¥1,000,000\s*│", result.out)


def test_explain_json_sensitivity_is_ranked(the_model: Path, cli: Cli) -> None:
    result = cli("explain", the_model, "--json", "-y", YEAR)
    assert result.code == 0, result.err
    payload = result.json()
    effects = [abs(s["effect"]) for s in payload["sensitivity"]]
    assert effects == sorted(effects, reverse=True)
    by_node = {s["node"]: s for s in payload["sensitivity"]}
    assert by_node["win_rate"]["elasticity"] == pytest.approx(2 / 3)
    assert by_node["upsell_rate"]["effect"] == pytest.approx(1_000_000)
    assert payload["attribution"] is None


def _assert_exact(attribution: dict[str, Any]) -> None:
    assert attribution["exact"] is True
    total = math.fsum(attribution["by_input"].values())
    scale = max(abs(attribution["base"]), abs(attribution["current"]))
    assert total == pytest.approx(attribution["change"], rel=1e-6, abs=1e-6 * scale)
    assert attribution["current"] - attribution["base"] == pytest.approx(
        attribution["change"], abs=1e-6 * scale
    )


def test_explain_attribution_between_scenarios(the_model: Path, cli: Cli) -> None:
    result = cli("explain", the_model, "--json", "--from", "plan", "--to", "low_win_rate")
    assert result.code == 0, result.err
    payload = result.json()
    assert "sensitivity" in payload
    attribution = payload["attribution"]
    _assert_exact(attribution)
    # The revenue target holds, so the lower win rate is paid for by more leads.
    assert attribution["by_input"]["win_rate"] < 0 < attribution["by_input"]["leads"]
    assert payload["compared"] == ["plan", "low_win_rate"]


def test_explain_attribution_against_a_values_file(the_model: Path, cli: Cli) -> None:
    actual = the_model / "actual.json"
    actual.write_text(
        json.dumps({"leads": 9000, "win_rate": 0.3, "avg_deal_size": 1_500_000}),
        encoding="utf-8",
    )
    # A partial file is refused: every input needs a value.
    partial = cli("explain", the_model, "--from", "plan", "--to", actual)
    assert partial.code == 1
    assert "Traceback" not in partial.err

    plan = plan_json(cli, the_model)
    full = {node: entry["value"] for node, entry in plan["nodes"].items()}
    full.update({"leads": 9000, "win_rate": 0.3, "avg_deal_size": 1_500_000})
    actual.write_text(json.dumps(full), encoding="utf-8")
    result = cli("explain", the_model, "--json", "--from", "plan", "--to", actual, "-y", YEAR)
    assert result.code == 0, result.err
    attribution = result.json()["attribution"]
    _assert_exact(attribution)
    # 9000 leads → 112.5 → 135 won deals at ¥1.5M: ¥202.5M new revenue.
    assert attribution["change"] == pytest.approx(2_500_000)
    assert set(attribution["by_input"]) >= {"leads", "win_rate", "avg_deal_size"}

    text = cli("explain", the_model, "--from", "plan", "--to", actual, "-y", YEAR)
    assert text.code == 0, text.err
    assert "¥300,000,000" in text.out and "¥302,500,000" in text.out


def test_explain_from_without_to_is_a_clean_error(the_model: Path, cli: Cli) -> None:
    result = cli("explain", the_model, "--from", "plan")
    assert result.code == 1
    assert result.err.strip() == "error: attribution needs both --from and --to"


# --- language ----------------------------------------------------------------


def test_lang_option_beats_the_environment(the_model: Path, cli: Cli) -> None:
    japanese = cli("init", the_model, lang="ja")
    assert japanese.code == 1
    assert ": エラー: " in japanese.err
    english = cli("--lang", "en", "init", the_model, lang="ja")
    assert ": error: " in english.err
    assert "エラー" not in english.err


def test_unknown_lang_is_a_usage_error(the_model: Path, cli: Cli) -> None:
    result = cli("--lang", "xx", "check", the_model)
    assert result.code == 2
    assert "Invalid value for --lang" in result.err
    assert "'xx'" in result.err
    assert "Traceback" not in result.err


def test_version(cli: Cli) -> None:
    from kpitree import __version__

    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"kpitree {__version__}"


# --- schema, demo ------------------------------------------------------------


def test_schema_prints_the_json_schema(cli: Cli) -> None:
    schema_module = pytest.importorskip(
        "kpitree.definition.schema",
        reason="kpitree.definition.schema (the JSON Schema module) is not written yet",
    )
    result = cli("schema")
    assert result.code == 0, result.err
    printed = result.json()
    assert "nodes" in printed["properties"]
    assert printed == json.loads(json.dumps(schema_module.json_schema()))


def test_demo_runs_end_to_end(tmp_path: Path, kpitree_process: Cli) -> None:
    folder = tmp_path / "demo"
    result = kpitree_process("demo", folder, "--no-serve")
    assert result.code == 0, result.err
    assert (folder / "kpitree.yaml").is_file()
    assert f"Demo project: {folder}" in result.out
    assert "check passed: 0 error(s), 0 warning(s)" in result.out
    assert "Revenue (revenue, KGI)" in result.out
    # Planned from last year's actuals of the demo company, plus 10%.
    assert re.search(r"Won deals \(won_deals, KPI\).*plan [\d,]+", result.out)
    text = (folder / "kpitree.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Planned from FY") and "インバウンドIS" in text
    status = kpitree_process("status", folder, "--json")
    assert status.code == 0, status.err
    revenue = next(r for r in status.json()["rows"] if r["node"] == "revenue")
    assert revenue["actual"] is not None and revenue["target"] > 0
    assert revenue["last_year"] is not None
    # --no-compare: the same period's figures, without last year's.
    alone = kpitree_process("status", folder, "--no-compare", "--json")
    assert alone.code == 0, alone.err
    rows = {(r["node"], json.dumps(r["segment"])): r for r in alone.json()["rows"]}
    assert len(rows) == len(status.json()["rows"])
    for row in status.json()["rows"]:
        other = rows[(row["node"], json.dumps(row["segment"]))]
        assert (other["actual"], other["target"]) == (row["actual"], row["target"])
        assert other["previous"] is None and other["last_year"] is None
    warehouse = folder / ".kpitree" / "warehouse.duckdb"
    assert "Demo data (small, FY" in result.out and f"{warehouse} as import 1" in result.out
    # The company as it stands today: the leads created so far of the 25,000.
    assert re.search(r"  [\d,]+ leads, [\d,]+ deals, [\d,]+ activities", result.out)
    assert "Traceback" not in result.err


def test_demo_twice_loads_once_into_the_configured_warehouse(tmp_path: Path, cli: Cli) -> None:
    folder = tmp_path / "demo"
    assert cli("init", folder).code == 0
    definition = folder / "kpitree.yaml"
    definition.write_text(
        definition.read_text(encoding="utf-8") + "data:\n  warehouse: db/demo.duckdb\n",
        encoding="utf-8",
    )
    first = cli("demo", folder, "--size", "tiny", "--no-serve")
    assert first.code == 0, first.err
    warehouse = folder / "db" / "demo.duckdb"
    assert f"loaded into {warehouse} as import 1" in first.out
    assert not (folder / ".kpitree" / "warehouse.duckdb").exists()
    again = cli("demo", folder, "--size", "tiny", "--no-serve")
    assert again.code == 0, again.err
    assert f"is already in {warehouse} (import 1); nothing loaded" in again.out
    listed = cli("imports", "--project", folder, "--json").json()["imports"]
    assert [(i["import_id"], i["file"], i["status"]) for i in listed] == [(1, "demo", "applied")]
    assert cli("demo", folder, "--size", "huge").code == 2


def test_init_names_the_project_in_its_language(tmp_path: Path, cli: Cli) -> None:
    from kpitree.project import Project

    folder = tmp_path / "plan"
    result = cli("init", folder, "--name", 'FY2026 売上計画 "A": #1', "--lang", "ja")
    assert result.code == 0, result.err
    assert "を作成しました" in result.out
    assert cli("check", folder).code == 0
    tree = Project.load(folder).tree
    assert tree.name == 'FY2026 売上計画 "A": #1'
    assert tree.notifications.language == "ja"
    # The template's comments stay.
    assert "# April (4月始まり)" in (folder / "kpitree.yaml").read_text("utf-8")
    english = tmp_path / "en"
    assert cli("init", english, "--lang", "en").code == 0
    assert Project.load(english).tree.name == "FY revenue plan (The Model)"
    japanese = tmp_path / "ja"
    assert cli("init", japanese, "--lang", "ja").code == 0
    assert Project.load(japanese).tree.name == "売上計画 (The Model)"


def test_init_refuses_an_empty_name_or_an_unknown_language(tmp_path: Path, cli: Cli) -> None:
    empty = cli("init", tmp_path / "a", "--name", "  ")
    assert empty.code == 1 and "the project name is empty" in empty.err
    assert not (tmp_path / "a" / "kpitree.yaml").exists()
    bad = cli("init", tmp_path / "b", "--lang", "fr")
    assert bad.code == 1 and "unknown language 'fr'; use ja or en" in bad.err


def test_plan_and_tree_name_owners_by_their_department_labels(the_model: Path, cli: Cli) -> None:
    planned = cli("--lang", "ja", "plan", the_model)
    tree = cli("--lang", "ja", "tree", the_model)
    for result in (planned, tree):
        assert result.code == 0, result.err
        assert "インサイドセールス" in result.out
        assert "inside_sales" not in result.out and "field_sales" not in result.out
