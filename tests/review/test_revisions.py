"""Revisions of the definition: a target changed in October leaves the Q2
review as it was and changes Q3; ``--targets current`` compares with today's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.reports import build_report

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

AS_OF = dt.date(2026, 3, 31)


def _set_calls_target(folder: Path, old: str, new: str) -> None:
    file = folder / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new), encoding="utf-8")


def _target(project: Project, period: str, targets: str = "then") -> float | None:
    result = project.status(period, as_of=AS_OF, explain=False, compare=False, targets=targets)
    return result.row("calls", result.periods[0].key).target


def _history(planted: Path, cli: Any) -> None:
    first = cli("revise", planted, "-m", "FY2025 plan", "--at", "2025-04-01", "--author", "佐藤")
    assert first.code == 0, first.err
    _set_calls_target(planted, "target: {monthly: 600}", "target: {monthly: 900}")
    second = cli("revise", planted, "-m", "more calls", "--at", "2025-10-10T09:00")
    assert second.code == 0, second.err


def test_a_target_changed_in_october_changes_q3_not_q2(planted: Path, cli: Any) -> None:
    _history(planted, cli)
    project = Project.load(planted)
    assert project.period("2025-Q2").start == dt.date(2025, 7, 1)
    assert _target(project, "2025-Q2") == pytest.approx(3 * 600)
    assert _target(project, "2025-Q3") == pytest.approx(3 * 900)
    assert _target(project, "2025-Q2", "current") == pytest.approx(3 * 900)
    # The monthly review packs: September as it was asked, October with the new target.
    sept = build_report(project, "2025-09", lang="en", as_of=AS_OF)
    octo = build_report(project, "2025-10", lang="en", as_of=AS_OF)
    assert next(line.target for line in sept.tree if line.node == "calls") == pytest.approx(600)
    assert next(line.target for line in octo.tree if line.node == "calls") == pytest.approx(900)
    today = build_report(project, "2025-09", lang="en", as_of=AS_OF, targets="current")
    assert next(line.target for line in today.tree if line.node == "calls") == pytest.approx(900)
    status = cli("status", planted, "--period", "2025-Q2", "--as-of", "2026-03-31", "--json")
    current = cli(
        "status", planted, "--period", "2025-Q2", "--as-of", "2026-03-31", "--targets", "current",
        "--json",
    )  # fmt: skip
    assert status.code == 0 and current.code == 0, status.err + current.err
    assert "1,800" in status.out or "1800" in status.out
    assert "2700" in current.out or "2,700" in current.out


def test_without_a_history_targets_are_todays(planted: Path) -> None:
    _set_calls_target(planted, "target: {monthly: 600}", "target: {monthly: 900}")
    project = Project.load(planted)
    assert _target(project, "2025-Q2") == pytest.approx(2700)
    assert not (planted / ".kpitree" / "app.sqlite").exists()  # nothing made by a status


def test_revisions_list_and_diff(planted: Path, cli: Any) -> None:
    _history(planted, cli)
    listed = cli("revisions", planted, "--json").json()
    assert [(r["id"], r["author"], r["reason"], r["changes"]) for r in listed] == [
        (1, "佐藤", "FY2025 plan", 0),
        (2, listed[1]["author"], "more calls", 1),
    ]
    assert listed[1]["at"].startswith("2025-10-10T09:00:00+09:00")
    diff = cli("revisions", planted, "--diff", "2", "--json").json()
    assert diff["changes"] == [
        {"key": "nodes.calls.target.monthly", "kind": "changed", "old": 600, "new": 900}
    ]
    text = cli("revisions", planted, "--diff", "2", "--text").out
    assert "-    target: {monthly: 600}" in text and "+    target: {monthly: 900}" in text
    words = cli("revisions", planted, "--diff", "2", lang="ja").out
    assert "nodes.calls.target.monthly: 600 → 900" in words
    assert cli("revise", planted).out.startswith("The definition has not changed")


def test_an_unrecorded_edit_is_caught_up(planted: Path, cli: Any) -> None:
    _history(planted, cli)
    _set_calls_target(planted, "target: {monthly: 400}", "target: {monthly: 450}")
    _target(Project.load(planted), "2025-Q3")
    listed = cli("revisions", planted, "--json").json()
    assert len(listed) == 3 and listed[2]["automatic"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2025-03-01"], "before the latest revision 1"),
        (["--at", "2999-01-01"], "in the future"),
        (["--at", "soon"], "Cannot read 'soon'"),
    ],
)
def test_revision_mistakes(planted: Path, cli: Any, args: list[str], message: str) -> None:
    assert cli("revise", planted, "--at", "2025-04-01").code == 0
    _set_calls_target(planted, "target: {monthly: 600}", "target: {monthly: 900}")
    result = cli("revise", planted, *args)
    assert result.code == 1 and message in result.err


def test_an_unreadable_app_database_means_todays_targets(planted: Path, cli: Any) -> None:
    _history(planted, cli)
    (planted / ".kpitree" / "app.sqlite").write_bytes(b"not a database at all" * 100)
    for extra in planted.glob(".kpitree/app.sqlite-*"):
        extra.unlink()
    assert _target(Project.load(planted), "2025-Q2") == pytest.approx(2700)


def _kgi_history(planted: Path, cli: Any) -> None:
    """The KGI asked for 150 MQLs a month from April, 200 from 10 October
    (and calls 600 → 900 with it)."""
    _set_calls_target(planted, "target: 1800\n", "target: {monthly: 150}\n")
    assert cli("revise", planted, "-m", "plan", "--at", "2025-04-01").code == 0
    _set_calls_target(planted, "target: {monthly: 150}\n", "target: {monthly: 200}\n")
    _set_calls_target(planted, "target: {monthly: 600}", "target: {monthly: 900}")
    assert cli("revise", planted, "-m", "more", "--at", "2025-10-10T09:00").code == 0


def _cumulative(monthly: list[float]) -> list[float]:
    out, total = [], 0.0
    for value in monthly:
        total += value
        out.append(total)
    return out


def test_last_quarters_burnup_and_alert_use_the_targets_valid_then(planted: Path, cli: Any) -> None:
    from kpitree.alerts.evaluate import evaluate_rules
    from kpitree.definition.spec_alerts import AlertRuleSpec

    _kgi_history(planted, cli)
    project = Project.load(planted)
    # September's pack: the year as September's plan had it, 150 a month.
    sept = build_report(project, "2025-09", lang="en", as_of=dt.date(2025, 10, 5))
    assert [p.target for p in sept.burnup] == pytest.approx(_cumulative([150.0] * 12))
    # October's pack: April-September as asked then, October on the new plan.
    octo = build_report(project, "2025-10", lang="en", as_of=AS_OF)
    assert [p.target for p in octo.burnup] == pytest.approx(_cumulative([150.0] * 6 + [200.0] * 6))
    today = build_report(project, "2025-09", lang="en", as_of=AS_OF, targets="current")
    assert [p.target for p in today.burnup] == pytest.approx(_cumulative([200.0] * 12))
    # Last quarter's alert (evaluated at its end): 3 × 600 calls asked, not 3 × 900.
    rule = AlertRuleSpec.model_validate(
        {"node": "calls", "condition": "below_target", "period": "quarter", "threshold": 1000}
    )
    end_of_q2 = dt.datetime(2025, 9, 30, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    (finding,) = evaluate_rules(project, {"calls_q": rule}, end_of_q2)
    assert finding.period == "FY2025-Q2" and finding.holds is True
    assert finding.facts["reference"] == pytest.approx(1800)
    (asked_today,) = evaluate_rules(project, {"calls_q": rule}, end_of_q2, targets="current")
    assert asked_today.period == "FY2025-Q2"
    assert asked_today.facts["reference"] == pytest.approx(2700)
    in_q3 = dt.datetime(2025, 12, 31, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    (later,) = evaluate_rules(project, {"calls_q": rule}, in_q3)
    assert later.facts["reference"] == pytest.approx(2700)


def test_the_tree_pages_burnup_draws_past_months_as_asked_then(planted: Path, cli: Any) -> None:
    from kpitree.web.views.burnup import burnup
    from kpitree.web.views.common import DirectSource, PageQuery

    _kgi_history(planted, cli)
    project = Project.load(planted)
    source = DirectSource(project, as_of=dt.date(2025, 11, 15))
    period = project.period("2025-11")
    drawn = burnup(source, PageQuery.from_params({}, "en"), period, "mqls")
    assert drawn is not None
    assert [p["target"] for p in drawn["points"]] == pytest.approx(
        _cumulative([150.0] * 6 + [200.0] * 6)
    )


def test_the_plan_page_shows_the_history_and_a_diff(planted: Path, cli: Any) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    _history(planted, cli)
    with closing(
        TestClient(
            create_app(planted), base_url="http://localhost", headers={"Accept-Language": "en"}
        )
    ) as client:
        found = client.get("/api/plan/revisions").json()
        newest, first = found["revisions"]
        assert (newest["id"], newest["until"], newest["reason"]) == (2, None, "more calls")
        assert first["until"] == newest["at"] and first["until"].startswith("2025-10-10T09:00")
        assert [c["text"] for c in newest["plan_changes"]] == [
            "nodes.calls.target.monthly: 600 → 900"
        ]
        assert found["diff"] is None
        diff = client.get("/api/plan/revisions", params={"diff": 2, "against": 1}).json()["diff"]
        assert [(c["key"], c["old"], c["new"]) for c in diff["changes"]] == [
            ("nodes.calls.target.monthly", 600, 900)
        ]
        assert client.get("/api/plan/revisions", params={"diff": 9}).status_code == 400
        page = client.get("/plan", params={"diff": 2})
        assert page.status_code == 200, page.text[:500]
        assert 'data-revision="2"' in page.text and 'data-revision="1"' in page.text
        assert "nodes.calls.target.monthly: 600 → 900" in page.text
        assert 'data-testid="revision-diff"' in page.text
        assert "2025-04-01T00:00:00+09:00 – 2025-10-10T09:00:00+09:00" in page.text


def test_the_history_is_the_same_under_git(planted: Path, cli: Any) -> None:
    """A project folder in a git repository: the author defaults to git's
    user.name, a commit or a checkout of an older file changes nothing of the
    history but what the file says, and the targets valid then are the same."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")

    def run(*args: str) -> None:
        subprocess.run([git, "-C", str(planted), *args], check=True, capture_output=True)

    run("init", "-q")
    run("config", "user.name", "山田 太郎")
    run("config", "user.email", "yamada@example.com")
    run("add", "kpitree.yaml")
    run("commit", "-q", "-m", "plan")
    assert cli("revise", planted, "-m", "FY2025 plan", "--at", "2025-04-01").code == 0
    _set_calls_target(planted, "target: {monthly: 600}", "target: {monthly: 900}")
    run("commit", "-q", "-am", "more calls")
    assert cli("revise", planted, "-m", "more calls", "--at", "2025-10-10T09:00").code == 0
    listed = cli("revisions", planted, "--json").json()
    assert [(r["author"], r["reason"]) for r in listed] == [
        ("山田 太郎", "FY2025 plan"),
        ("山田 太郎", "more calls"),
    ]
    project = Project.load(planted)
    assert _target(project, "2025-Q2") == pytest.approx(1800)
    assert _target(project, "2025-Q3") == pytest.approx(2700)
    # Going back to the committed plan with git is one more change of the file.
    run("checkout", "HEAD~1", "--", "kpitree.yaml")
    assert cli("revise", planted, "-m", "back to 600").code == 0
    listed = cli("revisions", planted, "--json").json()
    assert [r["reason"] for r in listed] == ["FY2025 plan", "more calls", "back to 600"]
    diff = cli("revisions", planted, "--diff", "3", "--json").json()
    assert diff["changes"] == [
        {"key": "nodes.calls.target.monthly", "kind": "changed", "old": 900, "new": 600}
    ]
    assert _target(Project.load(planted), "2025-Q2") == pytest.approx(1800)


