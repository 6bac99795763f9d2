"""A department id holding ``/`` (and other reserved characters) opens its page,
its JSON twin and its TV view, from the links the Departments page prints."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import closing
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app
from web.conftest import run_kpitree

DEPT = "field/sales ?#%"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("dept-ids") / "plan"
    run_kpitree("init", folder, "--name", "FY2026 売上計画", "--lang", "ja")
    definition = folder / "kpitree.yaml"
    text = definition.read_text("utf-8")
    assert "  field_sales:" in text
    text = text.replace("  field_sales:", f'  "{DEPT}":').replace(
        "owner: field_sales", f'owner: "{DEPT}"'
    )
    definition.write_text(text, "utf-8")
    with closing(TestClient(create_app(folder), base_url="http://localhost")) as http:
        yield http


def test_a_department_id_with_a_slash_opens_its_pages(client: TestClient) -> None:
    listing = client.get("/departments")
    assert listing.status_code == 200
    links = {
        html.unescape(h).split("?")[0]
        for h in re.findall(r'href="(/departments/[^"]*)"', listing.text)
    }
    segment = quote(DEPT, safe="")
    assert f"/departments/{segment}" in links, links
    for path in (f"/departments/{segment}", f"/tv/departments/{segment}"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
    api = client.get(f"/api/departments/{segment}")
    assert api.status_code == 200, api.text
    assert api.json()["department"]["id"] == DEPT
    unknown = client.get("/departments/no%2Fsuch")
    assert unknown.status_code == 404
