"""Scorecards on the demo company of the report tests (teams and reps):
each card holds the KPIs its department owns, and counts add up from reps to
teams to departments under the metrics' credit rules."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.review.scorecard import scorecards
from reports.conftest import build_company

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

AS_OF = dt.date(2025, 10, 15)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_company(tmp_path_factory.mktemp("scorecard") / "company")


def _totals(found: dict[str, Any], level: tuple[str, ...]) -> dict[tuple[Any, ...], float]:
    out: dict[tuple[Any, ...], float] = {}
    for card in found["cards"]:
        for k in card["kpis"]:
            if k["unit"] == "count" and k["actual"] is not None:
                key = (*(card["segment"].get(d) for d in level), k["node"])
                out[key] = out.get(key, 0.0) + k["actual"]
    return out


def test_cards_add_up_from_reps_to_departments(company: Path) -> None:
    project = Project.load(company)
    by_dept = scorecards(project, "2025-09", "department", "en", AS_OF)
    by_team = scorecards(project, "2025-09", "team", "en", AS_OF)
    by_rep = scorecards(project, "2025-09", "rep", "en", AS_OF)
    depts = _totals(by_dept, ("department",))
    assert depts  # opportunities (credited to the lead's owner), won deals, calls ...
    assert _totals(by_team, ("department",)) == pytest.approx(depts)
    assert _totals(by_rep, ("department", "team")) == pytest.approx(
        _totals(by_team, ("department", "team"))
    )
    for card in by_team["cards"]:
        department = card["segment"]["department"]
        for k in card["kpis"]:  # its department's KPIs, and those credited to it (no target)
            owned = project.tree.nodes[k["node"]].owner == department
            assert owned or (k["node"] == "opportunities" and k["actual"] and k["target"] is None)
        capped = [min(k["achievement"], 1.5) for k in card["kpis"] if k["achievement"] is not None]
        if capped:
            assert card["score"] == pytest.approx(sum(capped) / len(capped))


def test_cli_writes_an_xlsx_an_hr_sheet_can_take(company: Path, cli: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "cards.xlsx"
    result = cli(
        "scorecard", company, "--period", "2025-09", "--by", "rep", "--as-of", "2025-10-15",
        "--xlsx", out, "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    rows = list(load_workbook(io.BytesIO(out.read_bytes())).active.iter_rows(values_only=True))
    assert rows[0][:5] == ("Department", "Team", "Rep", "Rep name", "KPI")
    cards = result.json()["cards"]
    assert len(rows) - 1 == sum(len(c["kpis"]) for c in cards)
    assert all(isinstance(r[5], float | int) or r[5] is None for r in rows[1:])
    # Reps by the name people know them by (the reps table), ids kept beside.
    project = Project.load(company)
    names = project.rep_names()
    assert names and all(r[3] == names.get(r[2], r[2]) for r in rows[1:])
    assert any(r[3] != r[2] for r in rows[1:])
    org = project.tree.organisation.departments
    for c in cards:  # the organisation's labels and the rep's name, as the page heads a card
        department = org[c["segment"]["department"]].label.text("en")
        assert c["title"].startswith(department + " / ")
        assert c["title"].endswith(" / " + names.get(c["segment"]["rep"], c["segment"]["rep"]))
    assert cli("scorecard", company, "--by", "region").code == 1


def test_a_kpi_scores_its_capped_achievement_or_its_band_points() -> None:
    from kpitree.definition.spec_scorecards import ScorecardsSpec
    from kpitree.review.scorecard import card_score, kpi_score

    plain = ScorecardsSpec(cap=1.2)
    assert [kpi_score(a, plain) for a in (0.5, 1.1, 1.9, None)] == [0.5, 1.1, 1.2, None]
    banded = ScorecardsSpec.model_validate(
        {"bands": [{"at_least": 0.8, "points": 3}, {"at_least": 1.2, "points": 5},
                   {"at_least": 1.0, "points": 4}]}
    )  # fmt: skip
    assert [kpi_score(a, banded) for a in (0.79, 0.8, 0.99, 1.0, 1.19, 1.2, 3.0)] == [
        0.0, 3, 3, 4, 4, 5, 5,
    ]  # fmt: skip
    kpis = [
        {"score": 5.0, "weight": 3.0},
        {"score": 3.0, "weight": 2.0},
        {"score": 0.0, "weight": 1.0},
        {"score": 4.0, "weight": 0.0},  # shown, not scored
        {"score": None, "weight": 2.0},  # no achievement: not scored
    ]
    assert card_score(kpis) == (pytest.approx((15 + 6 + 0) / 6), 3)
    assert card_score([{"score": None, "weight": 1.0}]) == (None, 0)


RULES = {
    "weights": {"opportunities": 3, "calls": 0},
    "bands": [
        {"at_least": 1.0, "points": 5},
        {"at_least": 0.9, "points": 4},
        {"at_least": 0.7, "points": 3},
        {"at_least": 0.4, "points": 2},
    ],
}


def _band(achievement: float) -> float:
    """The bands of RULES written out by hand."""
    if achievement >= 1.0:
        return 5
    if achievement >= 0.9:
        return 4
    if achievement >= 0.7:
        return 3
    return 2 if achievement >= 0.4 else 0


def test_weights_and_bands_from_the_definition(company: Path, tmp_path: Path) -> None:
    from reports.conftest import copy_project, edit_definition

    folder = copy_project(company, tmp_path / "rules")
    edit_definition(folder, lambda doc: doc.update(scorecards=RULES))
    project = Project.load(folder)
    found = scorecards(project, "2025-09", "rep", "en", AS_OF)
    assert found["score_unit"] == "points"
    status = project.status("2025-09", by="rep", as_of=AS_OF, explain=False, compare=False)
    rows = {
        (r.node, r.segment): r
        for r in status.select(period="2025-09", level=("department", "team", "rep"))
    }
    checked = 0
    for card in found["cards"]:
        total = weights = 0.0
        for k in card["kpis"]:
            row = rows[(k["node"], tuple(card["segment"].items()))]
            if row.actual is not None and row.target:
                assert k["achievement"] == pytest.approx(row.actual / row.target)
            weight = {"opportunities": 3.0, "calls": 0.0}.get(k["node"], 1.0)
            assert k["weight"] == weight
            if k["achievement"] is not None and weight > 0:
                assert k["score"] == _band(k["achievement"])
                total += weight * _band(k["achievement"])
                weights += weight
        if weights:
            assert card["score"] == pytest.approx(total / weights)
            checked += 1
        else:
            assert card["score"] is None
    assert checked >= 3
    assert any(k["node"] == "opportunities" for c in found["cards"] for k in c["kpis"])


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ({"weights": {"revenue": 2}}, "KT244"),
        ({"weights": {"opportunitys": 2}}, "KT244"),
        ({"bands": []}, "KT245"),
        ({"bands": [{"at_least": 1, "points": 5}, {"at_least": 1.0, "points": 4}]}, "KT245"),
        ({"access": {"sato": {"rep": "nobody"}}}, "KT246"),
        ({"access": {"sato": {"teams": ["inside_sales"]}}}, "KT246"),
        ({"access": {"sato": {"departments": ["field_sale"]}}}, "KT246"),
        ({"access": {"sato": {}}}, "KT246"),
    ],
)
def test_rules_are_checked_like_the_rest(
    company: Path, tmp_path: Path, rules: dict[str, Any], code: str
) -> None:
    from kpitree.definition.resolve import check_definition
    from reports.conftest import copy_project, edit_definition

    folder = copy_project(company, tmp_path / "bad")
    edit_definition(folder, lambda doc: doc.update(scorecards=rules))
    errors = check_definition(str(folder / "kpitree.yaml")).errors
    assert [d.code for d in errors] == [code]
    assert errors[0].span is not None and errors[0].span.line > 1