def test_the_pages_compare_a_past_period_with_todays_targets_on_request(
    planted: Path, cli: Any
) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    _history(planted, cli)
    with closing(
        TestClient(
            create_app(planted), base_url="http://localhost", headers={"Accept-Language": "en"}
        )
    ) as client:
        asked = client.get("/api/tree", params={"period": "2025-Q2"}).json()
        assert asked["nodes"]["calls"]["target"] == pytest.approx(1800)  # as asked then
        today = client.get("/api/tree", params={"period": "2025-Q2", "targets": "current"})
        assert today.json()["nodes"]["calls"]["target"] == pytest.approx(2700)
        node = client.get("/api/nodes/calls", params={"period": "2025-Q2", "targets": "current"})
        assert node.status_code == 200
        # The same cache serves both, each with its own targets.
        again = client.get("/api/tree", params={"period": "2025-Q2"}).json()
        assert again["nodes"]["calls"]["target"] == pytest.approx(1800)
        page = client.get("/", params={"period": "2025-Q2"}).text
        assert 'data-targets="then"' in page and "targets=current" in page
        page = client.get("/nodes/calls", params={"period": "2025-Q2", "targets": "current"}).text
        assert 'data-targets="current"' in page
        assert '<input type="hidden" name="targets" value="current">' in page  # kept on change
        wrong = client.get("/api/tree", params={"period": "2025-Q2", "targets": "today"})
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "KT233"
        assert "?targets=" in wrong.json()["error"]["message"]


