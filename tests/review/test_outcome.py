"""An action's realised effect, measured on the planted company: the MQL rate
truly rises from 20% to 30% on 2025-10-01; leads do not change with it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.review.actions import ActionStore, NewAction
from kpitree.review.effect import Effect, parse_effect
from kpitree.review.outcome import measure_action

from .planted import LIFT_DAY

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


def _action(project: Project, effect: str, start: dt.date, due: dt.date, node: str = "mql_rate"):
    units = {n.id: n.unit_name for n in project.tree.nodes.values()}
    new = NewAction(node, "marketing", "nurture e-mails", effect, due, start).checked(units, start)
    with ActionStore(project.path, units) as store:
        return store.add(new, "tester")


def _measure(project: Project, action, as_of: dt.date):
    return measure_action(action, project.tree, project.status, as_of)


@pytest.mark.parametrize(
    ("text", "unit", "effect", "due"),
    [
        ("+3pt", "ratio", Effect("pt", 3), None),
        ("＋3ポイント", "ratio", Effect("pt", 3), None),
        ("-2.5%", "count", Effect("pct", -2.5), None),
        ("+20 by 2027-01", "count", Effect("abs", 20), dt.date(2027, 1, 31)),
        ("+3pt by 2027/01/15", "ratio", Effect("pt", 3), dt.date(2027, 1, 15)),
    ],
)
def test_expected_effects_are_read_as_people_write_them(
    text: str, unit: str, effect: Effect, due: dt.date | None
) -> None:
    assert parse_effect(text, unit) == (effect, due)


@pytest.mark.parametrize(
    ("text", "unit", "code"),
    [("lots", "ratio", "KT210"), ("+3pt", "count", "KT211"), ("+3", "ratio", "KT211")],
)
def test_unreadable_effects_say_how_to_write_them(text: str, unit: str, code: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_effect(text, unit)
    assert caught.value.diagnostics[0].code == code


def test_a_planted_lift_meets_its_expected_effect(planted: Path) -> None:
    project = Project.load(planted)
    action = _action(project, "+5pt", LIFT_DAY, dt.date(2025, 11, 30))
    outcome = _measure(project, action, dt.date(2025, 12, 31))
    assert outcome.state == "met"
    assert outcome.test == "two_proportion"
    assert outcome.before is not None and outcome.after is not None
    assert outcome.before.start == dt.date(2025, 8, 1)  # 61 days before, like the window
    assert outcome.realised == pytest.approx(0.10, abs=0.03)
    assert outcome.before.volume and outcome.before.volume > 500


def test_an_effect_larger_than_the_lift_is_not_met(planted: Path) -> None:
    project = Project.load(planted)
    action = _action(project, "+25pt", LIFT_DAY, dt.date(2025, 11, 30))
    assert _measure(project, action, dt.date(2025, 12, 31)).state == "not_met"


def test_a_window_too_short_to_tell_is_inconclusive(planted: Path) -> None:
    project = Project.load(planted)
    action = _action(project, "+5pt", LIFT_DAY, dt.date(2025, 10, 2))  # two days of leads
    outcome = _measure(project, action, dt.date(2025, 12, 31))
    assert outcome.state == "inconclusive"
    assert outcome.reason in ("low_volume", "cannot_tell")


def test_no_lift_where_there_is_none(planted: Path) -> None:
    project = Project.load(planted)
    action = _action(project, "+10pt", dt.date(2025, 5, 1), dt.date(2025, 6, 30))
    outcome = _measure(project, action, dt.date(2025, 12, 31))
    assert outcome.state == "not_met"
    assert outcome.low is not None and outcome.high is not None
    assert outcome.low < 0 < outcome.high  # no change, and the interval says so


def test_a_running_action_shows_its_progress(planted: Path) -> None:
    project = Project.load(planted)
    action = _action(project, "+5pt", LIFT_DAY, dt.date(2025, 11, 30))
    outcome = _measure(project, action, dt.date(2025, 10, 31))
    assert outcome.state == "in_progress"
    assert outcome.progress == pytest.approx(31 / 61)
    assert outcome.realised is not None and outcome.realised > 0.05


def test_counts_are_tested_as_counts(planted: Path) -> None:
    project = Project.load(planted)
    action = _action(project, "+50%", LIFT_DAY, dt.date(2025, 11, 30), node="leads")
    outcome = _measure(project, action, dt.date(2025, 12, 31))
    assert outcome.test == "poisson"
    assert outcome.state in ("not_met", "inconclusive")


def test_a_segment_is_measured_on_its_own_facts(planted: Path) -> None:
    from kpitree.review.actions import ActionStore, NewAction

    project = Project.load(planted)
    units = {n.id: n.unit_name for n in project.tree.nodes.values()}
    with ActionStore(project.path, units) as store:
        web = store.add(
            NewAction(
                "mql_rate", "web team", "LP", "+5pt", dt.date(2025, 11, 30), LIFT_DAY,
                (("channel", "web"),),
            ).checked(units, LIFT_DAY),
            "tester",
        )  # fmt: skip
        event = store.add(
            NewAction(
                "mql_rate", "events", "booth", "+5pt", dt.date(2025, 11, 30), LIFT_DAY,
                (("channel", "event"),),
            ).checked(units, LIFT_DAY),
            "tester",
        )  # fmt: skip
    day = dt.date(2025, 12, 31)
    assert _measure(project, web, day).state == "met"  # every planted lead is a web lead
    nothing = _measure(project, event, day)
    assert nothing.state == "inconclusive" and nothing.reason in ("no_data", "low_volume")
