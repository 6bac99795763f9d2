"""The Plan page and its JSON twin read a rate as it is shown (25%), and refuse
a bare number above one for a rate planned at most 100% (KT780), instead of
planning every node below it from a rate of thousands of percent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.project import Project


@pytest.fixture(scope="module")
def pages(demo_project: Path) -> Iterator[TestClient]:
    from kpitree.web.app import create_app

    with closing(TestClient(create_app(demo_project), base_url="http://localhost")) as client:
        yield client


def test_a_rate_written_as_a_percent_is_planned(pages: TestClient, demo_project: Path) -> None:
    view = pages.get("/api/plan", params={"s.win_rate": "30%"})
    assert view.status_code == 200
    expected = Project.load(demo_project).plan(overrides={"win_rate": 0.3})
    rows = {r["id"]: r for r in view.json()["nodes"]}
    assert rows["win_rate"]["value"] == pytest.approx(0.3)
    assert rows["leads"]["value"] == pytest.approx(expected.nodes["leads"].value)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_bare_number_for_a_rate_is_refused(pages: TestClient, lang: str) -> None:
    answer = pages.get("/api/plan", params={"s.win_rate": "30", "lang": lang})
    assert answer.status_code == 400
    assert "KT780" in answer.text and "3,000%" in answer.text and "30%" in answer.text
    page = pages.get("/plan", params={"s.win_rate": "30", "lang": lang})
    assert "KT780" in page.text and "Traceback" not in page.text


def test_a_rate_planned_above_one_takes_a_bare_number(pages: TestClient) -> None:
    """Nothing is refused for a node that is not a rate, or for a percent sign."""
    assert pages.get("/api/plan", params={"s.win_rate": "120%"}).status_code == 200
    assert pages.get("/api/plan", params={"s.leads": "30"}).status_code == 200
