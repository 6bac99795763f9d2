"""``kpitree data check`` on a small company whose problems are known by
construction (tests/data/quality_company.py), checked as of 2026-06-30: every
rule's count and record ids are asserted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .quality_company import AS_OF, LEADS_MAP, REPS_MAP, build_company, cli_runner, write


@pytest.fixture
def kpitree(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KPITREE_LANG", "en")
    return cli_runner(capsys)


@pytest.fixture
def company(tmp_path: Path, kpitree: Any) -> Path:
    return build_company(tmp_path, kpitree)


def _findings(report: dict[str, Any]) -> dict[tuple[str, str], tuple[int, list[str]]]:
    return {(f["rule"], f["table"]): (f["count"], f["examples"]) for f in report["findings"]}


def test_every_rule_finds_exactly_the_records_built_to_trip_it(company: Path, kpitree: Any) -> None:
    run = kpitree("data", "check", str(company), "--as-of", AS_OF, "--json")
    assert run.code == 1, run.err  # errors were found
    report = run.json()
    assert report["as_of"] == AS_OF
    assert report["status"] == "error"
    found = _findings(report)
    stale = {k: v for k, v in found.items() if k[0] == "stale_source"}
    assert {k: v for k, v in found.items() if k[0] != "stale_source"} == {
        ("stage_backwards", "lead_stage_history"): (2, ["L3", "L4"]),
        ("stage_backwards", "deal_stage_history"): (1, ["D4"]),
        ("stage_skipped", "lead_stage_history"): (1, ["L2"]),
        ("before_creation", "lead_stage_history"): (1, ["L4"]),
        ("before_creation", "deal_stage_history"): (1, ["D4"]),
        ("before_creation", "deals"): (1, ["D4"]),
        ("in_future", "leads"): (1, ["L6"]),
        ("in_future", "lead_stage_history"): (2, ["L5", "L6"]),
        ("in_future", "activities"): (1, ["A3"]),
        ("negative_duration", "deals"): (2, ["D3", "D5"]),
        ("deal_without_amount", "deals"): (1, ["D2"]),
        ("deal_without_owner", "deals"): (1, ["D2"]),
        ("lead_without_owner", "leads"): (1, ["L3"]),
        ("owner_without_assignment", "deals"): (1, ["R3"]),
        ("lost_characters", "reps"): (1, ["R2"]),
        ("lost_characters", "leads"): (1, ["L5"]),
        ("dangling_reference", "deals"): (1, ["D7"]),
        # D7's lead (L99) is not stored and nothing else links it to a lead.
        ("unlinked_deal", "deals"): (1, ["D7"]),
    }
    # Newest facts up to the as-of day: leads 04-10, deals 04-20, activities
    # 04-20 ... all more than the default 7 days before 2026-06-30.
    fresh = {f["table"]: (f["newest"], f["days"], f["stale"]) for f in report["freshness"]}
    assert fresh == {
        "leads": ("2026-04-10", 81, True),
        "lead_stage_history": ("2026-04-20", 71, True),
        "deals": ("2026-04-20", 71, True),
        "deal_stage_history": ("2026-05-01", 60, True),
        "activities": ("2026-04-20", 71, True),
    }
    assert set(stale) == {("stale_source", t) for t in fresh}
    assert stale[("stale_source", "leads")] == (6, [])
    levels = {(f["rule"], f["table"]): f["level"] for f in report["findings"]}
    assert levels[("in_future", "leads")] == "error"
    assert levels[("deal_without_amount", "deals")] == "warning"


def test_findings_name_the_metrics_and_nodes_they_touch(company: Path, kpitree: Any) -> None:
    report = kpitree("data", "check", str(company), "--as-of", AS_OF, "--json").json()
    by = {(f["rule"], f["table"]): f for f in report["findings"]}
    amount = by[("deal_without_amount", "deals")]
    assert "avg_deal_size" in amount["nodes"] and "won_deals" not in amount["nodes"]
    assert "revenue" in amount["metrics"] and "new_revenue" in amount["nodes"]
    mql = by[("stage_backwards", "lead_stage_history")]
    assert "mqls" in mql["nodes"] and "leads" not in mql["nodes"]
    assert "leads" in by[("in_future", "leads")]["nodes"]


def test_thresholds_and_levels_from_kpitree_yaml(company: Path, kpitree: Any) -> None:
    yaml = company / "kpitree.yaml"
    yaml.write_text(
        yaml.read_text(encoding="utf-8")
        + "data:\n  quality:\n    examples: 1\n    stale_after_days: 90\n"
        "    stale_after: {activities: 30}\n"
        "    levels: {in_future: warning, before_creation: warning, negative_duration: off}\n",
        encoding="utf-8",
    )
    run = kpitree("data", "check", str(company), "--as-of", AS_OF, "--json")
    report = run.json()
    found = _findings(report)
    assert found[("stage_backwards", "lead_stage_history")] == (2, ["L3"])
    assert not any(rule == "negative_duration" for rule, _ in found)
    assert [t for rule, t in found if rule == "stale_source"] == ["activities"]
    assert report["errors"] == 0 and report["status"] == "warning"
    assert run.code == 0
    assert (
        kpitree("data", "check", str(company), "--as-of", AS_OF, "--fail-on", "warning").code == 1
    )


def test_a_clean_company_passes_and_the_text_report_reads(tmp_path: Path, kpitree: Any) -> None:
    project = tmp_path / "co"
    assert kpitree("init", str(project)).code == 0
    csv = write(tmp_path, "leads.csv", "ID,Created,Owner,MQL,SQL,Opp,Name\nL1,2026/06/29,R1,,,,a\n")
    yaml = write(tmp_path, "leads.yaml", LEADS_MAP)
    assert kpitree("import", csv, "--mapping", yaml, "--project", str(project)).code == 0
    reps = write(tmp_path, "reps.csv", "rep,name,team,since\nR1,森,東,2026/04/01\n")
    assert (
        kpitree(
            "import",
            reps,
            "--mapping",
            write(tmp_path, "r.yaml", REPS_MAP),
            "--project",
            str(project),
        ).code
        == 0
    )
    run = kpitree("data", "check", str(project), "--as-of", AS_OF)
    assert run.code == 0, run.out + run.err
    assert run.out.splitlines()[0] == "Data check as of 2026-06-30: 0 errors, 0 warnings"
    assert "leads               leads.yaml  newest 2026-06-29 (1 days; stale after 7)" in run.out


def test_the_text_report_names_records_and_nodes(company: Path, kpitree: Any) -> None:
    run = kpitree("data", "check", str(company), "--as-of", AS_OF)
    assert run.code == 1
    assert "error KT843 leads: 1 records with a fact after the as-of day" in run.out
    assert "  e.g. L5, L6" in run.out
    assert "warning KT845 deals: 1 deals without an amount" in run.out


def test_a_bad_fail_on_is_a_user_error(tmp_path: Path, kpitree: Any) -> None:
    run = kpitree("data", "check", str(tmp_path), "--fail-on", "sometimes")
    assert run.code == 1
    assert run.err == "error: --fail-on expects error or warning, got 'sometimes'\n"


@pytest.mark.postgres
def test_postgresql_finds_the_same(company: Path, postgres_url: str) -> None:
    """The same rules through Ibis on PostgreSQL give the same findings."""
    import datetime as dt

    from kpitree.compute.quality import check_quality
    from kpitree.data.schema import TABLES
    from kpitree.engines import copy_warehouse, open_engine
    from kpitree.project import Project

    project = Project.load(company)
    day = dt.date.fromisoformat(AS_OF)
    with project.engine() as engine:
        on_duckdb = check_quality(engine, project.catalogue, project.tree, day).to_json()
    # The tables and what is derived from them (the cross-source links).
    counts = copy_warehouse(project.warehouse_target, postgres_url)
    assert set(counts) == {t.name for t in TABLES}
    with open_engine(postgres_url, timezone=project.tree.timezone) as pg:
        on_postgres = check_quality(pg, project.catalogue, project.tree, day).to_json()
    # The copy brings where the facts came from: the same sources, day by day.
    assert {fr["source"] for fr in on_postgres["freshness"]} == {
        "leads.yaml",
        "deals.yaml",
        "activities.yaml",
    }
    assert on_postgres == on_duckdb
    assert on_duckdb["findings"]


ACCOUNTS_MAP = """\
mapping: 1
tables:
  accounts:
    account_id: 取引先名
    name: 取引先名
