"""A project made by ``kpitree init`` has no data yet: every page says what to
do next (the Data page, a command, or what to add to kpitree.yaml) rather than
showing blank tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app
from web.conftest import run_kpitree

PAGES = (
    "/",
    "/nodes/revenue",
    "/records/revenue",
    "/funnel",
    "/departments",
    "/departments/field_sales",
    "/data",
    "/alerts",
    "/sla",
    "/review/validity",
    "/review/scorecards",
    "/accounts",
)
NEXT_STEP = re.compile(r"kpitree (import|sync|demo)\b|kpitree\.yaml")


@pytest.fixture(scope="module")
def empty_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("empty") / "plan"
    run_kpitree("init", folder, "--name", "FY2026 売上計画", "--lang", "ja")
    with closing(TestClient(create_app(folder), base_url="http://localhost")) as client:
        yield client


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_of_an_empty_project_says_what_to_do_next(
    empty_client: TestClient, lang: str
) -> None:
    blank = []
    for path in PAGES:
        answer = empty_client.get(f"{path}?lang={lang}")
        assert answer.status_code == 200, (path, answer.status_code)
        main = answer.text[answer.text.find("<main") :]
        main = re.sub(r"<(script|style)\b.*?</\1>", "", main, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", main)
        if not NEXT_STEP.search(text):
            blank.append(path)
    assert not blank, f"pages with no next step on an empty project: {blank}"
