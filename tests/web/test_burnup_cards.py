"""The burn-up on the Tree and Node pages equals the monthly status summed by
hand, and cards read amounts in 万/億 unless the project asks for full figures."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project

from .conftest import without_warm_up


def test_tree_burnup_equals_the_months_summed(client: Any, demo_project: Path) -> None:
    view = client.get("/api/tree", params={"lang": "ja"}).json()
    burnup = view["burnup"]
    assert burnup["node"] == "revenue"
    project = Project.load(demo_project)
    today = project.today()
    started = [p for p in burnup["points"] if p["actual"] is not None]
    result = project.status(
        [p["period"] for p in started], as_of=today, explain=False, compare=False
    )
    running = 0.0
    for point in started:
        running += result.row("revenue", point["period"]).actual or 0.0
        assert math.isclose(point["actual"], running, rel_tol=1e-12)
    plan = project.plan(fiscal_year=int(burnup["fiscal_year"][2:]))
    assert math.isclose(burnup["points"][-1]["target"], plan.nodes["revenue"].value, rel_tol=1e-9)
    assert math.isclose(burnup["points"][-1]["forecast"], burnup["forecast"], rel_tol=1e-9)
    html = client.get("/", params={"lang": "ja"}).text
    assert 'data-chart="burnup"' in html and "バーンアップ" in html


def test_node_burnup_only_for_amounts_and_counts(client: Any) -> None:
    assert client.get("/api/nodes/leads").json()["burnup"]["node"] == "leads"
    assert client.get("/api/nodes/win_rate").json()["burnup"] is None


def test_cards_compact_unless_full(client: Any, demo_project: Path, tmp_path: Path) -> None:
    revenue = client.get("/api/tree", params={"lang": "ja"}).json()["nodes"]["revenue"]
    assert revenue["card"]["target"].endswith(("億", "万"))
    assert revenue["display"]["target"].replace(",", "").lstrip("¥").isdigit()
    full = tmp_path / "full"
    shutil.copytree(demo_project, full, ignore=shutil.ignore_patterns("app.sqlite*"))
    definition = full / "kpitree.yaml"
    definition.write_text(
        definition.read_text(encoding="utf-8") + "display: {amounts: full}\n", encoding="utf-8"
    )
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    with without_warm_up(), TestClient(create_app(full), base_url="http://localhost") as other:
        node = other.get("/api/tree", params={"lang": "ja"}).json()["nodes"]["revenue"]
    assert node["card"]["target"] == node["display"]["target"]


@pytest.mark.parametrize("value", ["short", 3])
def test_display_amounts_is_checked(tmp_path: Path, value: object) -> None:
    Project.init(tmp_path)
    definition = tmp_path / "kpitree.yaml"
    definition.write_text(
        definition.read_text(encoding="utf-8") + f"display: {{amounts: {value}}}\n",
        encoding="utf-8",
    )
    check = Project.check(tmp_path)
    assert any(d.is_error for d in check.diagnostics)


def test_tree_shows_each_nodes_year_end_landing(client: Any, demo_project: Path) -> None:
    view = client.get("/api/tree", params={"lang": "ja"}).json()
    project = Project.load(demo_project)
    year = view["burnup"]["fiscal_year"]
    status = project.status(year, as_of=project.today(), explain=False, compare=False)
    for node_id, node in view["nodes"].items():
        assert node["landing"]["period"] == year
        want = status.row(node_id, year).forecast
        got = node["landing"]["value"]
        assert (got is None and want is None) or math.isclose(got, want, rel_tol=1e-12)
    table = view["tables"]["nodes"]
    assert "landing" in [c["key"] for c in table["columns"]]
    html = client.get("/", params={"lang": "ja"}).text
    assert "年度着地見込み" in html and 'data-field="landing"' in html
