"""SLA numbers on the hand-made company (worked out by hand in
tests/alerts/company.py), the SLA metrics as tree nodes, and ``kpitree sla``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from alerts.company import JST, NOW, build
from kpitree import Project
from kpitree.cli import main


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(build(tmp_path_factory.mktemp("sla")))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# By hand (see the table in tests/alerts/company.py).
EXPECTED = {
    "L1": ("met", 5.0),
    "L2": ("met", 1.5),
    "L3": ("breached", 12.0),
    "L7": ("breached", 8.5),
    "L4": ("breached", 12.0),
    "L5": ("open", 2.0),
    "L6": ("open", 7.0),
    "L8": ("met", 1.0),
}


def test_cases_match_the_hand_computation(project: Project) -> None:
    report = project.sla_report("2026-10", as_of=NOW)
    rule = report.rule("mql_first_touch")
    got = {c.id: (c.status, c.elapsed_hours) for c in rule.cases}
    assert got == EXPECTED
    due = {c.id: c.due for c in rule.cases}
    assert due["L2"] == dt.datetime(2026, 10, 13, 16, 30, tzinfo=JST)  # over Sports Day
    assert due["L4"] == dt.datetime(2026, 10, 13, 17, 0, tzinfo=JST)  # Saturday MQL
    s = rule.summary
    assert (s.cases, s.met, s.breached, s.open) == (8, 3, 3, 2)
    assert s.compliance == pytest.approx(0.5)
    assert s.p50_hours == pytest.approx(5.0)
    assert s.p95_hours == pytest.approx(11.3)
    assert [c.id for c in rule.breaches] == ["L7", "L3", "L4"]
    assert [(c.id, c.remaining_hours) for c in rule.about_to_breach] == [("L6", 1.0)]


def test_per_owner_and_team_rows(project: Project) -> None:
    rows = {g.key["owner"]: g.summary for g in project.sla_report("2026-10", as_of=NOW).rule(
        "mql_first_touch").groups}  # fmt: skip
    assert (rows["r1"].met, rows["r1"].breached, rows["r1"].open) == (2, 2, 0)
    assert (rows["r2"].met, rows["r2"].breached, rows["r2"].open) == (1, 1, 2)
    # r1 answered in 5, 1.5, 12, 8.5 h: P50 = (5 + 8.5) / 2; P95 = 8.5 + 0.85 * 3.5.
    assert rows["r1"].p50_hours == pytest.approx(6.75)
    assert rows["r1"].p95_hours == pytest.approx(11.475)
    teams = project.sla_report("2026-10", as_of=NOW, by="team").rule("mql_first_touch").groups
    assert [(g.key["team"], g.summary.cases) for g in teams] == [("東日本", 4), ("西日本", 4)]


def test_later_now_sees_later_responses(project: Project) -> None:
    # At 16:00 the call of 15:00 to L5 is known: met in 5 h; L6 is past due.
    later = dt.datetime(2026, 10, 14, 16, 0, tzinfo=JST)
    rule = project.sla_report("2026-10", as_of=later).rule("mql_first_touch")
    got = {c.id: c.status for c in rule.cases}
    assert got["L5"] == "met" and got["L6"] == "breached"
    assert rule.summary.compliance == pytest.approx(4 / 8)


def test_sla_metrics_are_tree_nodes(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    # `kpitree status` measures the node first_touch with the SLA metric: as
    # of the end of 10-14, L5 is met and L6 breached: 4 of 8, 2 of 4 per rep.
    code, out, err = run_cli(
        capsys, "status", str(project.path), "-p", "2026-10", "--as-of", "2026-10-14",
        "--by", "rep", "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    rows = payload["rows"] if isinstance(payload, dict) else payload
    found = {tuple(sorted(r["segment"].items())): r for r in rows if r["node"] == "first_touch"}
    company = found[()]
    assert company["actual"] == pytest.approx(0.5) and company["volume"] == 8
    assert company["target"] == pytest.approx(0.9)
    rep_rows = [r for key, r in found.items() if ("rep", "r1") in key]
    assert rep_rows and rep_rows[0]["actual"] == pytest.approx(0.5)


def test_other_sla_metrics(project: Project) -> None:
    from kpitree.compute.measure import measure
    from kpitree.compute.periods import parse_period

    october = parse_period("2026-10")
    with project.engine() as engine:
        frames = measure(
            engine,
            project.catalogue,
            ["first_touch_p95", "first_touch_breaches"],
            [october],
            [(), ("team",)],
            as_of=dt.date(2026, 10, 13),
        )
    # End of 10-13: L1 5 h, L2 1.5 h, L3 12 h, L7 8.5 h, L8 1 h answered; L4
    # breached (due 10-13 17:00); L6 open; L5 not yet an MQL.
    company = frames[()].iloc[0]
    assert company["first_touch_breaches"] == 3
    assert company["first_touch_p95"] == pytest.approx(11.3)
    teams = frames[("team",)].set_index("dim__team")
    assert teams.loc["西日本", "first_touch_breaches"] == 1


def test_kpitree_sla_json(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "sla", str(project.path), "-p", "2026-10", "--as-of", "2026-10-14T12:00",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    rule = data["rules"][0]
    assert (rule["met"], rule["breached"], rule["open"]) == (3, 3, 2)
    assert rule["compliance"] == 0.5 and rule["p95_hours"] == pytest.approx(11.3)
    assert [c["id"] for c in rule["breaches"]] == ["L7", "L3", "L4"]
    assert rule["about_to_breach"] == 1
    assert rule["about_to_breach_cases"][0]["id"] == "L6"
    assert {r["owner"] for r in rule["rows"]} == {"r1", "r2"}
    code, out, err = run_cli(capsys, "--lang", "ja", "sla", str(project.path), "-p", "2026-10",
                             "--as-of", "2026-10-14T12:00")  # fmt: skip
    assert code == 0 and "MQL初回対応" in out and "遵守率" in out
    code, out, err = run_cli(capsys, "sla", str(project.path), "--by", "channel")
    assert code == 1 and "KT761" not in out and "channel" in err


def test_calendar_clock(tmp_path: Path) -> None:
    from alerts.company import DEFINITION

    text = DEFINITION.replace("    within_hours: 8\n", "    within_hours: 8\n    clock: calendar\n")
    project = Project.load(build(tmp_path, text))
    rule = project.sla_report("2026-10", as_of=NOW).rule("mql_first_touch")
    got = {c.id: (c.status, round(c.elapsed_hours, 2)) for c in rule.cases}
    # L2: Fri 17:30 -> Tue 10:00 is 88.5 wall-clock hours.
    assert got["L2"] == ("breached", 88.5)
    assert got["L1"] == ("met", 5.0)


def test_cases_read_once_stand_at_any_moment(tmp_path: Path) -> None:
    """The dashboard reads an SLA's cases once per data version and works out
    their status again each minute: cases read at one moment give, at a later
    one, what a report read then gives (responses made in between count), and
    doing so reads no data (the warehouse may be gone by then)."""
    from kpitree.sla.report import read_facts, report_at, report_moment

    project = Project.load(build(tmp_path))
    period, _ = report_moment(project, "2026-10", NOW)
    with project.engine() as engine:
        facts = read_facts(project.tree, engine, period)
    later = dt.datetime(2026, 10, 14, 16, 0, tzinfo=JST)
    expected = {
        (moment, by): project.sla_report("2026-10", by=by, as_of=moment).to_json(with_cases=True)
        for moment in (NOW, later)
        for by in ("owner", "team")
    }
    warehouse = Path(project.warehouse_target.removeprefix("duckdb://"))
    warehouse.rename(warehouse.with_name("moved.duckdb"))
    for moment in (NOW, later):
        for by in ("owner", "team"):
            now = report_moment(project, "2026-10", moment)[1]
            got = report_at(project.tree, facts, period, now, by=by)
            assert got.to_json(with_cases=True) == expected[moment, by]
    rule = report_at(project.tree, facts, period, NOW).rule("mql_first_touch")
    assert {c.id: (c.status, c.elapsed_hours) for c in rule.cases} == EXPECTED
    rule = report_at(project.tree, facts, period, later).rule("mql_first_touch")
    got = {c.id: c.status for c in rule.cases}
    assert got["L5"] == "met" and got["L6"] == "breached"
