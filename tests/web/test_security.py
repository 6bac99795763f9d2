"""Host names (DNS rebinding), Origin of state-changing requests, server-side
sessions, login-limit normalisation, trusted proxies, the API description
behind the viewer rule and server paths kept out of error bodies (in process)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app
from kpitree.web.guard import apply_proxy
from kpitree.web.security import LoginLimiter
from kpitree.web.settings import WebSettings
from kpitree.web.users import UserStore

from .conftest import PASSWORD, add_users

EN = {"accept-language": "en"}
BASE = "http://localhost"


def make_client(path: Path, **kwargs: Any) -> TestClient:
    return TestClient(create_app(path, **kwargs), base_url=BASE, headers=EN)


@pytest.fixture
def secured(demo_copy: Path) -> Path:
    add_users(demo_copy)
    return demo_copy


@pytest.fixture
def open_client(demo_copy: Path) -> Iterator[TestClient]:
    """No users: every visitor of a served host name is the anonymous admin."""
    with closing(make_client(demo_copy)) as client:
        yield client


def token(client: TestClient) -> str:
    found: str = client.get("/api/session").json()["csrf_token"]
    return found


def api_login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/api/login",
        json={"name": name, "password": password},
        headers={"X-CSRF-Token": token(client)},
    )


# -- host names ----------------------------------------------------------------------------


def test_a_rebound_host_name_reaches_nothing(open_client: TestClient, demo_copy: Path) -> None:
    evil = {"host": "rebind.example:8000"}
    for path in ("/api/session", "/api/tree", "/api/events", "/openapi.json"):
        refused = open_client.get(path, headers=evil)
        assert refused.status_code == 421, path
        body = refused.json()["error"]
        assert body["code"] == "KT631" and body["diagnostics"][0]["code"] == "KT631"
        assert "rebind.example" in body["message"] and "--allowed-host" in body["message"]
    for path in ("/", "/settings", "/docs", "/static/kpitree.js", "/no-such-page"):
        page = open_client.get(path, headers=evil)
        assert page.status_code == 421, path
        assert "KT631" in page.text and page.headers["content-type"].startswith("text/html")
    created = open_client.post(
        "/api/users",
        json={"name": "mallory", "role": "admin", "password": "mallory-password"},
        headers={**evil, "X-CSRF-Token": token(open_client)},
    )
    assert created.status_code == 421
    assert UserStore(demo_copy).count() == 0


def test_loopback_names_addresses_and_allowed_hosts_are_served(demo_copy: Path) -> None:
    with closing(make_client(demo_copy)) as client:
        for host in ("localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST.", "10.1.2.3"):
            assert client.get("/api/session", headers={"host": host}).status_code == 200, host
        assert client.get("/api/session", headers={"host": "kpi.example"}).status_code == 421
        for bad in ("", "local host", "localhost:x", "[::1"):
            assert client.get("/api/session", headers={"host": bad}).status_code == 421, bad
    settings = WebSettings.of(allowed_hosts=["KPI.example"], host="dash.internal")
    with closing(make_client(demo_copy, settings=settings)) as client:
        for host in ("kpi.example", "kpi.example:443", "dash.internal:8000"):
            assert client.get("/api/session", headers={"host": host}).status_code == 200, host


def test_allowed_hosts_from_kpitree_yaml(demo_copy: Path) -> None:
    yaml = demo_copy / "kpitree.yaml"
    yaml.write_text(
        yaml.read_text(encoding="utf-8") + "\nweb:\n  allowed_hosts: [kpi.example]\n",
        encoding="utf-8",
    )
    with closing(make_client(demo_copy)) as client:
        assert client.get("/api/session", headers={"host": "kpi.example"}).status_code == 200
        assert client.get("/api/session", headers={"host": "other.example"}).status_code == 421


def test_bad_settings_are_refused_by_code() -> None:
    from kpitree.errors import UserError

    with pytest.raises(UserError) as bad_host:
        WebSettings.of(allowed_hosts=["https://kpi.example/"])
    assert bad_host.value.diagnostics[0].code == "KT630"
    with pytest.raises(UserError) as bad_proxy:
        WebSettings.of(trusted_proxies=["10.0.0.0/33"])
    assert bad_proxy.value.diagnostics[0].code == "KT632"


# -- origin of state-changing requests ------------------------------------------------------


def new_user(client: TestClient, headers: dict[str, str], name: str = "mallory") -> Any:
    return client.post(
        "/api/users",
        json={"name": name, "role": "admin", "password": "mallory-password"},
        headers={"X-CSRF-Token": token(client), **headers},
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "http://localhost:9999"},
        {"origin": "https://localhost"},
        {"referer": "http://evil.example/page"},
    ],
)
def test_writes_from_another_origin_are_refused(
    open_client: TestClient, demo_copy: Path, headers: dict[str, str]
) -> None:
    refused = new_user(open_client, headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "KT633"
    assert UserStore(demo_copy).count() == 0


def test_writes_from_the_dashboard_itself_or_a_script_pass(
    open_client: TestClient, demo_copy: Path
) -> None:
    assert new_user(open_client, {"origin": "http://localhost"}, "first").status_code == 201
    assert UserStore(demo_copy).count() == 1
    # curl and scripts send neither header: the CSRF token still decides.
    bare = open_client.post("/api/logout", headers={"X-CSRF-Token": "wrong"})
    assert bare.status_code == 403 and bare.json()["error"]["code"] == "KT606"
    referer = open_client.post(
        "/api/logout",
        headers={"referer": "http://localhost/settings", "X-CSRF-Token": token(open_client)},
    )
    assert referer.status_code == 200


# -- sessions ----------------------------------------------------------------------------


def test_logout_ends_a_copied_session_cookie(secured: Path) -> None:
    with closing(make_client(secured)) as client, closing(make_client(secured)) as thief:
        assert api_login(client, "editor").status_code == 200
        copied = client.cookies.get("kpitree_session")
        assert copied
        thief.cookies.set("kpitree_session", copied)
        assert thief.get("/api/health").status_code == 200
        out = client.post("/api/logout", headers={"X-CSRF-Token": token(client)})
        assert out.status_code == 200
        assert thief.get("/api/health").status_code == 401
        assert client.get("/api/health").status_code == 401


def test_only_a_hash_of_the_session_token_is_stored(secured: Path) -> None:
    with closing(make_client(secured)) as client:
        api_login(client, "viewer")
        cookie = client.cookies.get("kpitree_session")
        assert cookie
    import hashlib

    database = secured / ".kpitree" / "app.sqlite"
    with closing(sqlite3.connect(database)) as con:
        stored = [row[0] for row in con.execute("SELECT token_hash FROM web_sessions")]
    assert stored == [hashlib.sha256(cookie.encode()).hexdigest()]
    for name in ("app.sqlite", "app.sqlite-wal"):
        file = database.parent / name
        if file.exists():
            assert cookie.encode() not in file.read_bytes()


def _age_sessions(path: Path, column: str, seconds: float) -> None:
    with closing(sqlite3.connect(path / ".kpitree" / "app.sqlite")) as con, con:
        con.execute(f"UPDATE web_sessions SET {column} = ?", (time.time() - seconds,))


def test_idle_timeout_and_absolute_lifetime(secured: Path) -> None:
    settings = WebSettings.of(session_idle_minutes=30, session_lifetime_hours=2)
    with closing(make_client(secured, settings=settings)) as client:
        response = api_login(client, "viewer")
        cookie = next(c for c in response.headers.get_list("set-cookie") if "kpitree_session=" in c)
        assert "Max-Age=7200" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        _age_sessions(secured, "last_seen", 29 * 60)
        assert client.get("/api/health").status_code == 200  # used again: idle time restarts
        _age_sessions(secured, "last_seen", 31 * 60)
        assert client.get("/api/health").status_code == 401
        api_login(client, "viewer")
        _age_sessions(secured, "created_at", 2 * 3600 + 5)
        assert client.get("/api/health").status_code == 401  # used a second ago, but too old


def test_password_role_and_removal_end_sessions_from_the_web(secured: Path) -> None:
    with closing(make_client(secured)) as admin, closing(make_client(secured)) as editor:
        api_login(admin, "admin")
        api_login(editor, "editor")
        headers = {"X-CSRF-Token": token(admin)}
        changed = admin.patch("/api/users/editor", json={"role": "viewer"}, headers=headers)
        assert changed.status_code == 200
        assert editor.get("/api/health").status_code == 401
        api_login(editor, "editor")
        assert admin.delete("/api/users/editor", headers=headers).status_code == 200
        assert editor.get("/api/health").status_code == 401


# -- login limits ----------------------------------------------------------------------------


def test_spacing_width_and_case_share_one_login_counter(secured: Path) -> None:
    limiter = LoginLimiter(per_user=4, per_address=100, window=60)
    with closing(make_client(secured, login_limiter=limiter)) as client:
        for name in (" editor", "editor\t", "EDITOR", "ｅｄｉｔｏｒ"):
            assert api_login(client, name, "wrong-password").status_code == 401
        blocked = api_login(client, "editor")
        assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "KT607"
        assert api_login(client, "viewer").status_code == 200


def test_padded_name_logs_in_as_the_stored_user(secured: Path) -> None:
    with closing(make_client(secured)) as client:
        response = api_login(client, " editor\t")
        assert response.status_code == 200
        assert response.json()["user"]["name"] == "editor"
    store = UserStore(secured)
    store.set_role("editor\t", "viewer")  # every command reads the name the same way
    assert store.get(" editor").role == "viewer"  # type: ignore[union-attr]
    store.remove("ｅｄｉｔｏｒ")
    assert store.get("editor") is None


def _scope(peer: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "http",
        "client": (peer, 1234),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


def test_forwarded_headers_count_only_from_trusted_proxies() -> None:
    spoof = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
    untrusted = _scope("127.0.0.1", spoof)
    apply_proxy(untrusted, WebSettings())
    assert untrusted["client"] == ("127.0.0.1", 1234) and untrusted["scheme"] == "http"

    proxies = WebSettings.of(trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    chain = _scope("127.0.0.1", {"x-forwarded-for": "198.51.100.7, 203.0.113.9, 10.1.1.1"})
    apply_proxy(chain, proxies)
    assert chain["client"][0] == "203.0.113.9"  # the nearest hop that is not a proxy
    forwarded = _scope("10.2.3.4", {"forwarded": 'for="[2001:db8::1]:443";proto=https'})
    apply_proxy(forwarded, proxies)
    assert forwarded["client"][0] == "2001:db8::1" and forwarded["scheme"] == "https"
    garbage = _scope("127.0.0.1", {"x-forwarded-for": "not-an-address"})
    apply_proxy(garbage, proxies)
    assert garbage["client"] == ("127.0.0.1", 1234)
    outsider = _scope("192.0.2.1", spoof)
    apply_proxy(outsider, proxies)
    assert outsider["client"] == ("192.0.2.1", 1234)


def test_a_trusted_proxy_names_the_host_the_browser_asked_for(demo_copy: Path) -> None:
    """nginx passes ``Host: 127.0.0.1:8000`` unless told otherwise; the name the
    browser used comes in X-Forwarded-Host (the proxy's own, last, value)."""
    settings = WebSettings.of(trusted_proxies=["10.0.0.0/8"], allowed_hosts=["kpi.example"])
    with closing(
        TestClient(
            create_app(demo_copy, settings=settings),
            base_url="http://127.0.0.1:8000",
            headers=EN,
            client=("10.0.0.2", 5000),
        )
    ) as client:
        ok = {"x-forwarded-host": "kpi.example", "x-forwarded-proto": "https"}
        assert client.get("/api/session", headers=ok).status_code == 200
        rebound = {"x-forwarded-host": "kpi.example, rebind.example"}
        assert client.get("/api/session", headers=rebound).status_code == 421
        write = client.post(
            "/api/logout",
            headers={**ok, "origin": "https://kpi.example", "X-CSRF-Token": token(client)},
        )
        assert write.status_code == 200
        foreign = client.post(
            "/api/logout",
            headers={**ok, "origin": "http://127.0.0.1:8000", "X-CSRF-Token": token(client)},
        )
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "KT633"
    untrusted = WebSettings.of(allowed_hosts=["kpi.example"])
    with closing(make_client(demo_copy, settings=untrusted)) as client:
        sneaky = {"host": "rebind.example", "x-forwarded-host": "localhost"}
        assert client.get("/api/session", headers=sneaky).status_code == 421


# -- the API description -----------------------------------------------------------------


def test_api_description_needs_a_viewer_unless_opened(secured: Path) -> None:
    with closing(make_client(secured)) as client:
        denied = client.get("/openapi.json")
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "KT604"
        docs = client.get("/docs", follow_redirects=False)
        assert docs.status_code == 303 and docs.headers["location"] == "/login?next=/docs"
        api_login(client, "viewer")
        assert client.get("/openapi.json").json()["info"]["title"] == "kpitree"
        assert "swagger-ui" in client.get("/docs").text
    opened = WebSettings.of(public_api_docs=True)
    with closing(make_client(secured, settings=opened)) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200
        assert client.get("/api/health").status_code == 401  # only the description is open


# -- server paths ---------------------------------------------------------------------------


def test_error_bodies_name_files_relative_to_the_project(open_client: TestClient) -> None:
    open_client.headers["X-CSRF-Token"] = token(open_client)
    empty = open_client.post(
        "/api/imports/preview",
        files={"file": ("empty.csv", b"", "text/csv")},
        data={"mapping": "salesforce-opportunities"},
    )
    assert empty.status_code == 400
    missing = open_client.post(
        "/api/imports/preview",
        files={"file": ("columns.csv", b"x\n1\n", "text/csv")},
        data={"mapping": "salesforce-opportunities"},
    )
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "KT371"
    head = "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    bad = f"{head}\nX1,Deal,01/05/2026,01/05/2026,abc,Closed Won,rep-1\n".encode()
    previewed = open_client.post(
        "/api/imports/preview",
        files={"file": ("bad.csv", bad, "text/csv")},
        data={"mapping": "salesforce-opportunities"},
    ).json()
    refused = open_client.post(
        "/api/imports",
        json={"upload_id": previewed["upload_id"], "mapping": "salesforce-opportunities"},
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "KT622"
    page = open_client.post(
        "/api/imports",
        json={"upload_id": previewed["upload_id"], "mapping": "salesforce-opportunities"},
        headers={"hx-request": "true"},
    )
    checks = (
        (empty, "empty.csv"),
        (missing, "columns.csv"),
        (refused, "bad.csv:2:5"),
        (page, "bad.csv"),
    )
    for response, name in checks:
        assert name in response.text
        assert "/.kpitree/" not in response.text and "/tmp" not in response.text
        assert str(Path.home()) not in response.text


def test_public_paths_rewrites_server_paths(tmp_path: Path) -> None:
    from kpitree.web.errors import public_paths

    project = tmp_path / "plan"
    scrub = public_paths(project)
    assert scrub(f"{project}/data/deals.csv:2:1: bad") == "data/deals.csv:2:1: bad"
    assert scrub(f"{project}/.kpitree/uploads/AbC-1_x/取引.csv is empty") == "取引.csv is empty"
    assert scrub(f"open {project}: no") == "open .: no"
    assert scrub(f"{Path.home()}/other/place/x.yaml broke") == "x.yaml broke"
    assert scrub("POST /api/imports/3/undo") == "POST /api/imports/3/undo"


def test_login_next_with_a_tab_or_newline_stays_on_the_site(secured: Path) -> None:
    with closing(make_client(secured)) as client:
        for target in ("/\t/evil.example", "/\n/evil.example", "/%09/ok", "/nodes/受注"):
            response = client.post(
                "/login",
                data={
                    "name": "viewer",
                    "password": PASSWORD,
                    "next": target,
                    "csrf_token": token(client),
                },
                follow_redirects=False,
            )
            expected = target if target in ("/%09/ok", "/nodes/受注") else "/"
            assert response.headers["location"] == expected.replace("受注", "%E5%8F%97%E6%B3%A8")


def test_settings_show_no_server_path_and_no_database_password(demo_copy: Path) -> None:
    with closing(make_client(demo_copy)) as client:
        info = client.get("/api/settings").json()["project"]
        assert info["path"] == demo_copy.name
        assert info["warehouse"] == ".kpitree/warehouse.duckdb"
        assert str(demo_copy) not in client.get("/settings").text
    yaml = demo_copy / "kpitree.yaml"
    text = yaml.read_text(encoding="utf-8")
    assert "\ndata:" not in text
    yaml.write_text(
        text + "\ndata:\n  warehouse: postgresql://kpi:s3cret-pw@127.0.0.1:9/revenue\n",
        encoding="utf-8",
    )
    with closing(make_client(demo_copy)) as client:
        response = client.get("/api/settings")
        assert response.json()["project"]["warehouse"] == (
            "postgresql://kpi:***@127.0.0.1:9/revenue"
        )
        assert "s3cret-pw" not in client.get("/settings").text


def test_import_history_names_files_relative_to_the_project(demo_copy: Path) -> None:
    """Imports made in a terminal keep their absolute source path in the log."""
    import shutil

    from .conftest import run_kpitree

    outside = demo_copy.parent / "exports" / "deals.csv"
    inside = demo_copy / "incoming" / "deals.csv"
    head = "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    for number, file in enumerate((outside, inside)):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(
            f"{head}\nH{number},Deal,01/05/2026,01/05/2026,1000,Closed Won,rep-1\n",
            encoding="utf-8",
        )
        run_kpitree("import", file, "--mapping", "salesforce-opportunities", "-p", demo_copy)
    shutil.rmtree(outside.parent)
    with closing(make_client(demo_copy)) as client:
        response = client.get("/api/imports")
        sources = [row["source_file"] for row in response.json()["imports"][:2]]
        assert sources == ["incoming/deals.csv", "deals.csv"]
        assert str(demo_copy.parent) not in response.text
        assert str(demo_copy.parent) not in client.get("/data").text


def test_public_file(tmp_path: Path) -> None:
    from kpitree.web.errors import public_file

    project = tmp_path / "plan"
    assert public_file(str(project / "data" / "d.csv"), project) == "data/d.csv"
    assert public_file(str(project / ".kpitree" / "uploads" / "x1" / "d.csv"), project) == "d.csv"
    assert public_file("/srv/exports/d.csv", project) == "d.csv"
    assert public_file("data/d.csv", project) == "data/d.csv"


# -- every route behind the same rules -----------------------------------------------------

# Routes a browser reaches without the viewer rule, and what guards each instead.
PUBLIC_ROUTES = {
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "the login itself (rate limited)",
    ("GET", "/logout"): "ends a session",
    ("POST", "/logout"): "ends a session",
    ("POST", "/api/login"): "the login itself (rate limited)",
    ("POST", "/api/logout"): "ends a session",
    ("GET", "/api/session"): "who is signed in and the CSRF token",
    ("GET", "/login/sso"): "single sign-on: to the provider",
    ("GET", "/login/sso/callback"): "single sign-on: state, nonce and PKCE",
    ("POST", "/hooks/hubspot"): "the webhook's signature",
    ("GET", "/s/{token}"): "the shared link's signed token",
    ("GET", "/s/{token}/events"): "the shared link's signed token",
}
RULES = {"require_viewer", "require_editor", "require_admin", "docs_reader"}


def _served_routes(app: Any) -> Iterator[tuple[str, str, set[str]]]:
    from kpitree.web.contract import api_routes

    def calls(dependant: Any) -> set[str]:
        found: set[str] = set()
        for sub in dependant.dependencies:
            found.add(getattr(sub.call, "__name__", ""))
            found |= calls(sub)
        return found

    for route in api_routes(app):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            yield method, route.path, calls(route.dependant)


def test_every_route_has_a_role_rule_or_is_listed_as_public(secured: Path) -> None:
    app = create_app(secured)
    served = list(_served_routes(app))
    assert len(served) > 80
    for method, path, calls in served:
        assert "check_csrf" in calls, (method, path)
        if (method, path) in PUBLIC_ROUTES:
            assert not calls & RULES, f"{method} {path} is listed as public but has a rule"
        else:
            assert calls & RULES, f"{method} {path}: no role rule; add one or list it as public"
    # A public route that no longer exists is taken off the list.
    assert set(PUBLIC_ROUTES) <= {(m, p) for m, p, _ in served}


def test_without_a_session_nothing_is_loaded_or_shown(secured: Path) -> None:
    """Every route but the public ones asks for a login first, even when the
    definition is broken (its errors quote the project's files), and the public
    ones show nothing of the definition either."""
    import re

    definition = secured / "kpitree.yaml"
    definition.write_text(definition.read_text("utf-8") + "\n  : broken: [\n", "utf-8")
    with closing(make_client(secured)) as client:
        csrf = token(client)
        for method, path, _ in _served_routes(client.app):
            address = re.sub(r"\{[^}]+\}", "x", path)
            answer = client.request(
                method, address, json={}, headers={"X-CSRF-Token": csrf}, follow_redirects=False
            )
            assert "KT001" not in answer.text, (method, path)
            if (method, path) in PUBLIC_ROUTES:
                continue
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/login?next="), (method, path)
            else:
                assert answer.status_code == 401, (method, path, answer.status_code)
                assert answer.json()["error"]["code"] == "KT604"
        # A signed-in viewer does see what is wrong with the definition.
        api_login(client, "viewer")
        assert "KT001" in client.get("/api/tree").text


def test_a_json_or_form_body_over_the_limit_is_refused_and_nothing_is_stored(
    secured: Path,
) -> None:
    from kpitree.web.security import MAX_BODY_BYTES

    with closing(make_client(secured)) as client:
        assert api_login(client, "editor").status_code == 200
        csrf = {"X-CSRF-Token": token(client)}
        huge = "長" * (MAX_BODY_BYTES // 3 + 10)  # three bytes each in UTF-8
        note = {"start": "2026-10-01", "text": "ok", "node": None}
        for send in (
            lambda: client.post("/api/notes", json={**note, "label": huge}, headers=csrf),
            lambda: client.post("/nodes/revenue/notes", data={"start": "2026-10-01",
                                "text": huge, "csrf_token": csrf["X-CSRF-Token"]}),
        ):  # fmt: skip
            refused = send()
            assert refused.status_code == 413, refused.text[:200]
            assert "KT771" in refused.text
        assert client.get("/api/notes").json()["notes"] == []
        # A body under the limit still goes through, and uploads have their own limit.
        assert client.post("/api/notes", json=note, headers=csrf).status_code == 201