def test_alerts_run_takes_the_targets_choice(planted: Path, cli: Any) -> None:
    """``kpitree alerts run --now <a past moment> --targets current`` compares
    last quarter with today's targets, as ``?targets=current`` on the pages."""
    import json

    _kgi_history(planted, cli)
    file = planted / "kpitree.yaml"
    text = file.read_text(encoding="utf-8")
    assert "\nalerts:" not in text
    file.write_text(
        text + "\nalerts:\n  calls_q:\n    node: calls\n    condition: below_target\n"
        "    period: quarter\n    threshold: 1000\n",
        encoding="utf-8",
    )
    end_of_q2 = "2025-09-30T20:00+09:00"
    run = ("alerts", "run", planted, "--now", end_of_q2, "--dry-run", "--json")
    answers = {
        targets: cli(*run, *(["--targets", targets] if targets else []))
        for targets in ("", "then", "current")
    }
    facts = {}
    for targets, answer in answers.items():
        assert answer.code == 0, answer.err
        (event,) = json.loads(answer.out)["events"]
        facts[targets] = event["facts"]
    assert facts[""] == facts["then"]
    assert facts["then"]["reference"] == pytest.approx(1800)
    assert facts["current"]["reference"] == pytest.approx(2700)
    wrong = cli("alerts", "run", planted, "--now", end_of_q2, "--dry-run", "--targets", "now")
    assert wrong.code != 0 and "--targets" in wrong.err and "'now'" in wrong.err
