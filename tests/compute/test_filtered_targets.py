"""A filtered status compares the filtered actuals with the filtered segment's
target (the one department, team or rep a filter keeps), never with the
company's; a slice without a target (a channel, several teams) has none."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import yaml

from kpitree.compute.targets import filtered_key
from kpitree.data.demo import generate
from kpitree.data.warehouse import Warehouse
from kpitree.project import Project

AS_OF = dt.date(2025, 11, 18)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("filtered")
    company = generate("tiny", seed=3)
    Warehouse(folder / "warehouse.duckdb").bulk_load(company.tables, label="demo")
    definition = Project.init(folder / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(folder / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    Project.load(folder / "project").plan_from_history("FY2024", fiscal_year=2025)
    return Project.load(folder / "project")


def test_filtered_key_places_the_slice_in_the_organisation(demo: Project) -> None:
    tree = demo.tree
    fs = ("department", "field_sales")
    assert filtered_key(tree, (), None) == ()
    assert filtered_key(tree, (), {"department": ["field_sales"]}) == (fs,)
    # The template's teams: east and west exist in inside and field sales alike.
    assert filtered_key(tree, (), {"team": ["east"]}) is None
    assert filtered_key(tree, (), {"department": ["field_sales"], "team": ["east"]}) == (
        fs,
        ("team", "east"),
    )
    # A rep is in one team of one department.
    dept, team, rep = next(
        (d.id, t.id, r)
        for d in tree.organisation.departments.values()
        for t in d.teams
        for r in t.reps
    )
    assert filtered_key(tree, (), {"rep": [rep]}) == (
        ("department", dept),
        ("team", team),
        ("rep", rep),
    )
    assert filtered_key(tree, (), {"rep": ["no such rep"]}) is None
    # Slices without a target.
    assert filtered_key(tree, (), {"channel": ["web"]}) is None
    assert filtered_key(tree, (), {"department": ["field_sales", "inside_sales"]}) is None
    assert filtered_key(tree, (), {"department": [None]}) is None
    # Rows split by the filtered dimension are their own segment.
    row = (fs, ("team", "east"))
    assert filtered_key(tree, row, {"department": ["field_sales"]}) == row
    assert filtered_key(tree, ((fs),), {"team": ["east"]}) == (fs, ("team", "east"))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12)


def test_a_department_filter_takes_the_departments_targets(demo: Project) -> None:
    by_department = demo.status("2025-10", by="department", as_of=AS_OF, explain=False)
    filtered = demo.status(
        "2025-10", filters={"department": ["field_sales"]}, as_of=AS_OF, explain=False
    )
    fs = (("department", "field_sales"),)
    for node in ("won_deals", "revenue", "win_rate", "opportunities"):
        row = filtered.row(node, "2025-10")
        expected = by_department.row(node, "2025-10", fs)
        assert row.actual == expected.actual, node
        assert _same(row.target, expected.target), node
        assert _same(row.achievement, expected.achievement), node
        assert row.status == expected.status, node
    assert filtered.row("won_deals", "2025-10").target is not None
    # Marketing's leads have no field-sales target.
    assert filtered.row("leads", "2025-10").target is None
    # One team: its share of the department's target, not the company's.
    team = demo.tree.organisation.departments["field_sales"].teams[0].id
    by_team = demo.status("2025-10", by="team", as_of=AS_OF, explain=False)
    east = demo.status(
        "2025-10",
        filters={"department": ["field_sales"], "team": [team]},
        as_of=AS_OF,
        explain=False,
    )
    team_row = by_team.row("won_deals", "2025-10", (*fs, ("team", team)))
    assert east.row("won_deals", "2025-10").actual == team_row.actual
    assert _same(east.row("won_deals", "2025-10").target, team_row.target)
    company = by_team.row("won_deals", "2025-10")
    assert team_row.target is not None and company.target is not None
    assert team_row.target < company.target


def test_a_filter_without_targets_shows_none(demo: Project) -> None:
    both = {"department": ["field_sales", "inside_sales"]}
    result = demo.status("2025-10", filters=both, as_of=AS_OF, explain=False)
    rows = [r for r in result.rows if r.segment == ()]
    assert any(r.actual for r in rows)
    assert all(r.target is None and r.achievement is None for r in rows)
    # No target, no pace: never on or off track (no data and low volume need none).
    judged = ("on_track", "at_risk", "off_track")
    assert not any(r.status in judged for r in rows), {r.status for r in rows}
