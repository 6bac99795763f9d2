"""Notes on the timeline: the JSON API (roles, CSRF, validation, history), the
store beside the users in app.sqlite, and the notes placed on the Node page's
charts (in process)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.notes import Note, NoteDraft, NoteStore
from kpitree.web.app import create_app
from kpitree.web.routes_notes import chart_notes

from .conftest import PASSWORD, add_users

EN = {"accept-language": "en"}


@pytest.fixture
def secured(demo_copy: Path) -> Path:
    add_users(demo_copy)
    return demo_copy


def _client(path: Path) -> TestClient:
    return TestClient(create_app(path), base_url="http://localhost", headers=EN)


@pytest.fixture
def as_role(secured: Path) -> Iterator[dict[str, TestClient]]:
    clients = {}
    for role in ("admin", "editor", "viewer"):
        client = _client(secured)
        token = client.get("/api/session").json()["csrf_token"]
        client.post(
            "/api/login", json={"name": role, "password": PASSWORD}, headers={"X-CSRF-Token": token}
        )
        client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
        clients[role] = client
    yield clients
    for client in clients.values():
        client.close()


def test_editors_create_edit_and_delete_notes_with_history(
    as_role: dict[str, TestClient], secured: Path
) -> None:
    editor, viewer = as_role["editor"], as_role["viewer"]
    made = editor.post(
        "/api/notes",
        json={
            "start": "2026-10-01",
            "end": "2026-10-03",
            "text": "展示会",
            "node": "revenue",
            "segment": "department=field_sales",
        },
    )
    assert made.status_code == 201, made.text
    note = made.json()["note"]
    assert note["text"] == "展示会" and note["created_by"] == "editor"
    assert note["segment"] == "department=field_sales"

    assert viewer.get("/api/notes").json()["notes"] == [note]
    refused = viewer.post("/api/notes", json={"start": "2026-10-01", "text": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "KT605"

    changed = editor.patch(f"/api/notes/{note['id']}", json={"text": "価格改定"})
    assert changed.status_code == 200
    assert changed.json()["note"]["text"] == "価格改定"
    assert changed.json()["note"]["end"] == "2026-10-03"

    gone = as_role["admin"].delete(f"/api/notes/{note['id']}")
    assert gone.status_code == 200
    assert viewer.get("/api/notes").json()["notes"] == []
    assert viewer.get(f"/api/notes/{note['id']}").status_code == 404

    history = viewer.get("/api/note-history").json()["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("deleted", "admin"),
        ("edited", "editor"),
        ("created", "editor"),
    ]
    assert history[1]["before"]["text"] == "展示会" and history[1]["after"]["text"] == "価格改定"

    # Kept in the app store beside the users, not in the warehouse.
    with closing(sqlite3.connect(secured / ".kpitree" / "app.sqlite")) as con:
        assert con.execute("SELECT count(*) FROM timeline_note_history").fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM web_users").fetchone()[0] == 3


def test_a_note_without_the_csrf_token_is_refused(as_role: dict[str, TestClient]) -> None:
    editor = as_role["editor"]
    refused = editor.post(
        "/api/notes", json={"start": "2026-10-01", "text": "x"}, headers={"X-CSRF-Token": ""}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "KT606"
    assert editor.get("/api/notes").json()["notes"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"start": "2026-10-01", "text": "   "}, "KT680"),
        ({"start": "2026-10-01", "text": "x" * 501}, "KT680"),
        ({"start": "1/10/2026", "text": "x"}, "KT681"),
        ({"start": "2026-10-05", "end": "2026-10-01", "text": "x"}, "KT681"),
        ({"start": "2026-10-01", "text": "x", "node": "revenu"}, "KT682"),
        ({"start": "2026-10-01", "text": "x", "segment": "inside_sales"}, "KT684"),
    ],
)
def test_bad_notes_say_what_to_fix(
    as_role: dict[str, TestClient], body: dict[str, str], code: str
) -> None:
    answer = as_role["editor"].post("/api/notes", json=body)
    assert answer.status_code in (400, 422), answer.text
    assert code in answer.text
    assert "Traceback" not in answer.text
    assert as_role["editor"].get("/api/notes").json()["notes"] == []


def test_unknown_note_is_404(as_role: dict[str, TestClient]) -> None:
    answer = as_role["editor"].patch("/api/notes/999", json={"text": "x"})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "KT683"


def _note(start: str, end: str, node: str | None = None, segment: str | None = None) -> Note:
    return Note(
        1,
        dt.date.fromisoformat(start),
        dt.date.fromisoformat(end),
        node,
        tuple(segment.split("=")) if segment else None,  # type: ignore[arg-type]
        "t",
        "a",
        "",
        "a",
        "",
    )


def test_chart_notes_cover_the_periods_they_overlap_and_respect_node_and_segment() -> None:
    months = [
        ("2026-09", dt.date(2026, 9, 1), dt.date(2026, 9, 30)),
        ("2026-10", dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
        ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
    ]
    span = _note("2026-09-20", "2026-11-02")
    [placed] = chart_notes([span], months, "revenue", {})
    assert (placed["from"], placed["to"]) == ("2026-09", "2026-11")
    day = _note("2026-10-31", "2026-10-31")
    assert [(p["from"], p["to"]) for p in chart_notes([day], months, None, {})] == [
        ("2026-10", "2026-10")
    ]
    assert chart_notes([_note("2026-12-01", "2026-12-01")], months, None, {}) == []
    other_node = _note("2026-10-01", "2026-10-01", node="deals")
    assert chart_notes([other_node], months, "revenue", {}) == []
    assert chart_notes([other_node], months, "deals", {}) != []
    seg = _note("2026-10-01", "2026-10-01", segment="department=inside_sales")
    assert chart_notes([seg], months, None, {}) != []
    assert chart_notes([seg], months, None, {"department": ["inside_sales"]}) != []
    assert chart_notes([seg], months, None, {"department": ["field_sales"]}) == []


def test_the_node_page_puts_its_notes_on_its_charts(demo_copy: Path) -> None:
    store = NoteStore(demo_copy)
    with closing(_client(demo_copy)) as client:
        page = client.get("/nodes/revenue")
        assert page.status_code == 200
        series = _chart_json(page.text, "kt-series-data")
        month = series["series"][-2]["period"]
        first = dt.date.fromisoformat(month + "-01")
        store.add(NoteDraft(first, None, "価格改定", node="revenue"), "sato")
        store.add(NoteDraft(first, None, "other node", node="deals"), "sato")
        page = client.get("/nodes/revenue")
    series = _chart_json(page.text, "kt-series-data")
    assert [(n["text"], n["from"]) for n in series["notes"]] == [("価格改定", month)]
    burnup = _chart_json(page.text, "kt-burnup-revenue")
    assert [n["text"] for n in burnup["notes"]] == ["価格改定"]
    listed = re.search(r'data-testid="timeline-notes".*?</section>', page.text, re.S)
    assert listed is not None and "価格改定" in listed.group(0)
    assert "other node" not in listed.group(0)


def _chart_json(html: str, element_id: str) -> dict[str, object]:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html)
    assert found is not None, element_id
    data: dict[str, object] = json.loads(found.group(1))
    return data
