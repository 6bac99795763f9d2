"""Actions on the web: the JSON API (viewers read, editors write, CSRF
checked) and the Node page's list and form, on the planted company."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app
from kpitree.web.users import UserStore

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

PASSWORD = "correct-horse-42"
EN = {"Accept-Language": "en"}
BODY = {
    "node": "mql_rate",
    "owner": "IS 田中",
    "description": "call script",
    "expected_effect": "+5pt",
    "start": "2025-10-01",
    "due": "2025-11-30",
}


@pytest.fixture
def client(planted: Path) -> Iterator[TestClient]:
    with closing(TestClient(create_app(planted), base_url="http://localhost", headers=EN)) as c:
        yield c


def _token(client: TestClient) -> str:
    found: str = client.get("/api/session").json()["csrf_token"]
    return found


def test_add_list_and_close_through_the_api(client: TestClient) -> None:
    assert client.get("/api/actions").json() == []
    refused = client.post("/api/actions", json=BODY)
    assert refused.status_code == 403  # no CSRF token
    added = client.post("/api/actions", json=BODY, headers={"X-CSRF-Token": _token(client)})
    assert added.status_code == 201, added.text
    assert added.json()["expected_effect"] == "+5pt"
    (listed,) = client.get("/api/actions").json()
    assert listed["outcome"]["state"] == "met"  # measured up to today: the window is over
    wrong = client.post(
        "/api/actions",
        json={**BODY, "expected_effect": "+5"},
        headers={"X-CSRF-Token": _token(client)},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["diagnostics"][0]["code"] == "KT211"
    closed = client.post(
        "/api/actions/1/done", json={"note": "kept"}, headers={"X-CSRF-Token": _token(client)}
    )
    assert closed.status_code == 200
    assert [h["change"] for h in closed.json()["history"]] == ["created", "done"]
    assert client.get("/api/actions").json() == []
    assert len(client.get("/api/actions?all=true").json()) == 1


def test_viewers_read_and_editors_write(planted: Path) -> None:
    store = UserStore(planted)
    store.add("admin", "admin", PASSWORD)
    store.add("viewer", "viewer", PASSWORD)
    store.add("editor", "editor", PASSWORD)
    for name, status in (("viewer", 403), ("editor", 201)):
        with closing(TestClient(create_app(planted), base_url="http://localhost", headers=EN)) as c:
            c.post(
                "/login",
                data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": _token(c)},
                follow_redirects=False,
            )
            answer = c.post("/api/actions", json=BODY, headers={"X-CSRF-Token": _token(c)})
            assert answer.status_code == status, answer.text
            assert c.get("/api/actions").status_code == 200
            page = c.get("/nodes/mql_rate").text
            assert ('data-testid="action-form"' in page) is (name == "editor")


def test_the_node_page_lists_and_adds_actions(client: TestClient) -> None:
    page = client.get("/nodes/mql_rate")
    assert 'data-testid="actions"' in page.text and "No open action on this node" in page.text
    answer = client.post(
        "/nodes/mql_rate/actions",
        data={
            "description": "nurture <b>mails</b>",
            "owner": "marketing",
            "expected_effect": "+3pt",
            "due": "2027-03-31",
            "segment": "",
            "csrf_token": _token(client),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = client.get("/nodes/mql_rate").text
    assert 'data-state="not_started"' in page or 'data-state="in_progress"' in page
    assert "nurture &lt;b&gt;mails&lt;/b&gt;" in page  # escaped
    assert client.get("/nodes/leads").text.count('data-action="') == 0


def test_the_validity_page_and_its_json_twin(client: TestClient) -> None:
    data = client.get("/api/review/validity").json()
    verdicts = {(r["node"], r["link"]): r["verdict"] for r in data["rows"]}
    assert verdicts[("emails", None)] in ("replace", "not_enough_history")
    page = client.get("/review/validity", headers={"Accept-Language": "ja"}).text
    assert 'data-testid="validity"' in page and "KPI妥当性の見直し" in page
    assert page.count("<tr data-node=") == len(data["rows"])


def test_the_book_page_and_its_json_twin(client: TestClient) -> None:
    entries = client.get("/api/book").json()
    assert entries[0]["id"] == "mqls" and entries[0]["formula_words"]
    page = client.get("/book", headers={"Accept-Language": "ja"}).text
    assert page.count('data-testid="book-entry"') == len(entries)
    assert "MQL数 = リード獲得数 × MQL化率" in page
    assert 'href="/book#mql_rate"' in client.get("/nodes/mql_rate").text


def test_an_action_or_a_closing_note_past_the_length_limit_is_refused(client: TestClient) -> None:
    from kpitree.review.actions import MAX_TEXT

    csrf = {"X-CSRF-Token": _token(client)}
    long = "<script>alert(1)</script>" + "長" * MAX_TEXT
    for field in ("owner", "description"):
        refused = client.post("/api/actions", json={**BODY, field: long}, headers=csrf)
        assert refused.status_code == 400, refused.text
        (found,) = refused.json()["error"]["diagnostics"]
        assert found["code"] == "KT770" and field in found["message"], found
    assert client.get("/api/actions?all=true").json() == []
    # The Node page's form answers the same way.
    form = client.post(
        "/nodes/mql_rate/actions",
        data={**BODY, "description": long, "csrf_token": csrf["X-CSRF-Token"]},
        follow_redirects=False,
    )
    assert form.status_code == 400 and "KT770" in form.text
    assert client.get("/api/actions?all=true").json() == []
    assert client.post("/api/actions", json=BODY, headers=csrf).status_code == 201
    note = client.post("/api/actions/1/done", json={"note": long}, headers=csrf)
    assert note.status_code == 400 and "KT770" in note.text
    (still_open,) = client.get("/api/actions").json()
    assert still_open["status"] == "open"


def test_a_filled_pack_is_imported_through_the_api(client: TestClient, planted: Path) -> None:
    import datetime as dt

    from kpitree.project import Project
    from kpitree.reports import build_report, render

    from .test_actions_cli import _fill

    report = build_report(Project.load(planted), "2025-11", lang="ja", as_of=dt.date(2025, 11, 30))
    pack = render(report, "xlsx")
    csrf = {"X-CSRF-Token": _token(client)}
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wrong = _fill(pack, [["", "leeds", "", "web", "LP", "+10%", "2027-01"]])
    refused = client.post(
        "/api/actions/import", files={"file": ("会議.xlsx", wrong, xlsx)}, headers=csrf
    )
    assert refused.status_code == 400, refused.text
    (found,) = refused.json()["error"]["diagnostics"]
    assert "did you mean 'leads'" in found["message"]
    assert found["file"].startswith("会議.xlsx") and found["line"] > 1  # not a temp path
    assert "kpitree-actions-" not in refused.text
    assert client.get("/api/actions?all=true").json() == []
    filled = _fill(pack, [["", "MQL化率", "", "IS 田中", "架電スクリプト", "+3pt", "2027-01"]])
    done = client.post(
        "/api/actions/import", files={"file": ("会議.xlsx", filled, xlsx)}, headers=csrf
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"created": [1], "updated": []}
    (action,) = client.get("/api/actions").json()
    assert (action["node"], action["due"]) == ("mql_rate", "2027-01-31")
    no_token = client.post("/api/actions/import", files={"file": ("会議.xlsx", filled, xlsx)})
    assert no_token.status_code == 403
