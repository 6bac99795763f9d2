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
        owner = card["segment"]["department"]
        assert all(project.tree.nodes[k["node"]].owner == owner for k in card["kpis"])
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
    assert rows[0][:4] == ("Department", "Team", "Rep", "KPI")
    assert len(rows) - 1 == sum(len(c["kpis"]) for c in result.json()["cards"])
    assert all(isinstance(r[4], float | int) or r[4] is None for r in rows[1:])
    assert cli("scorecard", company, "--by", "region").code == 1
