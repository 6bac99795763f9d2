"""The Plan page re-planned from actuals (``?from=actuals``) and its JSON twin:
the same numbers as ``Project.plan(from_actuals=True)`` on the same day."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project


def test_api_plan_from_actuals_matches_the_project(client: Any, demo_project: Path) -> None:
    answer = client.get("/api/plan", params={"from": "actuals", "lang": "en"})
    assert answer.status_code == 200, answer.text
    view = answer.json()
    info = view["from_actuals"]
    project = Project.load(demo_project)
    expected = project.plan(from_actuals=True)
    assert info["closed"] == expected.closed  # type: ignore[attr-defined]
    by_node = {row["id"]: row for row in view["nodes"]}
    for node_id, node_plan in expected.nodes.items():
        for month in view["periods"]:
            got = next(m["value"] for m in by_node[node_id]["months"] if m["period"] == month)
            want = node_plan.per_period.get(month)
            assert (got is None and want is None) or math.isclose(got, want, rel_tol=1e-9)
    revenue = by_node["revenue"]
    original = project.plan().nodes["revenue"].value
    assert math.isclose(sum(m["value"] for m in revenue["months"]), original, rel_tol=1e-9)
    moved = [c for c in info["changes"] if c["moved"]]
    assert moved and all("/month → " in c["display"]["sentence"] for c in moved)
    (capacity,) = view["capacity"]
    assert capacity["department"] == "inside_sales" and capacity["headcount"]


def test_plan_page_from_actuals_in_japanese(client: Any) -> None:
    page = client.get("/plan", params={"from": "actuals", "lang": "ja"})
    assert page.status_code == 200
    assert 'data-testid="replan"' in page.text and "実績からの再計画" in page.text
    assert 'data-closed="true"' in page.text
    assert "名相当、現在" in page.text


@pytest.mark.parametrize("value", ["actual", "<script>"])
def test_unknown_plan_mode_is_a_400(client: Any, value: str) -> None:
    answer = client.get("/api/plan", params={"from": value})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "KT698"
