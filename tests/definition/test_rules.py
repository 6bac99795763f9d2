"""One test per design check: exact code, English message and location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kpitree.cli.output import format_diagnostic
from kpitree.definition.design import RULES
from kpitree.errors import Severity, UserError

from .conftest import CLEAN, ISSUE_EXAMPLE, Check, only, where

# --- reading: YAML, keys, values, formulas, ids ---------------------------------------


def test_yaml_syntax_error_is_located(check: Check, tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        check("kpitree: 1\nname: [unclosed\nnodes: {}\n")
    (diag,) = caught.value.diagnostics
    assert diag.code == "KT001"
    assert diag.message("en").startswith("YAML syntax error: ")
    assert where(diag, tmp_path) == "kpitree.yaml:3:6"


def test_unknown_key_suggests_the_right_one(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  sqls: {unit: count, owner: marketing, targt: 5}\n")
    diag = only(result, "KT010")
    assert diag.message("en") == "unknown key 'targt' in nodes.sqls (did you mean 'target'?)"
    assert where(diag, tmp_path) == "kpitree.yaml:13:41"
    assert diag.span is not None and diag.span.end_column == 46


def test_unknown_top_level_key(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN.replace("period: month", "perod: month"))
    diag = only(result, "KT010")
    assert diag.message("en") == "unknown key 'perod' in top level (did you mean 'period'?)"
    assert where(diag, tmp_path) == "kpitree.yaml:3:1"


def test_missing_key(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "organisation:\n  field_sales:\n    teams:\n      east: {label: East}\n")
    diag = only(result, "KT011")
    assert diag.message("en") == (
        "missing required key 'share' in organisation.field_sales.teams.east"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:16:13"


def test_bad_literal_suggests_the_right_one(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  sqls: {unit: coutn, owner: marketing}\n")
    diag = only(result, "KT012")
    assert diag.message("en") == (
        "'coutn' is not a valid unit; use one of: count, currency, ratio, days, hours, "
        "score, number (did you mean 'count'?)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:16"
    assert diag.span is not None and diag.span.end_column == 21


def test_number_written_with_commas(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  budget:\n    unit: currency\n    assume: 3,000,000\n")
    diag = only(result, "KT012")
    assert diag.message("en") == (
        "assume must be a number, got '3,000,000' "
        "(write 3000000 or 3_000_000, without commas or units)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:15:13"


def test_definition_must_be_a_mapping(check: Check, tmp_path: Path) -> None:
    result = check("- revenue\n- deals\n")
    diag = result.errors[0]
    assert diag.code == "KT012"
    assert diag.message("en") == (
        f"{tmp_path}/kpitree.yaml must be a mapping (key: value), got '['revenue', 'deals']'"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:1:1"


def test_nodes_must_be_a_mapping(check: Check, tmp_path: Path) -> None:
    result = check("kpitree: 1\nname: x\nnodes: [revenue, deals]\n")
    diag = only(result, "KT012")
    assert diag.message("en") == (
        "nodes must be a mapping (key: value), got '['revenue', 'deals']'"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:3:8"


def test_formula_syntax_error_points_into_the_formula(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  sqls: {unit: count, owner: marketing, formula: leads $ 2}\n")
    diag = only(result, "KT020")
    assert diag.message("en") == (
        "in the formula of 'sqls': unexpected character '$'; formulas use node ids, "
        "numbers, + - * / ( ) and min/max/abs"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:56"
    assert diag.span is not None and diag.span.end_column == 57


def test_formula_error_column_skips_the_opening_quote(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + '  sqls: {unit: count, owner: marketing, formula: "leads * (2"}\n')
    diag = only(result, "KT020")
    assert diag.message("en") == (
        "the formula of 'sqls' ends too early (an operand or ')' is missing)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:61"


def test_duplicate_id_in_one_file(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  leads: {unit: count}\n")
    diag = only(result, "KT026")
    assert diag.message("en") == (
        f"node 'leads' is defined twice (first at {tmp_path}/kpitree.yaml:10:3); "
        "node ids must be unique"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:3"


def test_duplicate_id_across_included_files(check: Check, tmp_path: Path) -> None:
    more = "nodes:\n  mqls: {unit: count, owner: marketing}\n  leads: {unit: count}\n"
    result = check(CLEAN.replace("period: month\n", "period: month\ninclude: [more/*.yaml]\n"),
                   {"more/marketing.yaml": more})  # fmt: skip
    diag = only(result, "KT026")
    assert diag.message("en") == (
        f"node 'leads' is defined twice (first at {tmp_path}/kpitree.yaml:11:3); "
        "node ids must be unique"
    )
    assert where(diag, tmp_path) == "more/marketing.yaml:3:3"


def test_bad_node_id(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  2nd_wave: {unit: count, owner: marketing}\n")
    diag = only(result, "KT027")
    assert diag.message("en") == (
        "'2nd_wave' cannot be a node id: use letters, digits and _ (not starting with a "
        "digit), and not min, max or abs"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:3"


# --- error rules -----------------------------------------------------------------------


def test_unknown_reference(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  sqls: {unit: count, owner: marketing, formula: leads * win_rat}\n")
    diag = only(result, "KT021")
    assert diag.message("en") == (
        "the formula of 'sqls' uses 'win_rat', which is not a node (did you mean 'win_rate'?)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:58"
    assert diag.span is not None and diag.span.end_column == 65


def test_cycle_prints_the_path(check: Check, tmp_path: Path) -> None:
    result = check(
        CLEAN + "  a: {unit: count, formula: b * 2}\n  b: {unit: count, formula: c + 1}\n"
        "  c: {unit: count, formula: a}\n"
    )
    diag = only(result, "KT022")
    assert diag.message("en") == "formulas form a cycle: a → b → c → a"
    assert where(diag, tmp_path) == "kpitree.yaml:13:29"


def test_second_kgi(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  profit: {kind: kgi, unit: currency, assume: 5}\n")
    diag = only(result, "KT023")
    assert diag.message("en") == (
        "'profit' is a second KGI ('revenue' is one already); a tree has exactly one KGI, "
        "make the others ksf or kpi"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:18"


def test_no_kgi(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN.replace("kind: kgi", "kind: ksf"))
    diag = only(result, "KT023")
    assert diag.message("en") == "no KGI: mark the one goal node with 'kind: kgi'"
    assert where(diag, tmp_path) == "kpitree.yaml:4:1"


def test_a_tree_without_nodes_has_no_kgi(tmp_path: Path) -> None:
    """``nodes: {}`` is a located error from check and from every command, not a crash."""
    import subprocess
    import sys

    (tmp_path / "kpitree.yaml").write_text("kpitree: 1\nname: x\nnodes: {}\n", encoding="utf-8")
    for command in ("check", "status"):
        result = subprocess.run(
            [sys.executable, "-m", "kpitree", command, str(tmp_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "KPITREE_LANG": "en"},
        )
        assert result.returncode == 1, result.stderr
        assert "no KGI" in result.stderr, result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_kgi_with_another_error_is_still_the_kgi(check: Check) -> None:
    # The KGI is invalid for another reason; "no KGI" on top would be a false alarm.
    result = check(CLEAN.replace("kind: kgi, unit: currency", "kind: kgi, unit: yen"))
    assert [d.code for d in result.errors] == ["KT012"]


def test_unit_mismatch_marks_the_operation(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  mixed: {unit: count, owner: marketing, formula: leads + price}\n")
    diag = only(result, "KT024")
    assert diag.message("en") == "units do not match in the formula of 'mixed': count + currency"
    assert where(diag, tmp_path) == "kpitree.yaml:13:51"
    assert diag.span is not None and diag.span.end_column == 64
    rendered = format_diagnostic(diag).splitlines()
    assert rendered[2] == " " * 4 + " " * 50 + "^" * 13


def test_unit_of_formula_differs_from_declared(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  avg: {unit: count, owner: field_sales, formula: revenue / deals}\n")
    diag = only(result, "KT024")
    assert diag.message("en") == (
        "the formula of 'avg' gives currency, but the node is declared as count"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:51"


def test_ratio_above_one(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN.replace("assume: 0.2", "assume: 25"))
    diag = only(result, "KT025")
    assert diag.message("en") == (
        "'win_rate' is a ratio, so its assume must be between 0 and 1 (got 25.0); write 25% as 0.25"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:11:55"


def test_target_period_key(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  signups: {unit: count, owner: marketing, target: {2026/04: 5}}\n")
    diag = only(result, "KT028")
    assert diag.message("en") == (
        "target of 'signups': '2026/04' is not a period; use 'YYYY-MM' (e.g. '2026-04') "
        "or 'monthly'"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:53"


def test_team_shares_must_add_up(check: Check, tmp_path: Path) -> None:
    result = check(
        CLEAN + "organisation:\n  field_sales:\n    teams:\n"
        "      east: {share: 0.5}\n      west: {share: 0.4}\n"
    )
    diag = only(result, "KT030")
    assert diag.message("en") == "shares under field_sales add up to 0.9, not 1"
    assert where(diag, tmp_path) == "kpitree.yaml:16:7"


def test_capacity_names_a_node_and_a_range(check: Check, tmp_path: Path) -> None:
    result = check(
        CLEAN + "organisation:\n  inside_sales:\n    capacity: {node: lead, min: 50, max: 40}\n"
    )
    unknown, bad_range = (d for d in result.diagnostics if d.code == "KT452")
    assert unknown.message("en") == (
        "the capacity of 'inside_sales' names 'lead', which is not a node (did you mean 'leads'?)"
    )
    assert where(unknown, tmp_path) == "kpitree.yaml:15:22"
    assert bad_range.message("en") == (
        "the capacity of 'inside_sales' has min above max; min and max are per rep per month"
    )


def test_scenario_sets_unknown_node(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "scenarios:\n  optimistic:\n    set: {win_rat: 0.3}\n")
    diag = only(result, "KT031")
    assert diag.message("en") == (
        "scenario 'optimistic' sets 'win_rat', which is not a node (did you mean 'win_rate'?)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:15:11"


# --- warning rules ---------------------------------------------------------------------


def test_missing_unit(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  nps: {owner: customer_success}\n")
    diag = only(result, "KT102")
    assert diag.severity is Severity.WARNING
    assert diag.message("en") == (
        "'nps' has no unit (count, currency, ratio, days, hours, score or number)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:3"


def test_no_period_anywhere(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN.replace("period: month\n", ""))
    diag = only(result, "KT103")
    assert diag.message("en") == (
        "no review period is set (SMART: time-bound); add 'period: month' at the top of "
        "the file or to each KPI"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:3:1"


def test_no_period_on_one_kpi(check: Check, tmp_path: Path) -> None:
    text = CLEAN.replace("period: month\n", "").replace(
        "indicator: leading}", "indicator: leading, period: week}"
    )
    text = text.replace("assume: 0.2}", "assume: 0.2, period: month}")
    text = text.replace("assume: 10}", "assume: 10, period: month}")
    result = check(text)
    diag = only(result, "KT103")
    assert diag.message("en") == (
        "KPI 'deals' has no review period (SMART: time-bound); add 'period: month' to it"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:8:3"


def test_period_is_not_doubted_when_the_head_has_an_error(check: Check) -> None:
    result = check(CLEAN.replace("name: Test plan\n", ""))
    assert [d.code for d in result.diagnostics] == ["KT011"]


def test_missing_owner(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  nps: {unit: score}\n")
    diag = only(result, "KT104")
    assert diag.message("en") == (
        "KPI 'nps' has no owner department "
        "(marketing, inside_sales, field_sales, customer_success, ...)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:3"


def test_disconnected_node(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  nps: {unit: score, owner: customer_success}\n")
    diag = only(result, "KT105")
    assert diag.message("en") == (
        "'nps' is not connected to the KGI 'revenue' (by a formula or drivers)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:3"


def test_driver_connects_a_node(check: Check) -> None:
    text = CLEAN.replace(
        "renewal_revenue: {kind: ksf,", "renewal_revenue: {kind: ksf, drivers: [nps],"
    )
    result = check(text + "  nps: {unit: score, owner: customer_success}\n")
    assert result.diagnostics == ()


def test_ksf_count(check: Check, tmp_path: Path) -> None:
    result = check(ISSUE_EXAMPLE)
    diag = only(result, "KT106")
    assert diag.message("en") == "0 KSF(s) defined; 3 to 5 are recommended"
    assert where(diag, tmp_path) == "kpitree.yaml:5:1"


def test_too_many_organisation_kpis(check: Check, tmp_path: Path) -> None:
    names = ["a", "b", "c", "d", "e", "f"]
    lines = [f"  {n}: {{unit: count, owner: marketing}}\n" for n in names]
    text = (
        "kpitree: 1\nname: wide\nperiod: month\nnodes:\n"
        "  total: {kind: kgi, unit: count, formula: a + b + c + d + e + f}\n" + "".join(lines)
    )
    diag = only(check(text), "KT107")
    assert diag.message("en") == (
        "6 KPIs sit directly under the KGI and KSFs (a, b, c, d, e, f); at most 5 are "
        "recommended for the whole organisation"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:4:1"


def test_too_many_kpis_in_one_department(check: Check, tmp_path: Path) -> None:
    extra = "".join(
        f"  {n}: {{unit: count, owner: marketing, drivers: [leads]}}\n"
        for n in ("mqls", "visits", "downloads")
    )
    diag = only(check(CLEAN + extra), "KT108")
    assert diag.message("en") == (
        "department 'marketing' owns 4 KPIs; 2 to 3 per department are recommended"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:10:31"


def test_no_leading_indicator(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN.replace("indicator: leading", "indicator: lagging"))
    diag = only(result, "KT109")
    assert diag.message("en") == (
        "no leading indicator: mark activity KPIs (calls, leads, meetings) with "
        "'indicator: leading'"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:4:1"


def test_driver_points_nowhere(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  nps: {unit: score, owner: customer_success, drivers: [revenu]}\n")
    diag = only(result, "KT110")
    assert diag.message("en") == (
        "'nps' lists driver 'revenu', which is not a node (did you mean 'revenue'?)"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:57"


def test_target_and_assumption(check: Check, tmp_path: Path) -> None:
    result = check(
        CLEAN.replace("indicator: leading}", "indicator: leading, target: 10, assume: 12}")
    )
    diag = only(result, "KT111")
    assert diag.message("en") == (
        "'leads' has both a target and an assumption; planning uses the target"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:10:82"


def test_unknown_owner(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  nps: {unit: score, owner: custmer_success, drivers: [revenue]}\n")
    diag = only(result, "KT112")
    assert diag.message("en") == (
        "owner 'custmer_success' of 'nps' is not a known department (did you mean "
        "'customer_success'?); declare it under 'organisation' if it is yours"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:29"


def test_declared_department_is_a_known_owner(check: Check) -> None:
    text = CLEAN.replace("owner: marketing", "owner: partners")
    assert [d.code for d in check(text).diagnostics] == ["KT112"]
    result = check(text + "organisation:\n  partners: {label: Partner sales}\n")
    assert result.diagnostics == ()


def test_named_funnel_stages_must_be_a_chain_of_rates(check: Check, tmp_path: Path) -> None:
    assert check(CLEAN + "funnel: [leads, deals]\n").diagnostics == ()
    result = check(CLEAN + "funnel: [leads, price]\n")
    diag = only(result, "KT560")
    assert diag.message("en").startswith(
        "funnel stage 'price' is not computed as the stage before it, 'leads', times a rate"
    )
    assert where(diag, tmp_path) == "kpitree.yaml:13:17"
    diag = only(check(CLEAN + "funnel: [lead, deals]\n"), "KT560")
    assert diag.message("en") == "funnel names 'lead', which is not a node (did you mean 'leads'?)"
    diag = only(check(CLEAN + "funnel: [deals]\n"), "KT560")
    assert "at least two stages" in diag.message("en")


def test_chain_deeper_than_the_limit(check: Check, tmp_path: Path) -> None:
    from kpitree.definition.graph import MAX_TREE_DEPTH

    lines = [f"  n{i}: {{unit: count, owner: marketing, formula: n{i + 1} + 1}}" for i in range(60)]
    result = check(CLEAN + "\n".join(lines) + "\n  n60: {unit: count, owner: marketing}\n")
    diag = only(result, "KT041")
    assert diag.message("en").startswith(
        f"the formulas below 'n{60 - MAX_TREE_DEPTH}' chain more than {MAX_TREE_DEPTH} levels"
    )
    assert where(diag, tmp_path) == f"kpitree.yaml:{13 + 60 - MAX_TREE_DEPTH}:49"


def test_min_volume_only_on_rates_and_averages(check: Check, tmp_path: Path) -> None:
    result = check(CLEAN + "  sqls: {unit: count, owner: marketing, min_volume: 5}\n")
    diag = only(result, "KT545")
    assert where(diag, tmp_path).startswith("kpitree.yaml:13:")
    assert "min_volume" in diag.message("en") and "sqls" in diag.message("en")
    fine = CLEAN.replace("assume: 0.2}", "assume: 0.2, min_volume: 50}")
    assert [d.code for d in check(fine).diagnostics] == []
    negative = check(CLEAN.replace("assume: 0.2}", "assume: 0.2, min_volume: -1}"))
    assert [d.code for d in negative.diagnostics] == ["KT012"]
    unknown_unit = check(CLEAN + "pacing: {min_volume: {count: 5}}\n")
    assert [d.code for d in unknown_unit.diagnostics] == ["KT012"]


def test_reference_range_in_order(check: Check, tmp_path: Path) -> None:
    text = CLEAN.replace("assume: 0.2}", "assume: 0.2, benchmark: {min: 0.3, max: 0.1}}")
    diag = only(check(text), "KT546")
    assert where(diag, tmp_path).startswith("kpitree.yaml:11:")
    assert "swap" in diag.message("en")


# --- the whole ---------------------------------------------------------------------------


COVERED = {
    "KT021", "KT022", "KT023", "KT024", "KT025", "KT026", "KT027", "KT028", "KT030", "KT031",
    "KT102", "KT103", "KT104", "KT105", "KT106", "KT107", "KT108", "KT109", "KT110", "KT111",
    "KT112", "KT452", "KT560", "KT041", "KT545", "KT546",
}  # fmt: skip


def test_every_rule_has_a_test_here() -> None:
    assert {rule.code for rule in RULES} <= COVERED


def test_japanese_message(check: Check) -> None:
    result = check(CLEAN + "  sqls: {unit: count, owner: marketing, targt: 5}\n")
    assert only(result, "KT010").message("ja") == (
        "nodes.sqls に未知のキー 'targt' があります（もしかして 'target'？）"
    )


def test_issue_example_has_no_errors(check: Check) -> None:
    result = check(ISSUE_EXAMPLE)
    assert result.ok
    assert result.tree is not None
    assert result.tree.kgi == "revenue"
    assert set(result.tree.nodes) == {
        "revenue", "won_deals", "win_rate", "opportunities", "opportunity_rate", "sqls",
        "avg_deal_size",
    }  # fmt: skip
    assert {d.code for d in result.warnings} == {"KT103", "KT106", "KT109"}


def test_ignored_warning_is_silenced(check: Check) -> None:
    result = check(ISSUE_EXAMPLE + "checks: {ignore: [KT106]}\n")
    assert "KT106" not in {d.code for d in result.diagnostics}
    assert {d.code for d in result.warnings} == {"KT103", "KT109"}


def test_errors_cannot_be_ignored(check: Check) -> None:
    text = CLEAN.replace("leads * win_rate", "leads * win_rat")
    result = check(text + "checks: {ignore: [KT021]}\n")
    assert [d.code for d in result.errors] == ["KT021"]


def test_all_problems_are_reported_at_once(check: Check, tmp_path: Path) -> None:
    text = (
        CLEAN.replace("assume: 0.2", "assume: 20")
        .replace("leads * win_rate", "leadz * win_rate")
        .replace("name: Test plan", "name: Test plan\ncurency: JPY")
        + "  mixed: {unit: count, owner: marketing, formula: leads + price}\n"
    )
    result = check(text)
    found = [(d.code, where(d, tmp_path)) for d in result.errors]
    assert found == [
        ("KT010", "kpitree.yaml:3:1"),
        ("KT021", "kpitree.yaml:10:53"),
        ("KT025", "kpitree.yaml:12:55"),
        ("KT024", "kpitree.yaml:14:51"),
    ]
    assert result.tree is None
