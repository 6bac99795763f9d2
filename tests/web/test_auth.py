"""Users, sessions, roles, CSRF and login rate limiting (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.errors import UserError
from kpitree.web.app import create_app
from kpitree.web.security import LoginLimiter
from kpitree.web.users import UserStore

from .conftest import PASSWORD, add_users

EN = {"accept-language": "en"}
# Clients are not entered as context managers: that would run the app's lifespan
# (page warming, the live watcher), which these tests do not need and which only
# competes with them for the CPU. tests/web/test_platform_live.py covers it.


@pytest.fixture
def secured(demo_copy: Path) -> Path:
    add_users(demo_copy)
    return demo_copy


@pytest.fixture
def app_client(secured: Path) -> Iterator[TestClient]:
    with closing(
        TestClient(create_app(secured), base_url="http://localhost", headers=EN)
    ) as client:
        yield client


def token(client: TestClient) -> str:
    found: str = client.get("/api/session").json()["csrf_token"]
    return found


def login(client: TestClient, name: str, password: str = PASSWORD) -> object:
    return client.post(
        "/login",
        data={"name": name, "password": password, "next": "/data", "csrf_token": token(client)},
        follow_redirects=False,
    )


def test_without_users_everyone_is_the_anonymous_admin(client: TestClient) -> None:
    session = client.get("/api/session").json()
    assert session["user"] == {"name": "", "role": "admin", "anonymous": True}
    assert session["users_configured"] is False
    assert client.get("/login", follow_redirects=False).status_code == 303


def test_login_required_json_and_redirect(app_client: TestClient) -> None:
    denied = app_client.get("/api/health")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "KT604"
    page = app_client.get("/data?x=1", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/data%3Fx%3D1"


def test_login_logout_and_cookie_flags(app_client: TestClient) -> None:
    response = login(app_client, "editor")
    assert response.status_code == 303 and response.headers["location"] == "/data"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "kpitree_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert any(c.startswith("kpitree_csrf=") for c in response.headers.get_list("set-cookie"))
    page = app_client.get("/data")
    assert page.status_code == 200 and 'data-testid="user-name">editor' in page.text
    assert app_client.get("/api/session").json()["user"]["role"] == "editor"
    out = app_client.post("/logout", data={"csrf_token": token(app_client)}, follow_redirects=False)
    assert out.status_code == 303
    assert app_client.get("/api/health").status_code == 401


def test_wrong_password_shows_a_message(app_client: TestClient) -> None:
    response = login(app_client, "editor", "wrong-password")
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert app_client.get("/api/health").status_code == 401


def test_the_csrf_token_changes_at_login(app_client: TestClient) -> None:
    before = token(app_client)
    login(app_client, "viewer")
    after = token(app_client)
    assert after != before
    stale = app_client.post("/api/logout", headers={"X-CSRF-Token": before})
    assert stale.status_code == 403
    assert app_client.post("/api/logout", headers={"X-CSRF-Token": after}).status_code == 200


def test_login_form_without_csrf_is_refused(app_client: TestClient) -> None:
    app_client.get("/api/session")
    response = app_client.post("/login", data={"name": "editor", "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_next_never_leaves_the_site(app_client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = app_client.post(
            "/login",
            data={
                "name": "viewer",
                "password": PASSWORD,
                "next": target,
                "csrf_token": token(app_client),
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_login_rate_limit_per_user(secured: Path) -> None:
    limiter = LoginLimiter(per_user=3, per_address=100, window=60)
    with closing(
        TestClient(
            create_app(secured, login_limiter=limiter), base_url="http://localhost", headers=EN
        )
    ) as client:
        for _ in range(3):
            assert login(client, "editor", "nope-nope").status_code == 401
        blocked = login(client, "editor")  # even the right password waits now
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == "60"
        assert "Too many failed logins. Wait 1 minute(s)" in blocked.text
        api = client.post(
            "/api/login",
            json={"name": "editor", "password": PASSWORD},
            headers={"X-CSRF-Token": token(client)},
        )
        assert api.status_code == 429 and api.json()["error"]["code"] == "KT607"
        assert login(client, "viewer").status_code == 303  # other users are not locked


def test_login_rate_limit_per_address(secured: Path) -> None:
    limiter = LoginLimiter(per_user=100, per_address=4, window=60)
    with closing(
        TestClient(
            create_app(secured, login_limiter=limiter), base_url="http://localhost", headers=EN
        )
    ) as client:
        for n in range(4):
            assert login(client, f"nobody{n}", "nope-nope").status_code == 401
        assert login(client, "admin").status_code == 429


def test_viewer_is_denied_edits_editor_is_not(app_client: TestClient) -> None:
    login(app_client, "viewer")
    headers = {"X-CSRF-Token": token(app_client)}
    files = {"file": ("a.csv", b"x\n1\n", "text/csv")}
    denied = app_client.post(
        "/api/imports/preview", files=files, data={"mapping": "salesforce-leads"}, headers=headers
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "KT605"
    assert "editor" in denied.json()["error"]["message"]
    assert app_client.post("/api/imports/1/undo", headers=headers).status_code == 403
    assert app_client.get("/api/users").status_code == 403
    assert app_client.get("/api/imports").status_code == 200
    login(app_client, "editor")
    headers = {"X-CSRF-Token": token(app_client)}
    allowed = app_client.post(
        "/api/imports/preview", files=files, data={"mapping": "salesforce-leads"}, headers=headers
    )
    assert allowed.status_code == 400  # past the role check: the file lacks the columns
    assert allowed.json()["error"]["code"] != "KT605"


def test_sessions_end_when_the_user_changes(app_client: TestClient, secured: Path) -> None:
    login(app_client, "editor")
    assert app_client.get("/api/health").status_code == 200
    UserStore(secured).set_password("editor", "another-password")
    assert app_client.get("/api/health").status_code == 401
    login(app_client, "editor", "another-password")
    UserStore(secured).set_role("editor", "viewer")
    assert app_client.get("/api/health").status_code == 401
    login(app_client, "editor", "another-password")
    assert app_client.get("/api/session").json()["user"]["role"] == "viewer"
    UserStore(secured).remove("editor")
    assert app_client.get("/api/health").status_code == 401


def test_a_forged_session_cookie_is_ignored(app_client: TestClient) -> None:
    login(app_client, "viewer")
    real = app_client.cookies.get("kpitree_session")
    assert real
    app_client.cookies.set("kpitree_session", real[:-2] + ("AA" if real[-2:] != "AA" else "BB"))
    assert app_client.get("/api/health").status_code == 401


def test_user_text_is_escaped(demo_copy: Path) -> None:
    store = UserStore(demo_copy)
    store.add("<script>alert(1)</script>", "admin", PASSWORD)
    definition = demo_copy / "kpitree.yaml"
    text = definition.read_text(encoding="utf-8")
    assert "\nname: " in text
    lines = [
        "name: '<img src=x onerror=alert(1)>'" if line.startswith("name: ") else line
        for line in text.splitlines()
    ]
    definition.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with closing(
        TestClient(create_app(demo_copy), base_url="http://localhost", headers=EN)
    ) as client:
        response = login(client, "<script>alert(1)</script>")
        assert response.status_code == 303
        page = client.get("/settings")
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_user_store_rules(demo_copy: Path) -> None:
    store = UserStore(demo_copy)
    assert store.count() == 0 and not (demo_copy / ".kpitree" / "app.sqlite").exists()
    with pytest.raises(UserError) as first:
        store.add("sato", "viewer", PASSWORD)
    assert first.value.diagnostics[0].code == "KT624"
    store.add("佐藤", "admin", PASSWORD)
    with pytest.raises(UserError) as taken:
        store.add("佐藤", "viewer", PASSWORD)
    assert taken.value.diagnostics[0].code == "KT610"
    with pytest.raises(UserError) as last:
        store.set_role("佐藤", "viewer")
    assert last.value.diagnostics[0].code == "KT625"
    with pytest.raises(UserError) as last_removed:
        store.remove("佐藤")
    assert last_removed.value.diagnostics[0].code == "KT625"
    assert [u.name for u in store.list()] == ["佐藤"]
    assert store.verify("佐藤", PASSWORD) is not None
    assert store.verify("佐藤", "wrong-password") is None
    assert store.verify("nobody", PASSWORD) is None
    stored = (demo_copy / ".kpitree" / "app.sqlite").read_bytes()
    assert PASSWORD.encode() not in stored and b"$argon2id$" in stored
    # Another part of the app keeps its own tables in the same file.
    import sqlite3

    with sqlite3.connect(demo_copy / ".kpitree" / "app.sqlite") as con:
        con.execute("CREATE TABLE IF NOT EXISTS other_table (x INTEGER)")
    assert store.count() == 1
    with sqlite3.connect(demo_copy / ".kpitree" / "app.sqlite") as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"web_users", "web_secrets", "other_table"} <= names


def test_first_user_added_on_the_page_logs_the_browser_in(demo_copy: Path) -> None:
    with closing(
        TestClient(create_app(demo_copy), base_url="http://localhost", headers=EN)
    ) as client:
        response = client.post(
            "/settings/users",
            data={
                "name": "boss",
                "role": "admin",
                "password": PASSWORD,
                "csrf_token": token(client),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        page = client.get(response.headers["location"])
        assert page.status_code == 200 and "Added user boss." in page.text
        assert client.get("/api/session").json()["user"]["name"] == "boss"


def test_admin_manages_users_through_the_api(app_client: TestClient) -> None:
    login(app_client, "admin")
    headers = {"X-CSRF-Token": token(app_client)}
    added = app_client.post(
        "/api/users", json={"name": "鈴木", "role": "editor", "password": PASSWORD}, headers=headers
    )
    assert added.status_code == 201 and added.json()["user"]["role"] == "editor"
    changed = app_client.patch("/api/users/鈴木", json={"role": "viewer"}, headers=headers)
    assert changed.json()["user"]["role"] == "viewer"
    names = [u["name"] for u in app_client.get("/api/users").json()["users"]]
    assert "鈴木" in names
    bad = app_client.post(
        "/api/users", json={"name": "x", "role": "boss", "password": PASSWORD}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["diagnostics"][0]["field"] == "body.role"
    short = app_client.post(
        "/api/users", json={"name": "x", "role": "viewer", "password": "short"}, headers=headers
    )
    assert short.status_code == 400 and short.json()["error"]["code"] == "KT613"
    assert app_client.delete("/api/users/鈴木", headers=headers).json() == {"removed": "鈴木"}
    assert app_client.delete("/api/users/鈴木", headers=headers).json()["error"]["code"] == "KT611"
    assert app_client.delete("/api/users/admin").status_code == 403  # no CSRF token


@pytest.mark.slow  # real kpitree processes
def test_users_cli(demo_copy: Path) -> None:
    from .conftest import run_kpitree

    added = run_kpitree(
        "users",
        "add",
        "田中",
        "--role",
        "admin",
        "--project",
        demo_copy,
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )
    assert '"name": "田中"' in added.stdout
    listed = run_kpitree("users", "list", "--project", demo_copy, "--json")
    assert '"role": "admin"' in listed.stdout
    refused = run_kpitree("users", "remove", "田中", "--project", demo_copy, check=False)
    assert refused.returncode == 1 and "last admin" in refused.stderr
    assert UserStore(demo_copy).verify("田中", PASSWORD) is not None


def test_htmx_requests_get_a_fragment_or_a_login_redirect(
    app_client: TestClient, secured: Path
) -> None:
    htmx = {"HX-Request": "true", "HX-Current-URL": "http://testserver/data?lang=en"}
    expired = app_client.get("/data/history", headers=htmx)
    assert expired.status_code == 401
    assert expired.headers["hx-redirect"] == "/login?next=/data%3Flang%3Den"
    login(app_client, "viewer")
    denied = app_client.post("/data/undo/1", headers={**htmx, "X-CSRF-Token": token(app_client)})
    assert denied.status_code == 403
    assert denied.text.startswith('<div class="kt-alert" role="alert" data-code="KT605">')
    assert "<html" not in denied.text
