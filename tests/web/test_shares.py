"""Wall screens and shared read-only links: a link shows exactly its view with
its filters to a browser without an account, reaches nothing else, and stops
when revoked or expired (in process, and one real server for the event stream
and the log)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app

from .conftest import PASSWORD, add_users

EN = {"accept-language": "en"}


@pytest.fixture
def secured(demo_copy: Path) -> Path:
    add_users(demo_copy)
    return demo_copy


def _signed_in(app: object, name: str) -> TestClient:
    client = TestClient(app, base_url="http://localhost", headers=EN)  # type: ignore[arg-type]
    token = client.get("/api/session").json()["csrf_token"]
    answer = client.post(
        "/api/login", json={"name": name, "password": PASSWORD}, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
    return client


@pytest.fixture
def clients(secured: Path) -> Iterator[dict[str, TestClient]]:
    app = create_app(secured)
    made = {name: _signed_in(app, name) for name in ("admin", "editor", "viewer")}
    made["anonymous"] = TestClient(app, base_url="http://localhost", headers=EN)
    yield made
    for client in made.values():
        client.close()


def _share(admin: TestClient, **body: object) -> tuple[str, str]:
    answer = admin.post("/api/shares", json={"label": "TV", **body})
    assert answer.status_code == 201, answer.text
    return answer.json()["share"]["id"], answer.json()["url"]


def test_a_shared_link_shows_its_one_view_to_a_browser_without_an_account(
    clients: dict[str, TestClient],
) -> None:
    admin, anonymous = clients["admin"], clients["anonymous"]
    _, url = _share(admin, view="department", department="inside_sales", lang="en")
    page = anonymous.get(url)
    assert page.status_code == 200, page.text
    assert 'data-testid="kiosk"' in page.text and 'data-kind="department"' in page.text
    assert 'data-live="' + url + '/events"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not any(c.startswith("kpitree_session") for c in page.headers.get_list("set-cookie"))
    # No link on the screen leads anywhere.
    assert "<a " not in page.text and "<form" not in page.text
    # The address fixes the view: parameters change nothing, and nothing downloads.
    same = anonymous.get(url + "?department=field_sales&lang=ja&format=csv&period=FY2025")
    assert same.status_code == 200 and same.headers["content-type"].startswith("text/html")
    assert _cards(same.text) == _cards(page.text)
    assert 'lang="en"' in same.text


OTHER_ADDRESSES = (
    "/",
    "/nodes/revenue",
    "/departments/inside_sales",
    "/tv",
    "/api/tree",
    "/api/departments/inside_sales",
    "/api/events",
    "/api/notes",
    "/api/shares",
    "/settings",
    "/data",
    "/?format=csv",
    "/api/tree?format=xlsx",
)


def test_a_shared_link_reaches_no_other_page_api_download_or_stream(
    clients: dict[str, TestClient],
) -> None:
    admin, anonymous = clients["admin"], clients["anonymous"]
    _, url = _share(admin)
    assert anonymous.get(url).status_code == 200
    for path in OTHER_ADDRESSES:
        other = anonymous.get(path, follow_redirects=False)
        assert other.status_code in (401, 303), (path, other.status_code)
        if other.status_code == 303:
            assert other.headers["location"].startswith("/login")


def test_revoked_expired_and_forged_links_are_refused(
    clients: dict[str, TestClient], secured: Path
) -> None:
    admin, anonymous = clients["admin"], clients["anonymous"]
    first, url = _share(admin)
    second, other = _share(admin, view="tree", filters={"department": "field_sales"})
    assert anonymous.get(url).status_code == 200

    listed = {s["id"]: s for s in admin.get("/api/shares").json()["shares"]}
    assert listed[first]["state"] == "active" and "url" not in listed[first]
    assert listed[second]["params"] == {"department": "field_sales"}

    assert admin.delete(f"/api/shares/{first}").status_code == 200
    refused = anonymous.get(url)
    assert refused.status_code == 404 and "KT685" in refused.text
    assert anonymous.get(url + "/events").status_code == 404

    with closing(sqlite3.connect(secured / ".kpitree" / "app.sqlite")) as con, con:
        con.execute("UPDATE web_shares SET expires_at = ? WHERE id = ?", (time.time() - 1, second))
    assert anonymous.get(other).status_code == 404
    states = {s["id"]: s["state"] for s in admin.get("/api/shares").json()["shares"]}
    assert states == {first: "revoked", second: "expired"}

    _, good = _share(admin)
    token = good.removeprefix("/s/")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert anonymous.get("/s/" + forged).status_code == 404
    assert anonymous.get("/s/" + token + "x").status_code == 404
    assert anonymous.get(good).status_code == 200


def test_only_admins_make_and_revoke_links(clients: dict[str, TestClient]) -> None:
    share_id, _ = _share(clients["admin"])
    for name in ("editor", "viewer"):
        made = clients[name].post("/api/shares", json={"view": "tree"})
        assert made.status_code == 403
        assert clients[name].delete(f"/api/shares/{share_id}").status_code == 403
        assert clients[name].get("/api/shares").status_code == 403
    assert clients["anonymous"].get("/api/shares").status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"view": "department"}, "KT687"),
        ({"view": "department", "department": "nowhere"}, "KT691"),
        ({"view": "tree", "filters": {"password": "x"}}, "KT689"),
        ({"view": "tree", "days": 400}, "KT601"),
    ],
)
def test_bad_links_are_refused_with_a_reason(
    clients: dict[str, TestClient], body: dict[str, object], code: str
) -> None:
    answer = clients["admin"].post("/api/shares", json=body)
    assert answer.status_code in (400, 404, 422), answer.text
    assert code in answer.text
    assert clients["admin"].get("/api/shares").json()["shares"] == []


def test_the_settings_page_makes_lists_and_revokes_links(clients: dict[str, TestClient]) -> None:
    admin = clients["admin"]
    csrf = admin.headers["X-CSRF-Token"]
    made = admin.post(
        "/settings/shares",
        data={"csrf_token": csrf, "view": "tree", "label": "Lobby", "days": "7"},
    )
    assert made.status_code == 200
    assert 'data-testid="new-share-url"' in made.text
    share = admin.get("/api/shares").json()["shares"][0]
    assert share["label"] == "Lobby"
    page = admin.get("/settings")
    assert f'data-share="{share["id"]}"' in page.text
    assert 'data-testid="new-share-url"' not in page.text
    revoked = admin.post(
        f"/settings/shares/{share['id']}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert admin.get("/api/shares").json()["shares"][0]["state"] == "revoked"
    assert "new-share" not in clients["viewer"].get("/settings").text
    assert 'data-testid="shares"' not in clients["viewer"].get("/settings").text


def test_the_wall_screen_follows_the_page_filters_for_viewers(
    clients: dict[str, TestClient],
) -> None:
    viewer = clients["viewer"]
    tv = viewer.get("/tv?department=field_sales")
    assert tv.status_code == 200 and 'data-live="/api/events"' in tv.text
    assert 'data-testid="kiosk-filter"' in tv.text
    dept = viewer.get("/tv/departments/inside_sales")
    assert dept.status_code == 200 and 'data-kind="department"' in dept.text
    assert clients["anonymous"].get("/tv", follow_redirects=False).status_code in (303, 401)


@pytest.mark.slow
def test_the_shared_stream_ends_on_revoke_and_tokens_stay_out_of_the_log(
    secured: Path, start_server: Callable[..., str]
) -> None:
    base = start_server(secured)
    with httpx.Client(base_url=base, timeout=30) as admin:
        csrf = admin.get("/api/session").json()["csrf_token"]
        admin.post(
            "/api/login",
            json={"name": "admin", "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        csrf = admin.get("/api/session").json()["csrf_token"]
        made = admin.post("/api/shares", json={"view": "tree"}, headers={"X-CSRF-Token": csrf})
        share_id, url = made.json()["share"]["id"], made.json()["url"]
        with httpx.Client(base_url=base, timeout=30) as anonymous:
            assert anonymous.get(url).status_code == 200
            with anonymous.stream("GET", url + "/events") as stream:
                lines = stream.iter_lines()
                assert next(line for line in lines if line.startswith("event:")) == "event: hello"
                admin.delete(f"/api/shares/{share_id}", headers={"X-CSRF-Token": csrf})
                started = time.monotonic()
                for _ in lines:  # the stream ends by itself after the revoke
                    assert time.monotonic() - started < 30
            assert anonymous.get(url).status_code == 404
    token = url.removeprefix("/s/")
    # The server's own output (its log) never holds the token.
    assert not any(token in line for line in _server_output(base))


def _server_output(base: str) -> list[str]:
    import gc

    from .conftest import Server

    for obj in gc.get_objects():
        if isinstance(obj, Server) and obj.url == base:
            return obj.output
    raise AssertionError("server not found")


def _cards(html: str) -> list[str]:
    import re

    return re.findall(r'data-node-id="([^"]+)"', html)


def test_an_error_on_a_shared_screen_does_not_log_its_token(
    clients: dict[str, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kpitree.web import routes_share

    _, url = _share(clients["admin"])

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the view failed")

    # A failure injected where the screen is computed: the server's log must say
    # where it happened without the link's secret.
    monkeypatch.setattr(routes_share, "_view", broken)
    anonymous = TestClient(
        clients["admin"].app, base_url="http://localhost", raise_server_exceptions=False
    )
    with closing(anonymous), caplog.at_level("ERROR"):
        assert anonymous.get(url).status_code == 500
    assert "unexpected error on /s/" in caplog.text
    assert url.removeprefix("/s/") not in caplog.text
