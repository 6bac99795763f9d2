"""The managers' scorecard page, its JSON twin and downloads, under the
access rules: a rep reads only their own card, a team manager the team's, a
department manager the department's, admins all; a card outside that is
refused (403) through every route, never leaked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kpitree.project import Project
from kpitree.web.app import create_app
from kpitree.web.users import UserStore
from reports.conftest import build_company, copy_project, edit_definition

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

PASSWORD = "correct-horse-42"
EN = {"Accept-Language": "en"}
PERIOD = "2025-09"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("cards")
    folder = copy_project(build_company(base / "company"), base / "secured")
    org = Project.load(folder).tree.organisation.departments["inside_sales"]
    first, second = org.teams[0], org.teams[1]
    who = {
        "dept": "inside_sales",
        "team": first.id,
        "other_team": second.id,
        "rep": next(iter(first.reps)),
        "teammate": list(first.reps)[1],
        "stranger": next(iter(second.reps)),
    }
    access = {
        "rep": {"rep": who["rep"]},
        "lead": {"teams": [f"inside_sales/{first.id}"]},
        "head": {"departments": ["inside_sales"]},
    }
    edit_definition(folder, lambda doc: doc.update(scorecards={"access": access}))
    store = UserStore(folder)
    store.add("admin", "admin", PASSWORD)
    for name in ("rep", "lead", "head", "outsider"):
        store.add(name, "viewer", PASSWORD)
    return folder, who


def _client(folder: Path, name: str) -> TestClient:
    client = TestClient(create_app(folder), base_url="http://localhost", headers=EN)
    token = client.get("/api/session").json()["csrf_token"]
    done = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return client


@pytest.fixture
def login(secured: tuple[Path, dict[str, Any]]) -> Iterator[Any]:
    opened: list[TestClient] = []

    def open_as(name: str) -> TestClient:
        opened.append(_client(secured[0], name))
        return opened[-1]

    yield open_as
    for client in opened:
        client.close()


def _reps(answer: Any) -> set[str]:
    return {c["segment"]["rep"] for c in answer.json()["cards"]}


def _csv_reps(client: TestClient, path: str, **params: str) -> set[str]:
    answer = client.get(path, params={"period": PERIOD, **params, "format": "csv"})
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    return {r[2] for r in rows[1:]}


def _xlsx_reps(client: TestClient, path: str) -> set[str]:
    from openpyxl import load_workbook

    answer = client.get(path, params={"period": PERIOD, "format": "xlsx"})
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    return {str(r[2]) for r in list(sheet.iter_rows(values_only=True))[1:]}


def test_a_rep_reads_only_their_own_card(secured: tuple[Path, dict[str, Any]], login: Any) -> None:
    _, who = secured
    client = login("rep")
    own = client.get("/api/review/scorecards", params={"period": PERIOD})
    assert own.status_code == 200, own.text
    assert _reps(own) == {who["rep"]}
    for path in ("/api/review/scorecards", "/review/scorecards"):
        assert _csv_reps(client, path) == {who["rep"]}
        assert _xlsx_reps(client, path) == {who["rep"]}
    page = client.get("/review/scorecards", params={"period": PERIOD})
    assert page.status_code == 200
    assert f'data-rep="{who["rep"]}"' in page.text
    assert f'data-rep="{who["teammate"]}"' not in page.text
    assert f'data-rep="{who["stranger"]}"' not in page.text
    for other in (who["teammate"], who["stranger"]):
        for path in ("/api/review/scorecards", "/review/scorecards"):
            for fmt in ({}, {"format": "csv"}, {"format": "xlsx"}):
                refused = client.get(path, params={"period": PERIOD, "rep": other, **fmt})
                assert refused.status_code == 403
                assert 'data-testid="scorecard"' not in refused.text
                assert '"cards"' not in refused.text and "Achievement" not in refused.text
        assert (
            client.get("/api/review/scorecards", params={"period": PERIOD, "rep": other}).json()[
                "error"
            ]["code"]
            == "KT248"
        )
    team = client.get("/api/review/scorecards", params={"period": PERIOD, "by": "team"})
    assert team.json()["cards"] == []  # a team's card is the manager's, not the rep's
    dept = client.get("/api/review/scorecards", params={"period": PERIOD, "by": "department"})
    assert dept.json()["cards"] == []
    for path in ("/api/review/scorecards", "/review/scorecards"):
        refused = client.get(path, params={"period": PERIOD, "department": who["dept"]})
        assert refused.status_code == 403  # the department holds other reps' cards
    refused = client.get(
        "/api/review/scorecards",
        params={"period": PERIOD, "by": "team", "team": who["team"]},
    )
    assert refused.status_code == 403


def test_managers_read_their_team_or_department(
    secured: tuple[Path, dict[str, Any]], login: Any
) -> None:
    folder, who = secured
    org = Project.load(folder).tree.organisation.departments["inside_sales"]
    team_reps = set(next(t for t in org.teams if t.id == who["team"]).reps)
    dept_reps = {r for t in org.teams for r in t.reps}
    lead = login("lead")
    shown = _reps(lead.get("/api/review/scorecards", params={"period": PERIOD}))
    assert who["rep"] in shown and shown <= team_reps and who["stranger"] not in shown
    assert (
        lead.get(
            "/api/review/scorecards", params={"period": PERIOD, "rep": who["stranger"]}
        ).status_code
        == 403
    )
    teams = lead.get("/api/review/scorecards", params={"period": PERIOD, "by": "team"}).json()
    assert [c["segment"] for c in teams["cards"]] == [
        {"department": "inside_sales", "team": who["team"]}
    ]
    assert (
        lead.get("/api/review/scorecards", params={"period": PERIOD, "by": "department"}).json()[
            "cards"
        ]
        == []
    )
    head = login("head")
    everyone = head.get("/api/review/scorecards", params={"period": PERIOD}).json()["cards"]
    assert {c["segment"]["department"] for c in everyone} == {"inside_sales"}
    assert {c["segment"]["rep"] for c in everyone} >= {who["rep"], who["stranger"]}
    assert {c["segment"]["rep"] for c in everyone} <= dept_reps | {None}


def test_admins_read_all_and_others_nothing(
    secured: tuple[Path, dict[str, Any]], login: Any
) -> None:
    admin = login("admin")
    cards = admin.get("/api/review/scorecards", params={"period": PERIOD}).json()["cards"]
    assert {"inside_sales", "field_sales"} <= {c["segment"]["department"] for c in cards}
    assert (
        'data-testid="scorecard"' in admin.get("/review/scorecards", params={"period": PERIOD}).text
    )
    outsider = login("outsider")
    for path in ("/api/review/scorecards", "/review/scorecards"):
        refused = outsider.get(path, params={"period": PERIOD, "format": "csv"})
        assert refused.status_code == 403
        refused = outsider.get(path, params={"period": PERIOD})
        assert refused.status_code == 403 and "KT249" in refused.text
    with closing(TestClient(create_app(secured[0]), base_url="http://localhost")) as anyone:
        assert anyone.get("/api/review/scorecards").status_code == 401