"""


def test_a_table_without_dates_is_not_called_stale(tmp_path: Path, kpitree: Any) -> None:
    # Accounts from an opportunity report carry no date: nothing says how old they are.
    project = tmp_path / "co"
    assert kpitree("init", str(project)).code == 0
    csv = write(tmp_path, "accounts.csv", "取引先名\n株式会社A\n株式会社B\n")
    yaml = write(tmp_path, "accounts.yaml", ACCOUNTS_MAP)
    assert kpitree("import", csv, "--mapping", yaml, "--project", str(project)).code == 0
    report = kpitree("data", "check", str(project), "--as-of", AS_OF, "--json").json()
    assert [f["rule"] for f in report["findings"]] == []
    (accounts,) = [f for f in report["freshness"] if f["table"] == "accounts"]
    assert (accounts["newest"], accounts["days"], accounts["stale"]) == (None, None, False)
    run = kpitree("data", "check", str(project), "--as-of", AS_OF)
    assert "None" not in run.out
    assert "no dated fact up to the as-of day: its freshness cannot be told" in run.out


def test_a_record_with_two_broken_references_is_one_record(
    company: Path, kpitree: Any, tmp_path: Path
) -> None:
    """D8 names a lead and an account that are both missing: one record to fix,
    not two. D1's account (ACME) is missing once accounts exist."""
    accounts = write(tmp_path, "accounts.csv", "ID,Name\nOTHER,Other KK\n")
    mapping = write(
        tmp_path,
        "accounts.yaml",
        "mapping: 1\ntables:\n  accounts:\n    account_id: ID\n    name: Name\n",
    )
    assert kpitree("import", accounts, "--mapping", mapping, "--project", str(company)).code == 0
    more = write(
        tmp_path,
        "more-deals.csv",
        "ID,Lead,Created,Close,Won,Amount,Status,Owner,Account\n"
        "D8,L98,2026/04/21,,,100,open,R1,GONE\n",
    )
    maps = write(tmp_path, "more-deals.yaml", (company.parent / "deals.yaml").read_text())
    assert kpitree("import", more, "--mapping", maps, "--project", str(company)).code == 0
    report = kpitree("data", "check", str(company), "--as-of", AS_OF, "--json").json()
    found = _findings(report)
    count, examples = found[("dangling_reference", "deals")]
    assert (count, sorted(examples)) == (3, ["D1", "D7", "D8"])
