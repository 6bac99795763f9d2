"""The web platform: app factory, static assets, docs, error shapes, language."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.web import formatting
from kpitree.web.app import STATIC, check_bind, create_app, is_loopback
from kpitree.web.deps import _from_accept_language
from kpitree.web.errors import WebError

from .conftest import run_kpitree


def test_openapi_and_local_swagger_ui(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "kpitree"
    assert "/api/events" in spec["paths"] and "/api/session" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_static_assets_served_and_vendored_with_licenses(client: TestClient) -> None:
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert (STATIC / "vendor" / "htmx.LICENSE").is_file()
    assert (STATIC / "vendor" / "swagger-ui" / "LICENSE").is_file()
    assert '"2.0.11"' in htmx.text  # the pinned version (npm latest is 4.x)
    js = client.get("/static/kpitree.js").text
    assert "onDataChanged" in js and "X-CSRF-Token" in js
    assert client.get("/static/kpitree.css").status_code == 200


def test_json_error_shape_is_pinned(client: TestClient) -> None:
    missing = client.get("/api/no-such-thing")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "status": 404,
            "code": "KT602",
            "message": "このアドレスにはページもリソースもありません。",
            "diagnostics": [
                {
                    "severity": "error",
                    "code": "KT602",
                    "message": "このアドレスにはページもリソースもありません。",
                    "file": None,
                    "line": None,
                    "column": None,
                    "end_column": None,
                    "field": None,
                }
            ],
        }
    }
    english = client.get("/api/no-such-thing", headers={"accept-language": "en-US,en;q=0.9"})
    assert english.json()["error"]["message"] == "There is no page or resource at this address."


def test_csrf_less_post_is_rejected_with_the_json_shape(client: TestClient) -> None:
    refused = client.post("/api/logout")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "KT606" and error["status"] == 403
    token = client.get("/api/session").json()["csrf_token"]
    wrong = client.post("/api/logout", headers={"X-CSRF-Token": token + "x"})
    assert wrong.status_code == 403
    accepted = client.post("/api/logout", headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200, accepted.text


def test_validation_errors_name_the_field(client: TestClient) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    response = client.post("/api/login", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "KT601"
    assert [d["field"] for d in error["diagnostics"]] == ["body.password"]


def test_html_error_page_for_pages(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-code="KT602"' in page.text
    assert '<meta name="csrf-token"' in page.text
    assert "/static/vendor/htmx.min.js" in page.text and "/static/kpitree.js" in page.text
    for href in ("/funnel", "/departments", "/plan", "/data", "/alerts", "/sla", "/settings"):
        assert f'href="{href}"' in page.text


def test_security_headers(client: TestClient) -> None:
    response = client.get("/api/session")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    cookie = response.headers["set-cookie"]
    assert "kpitree_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_when_configured(demo_project: Path) -> None:
    with TestClient(
        create_app(demo_project, secure_cookies=True), base_url="http://localhost"
    ) as secure:
        assert "Secure" in secure.get("/api/session").headers["set-cookie"]
    with TestClient(create_app(demo_project), base_url="https://localhost") as https:
        assert "Secure" in https.get("/api/session").headers["set-cookie"]


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("ja,en-US;q=0.9", "ja"),
        ("ja-JP", "ja"),
        ("en-US,en;q=0.9,ja;q=0.8", "en"),
        ("fr-FR,en;q=0.5,ja;q=0.7", "ja"),
        ("fr-FR", "ja"),
        ("", "ja"),
        ("en;q=0", "ja"),
    ],
)
def test_language_from_accept_language(header: str, lang: str) -> None:
    assert _from_accept_language(header) == lang


def test_language_query_beats_cookie_beats_header(client: TestClient) -> None:
    english = {"accept-language": "en"}
    page = client.get("/nowhere?lang=ja", headers={**english, "accept": "text/html"})
    assert '<html lang="ja">' in page.text
    assert "kpitree_lang=ja" in page.headers["set-cookie"]
    # The cookie remembers the choice over the browser's language.
    again = client.get("/nowhere", headers={**english, "accept": "text/html"})
    assert '<html lang="ja">' in again.text
    client.cookies.delete("kpitree_lang")
    assert (
        '<html lang="en">'
        in client.get("/nowhere", headers={**english, "accept": "text/html"}).text
    )


def test_formatting() -> None:
    assert formatting.yen(1234567) == "¥1,234,567"
    assert formatting.yen(-1500.4) == "-¥1,500"
    assert formatting.yen(None) == "—"
    assert formatting.num(1234567.891, 1) == "1,234,567.9"
    assert formatting.num(-0.2) == "0"
    assert formatting.pct(0.1234) == "12.3%"
    assert formatting.pct(float("nan")) == "—"
    assert formatting.month("2026-10", "ja") == "2026年10月"
    assert formatting.month("2026-10-05", "en") == "Oct 2026"
    import datetime as dt

    assert formatting.date(dt.date(2026, 10, 5), "ja") == "2026年10月5日"
    assert formatting.date(dt.datetime(2026, 10, 5, 9, 30), "en", time=True) == "5 Oct 2026 09:30"


def test_template_filters_follow_the_page_language(client: TestClient) -> None:
    from kpitree.web.deps import environment

    template = environment().from_string(
        "{{ v | yen }} {{ m | month }} {{ 'web.nav.tree' | t }} {{ label }}"
    )
    ja = template.render(lang="ja", v=1234567, m="2026-10", label="<script>x</script>")
    assert ja == "¥1,234,567 2026年10月 ツリー &lt;script&gt;x&lt;/script&gt;"
    assert template.render(lang="en", v=5, m="2026-10", label="") == "¥5 Oct 2026 Tree "


def test_web_error_carries_headers() -> None:
    error = WebError(
        429, "KT607", "web.error.too_many_attempts", headers={"Retry-After": "60"}, minutes=1
    )
    assert error.status == 429 and error.headers == {"Retry-After": "60"}
    assert "1 minute" in str(error)


def test_only_loopback_without_users(demo_copy: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_bind(demo_copy, "127.0.0.1")
    from kpitree.errors import UserError

    with pytest.raises(UserError) as raised:
        check_bind(demo_copy, "0.0.0.0")
    assert raised.value.diagnostics[0].code == "KT609"


def test_serve_refuses_the_network_without_users(demo_copy: Path) -> None:
    result = run_kpitree("serve", demo_copy, "--host", "0.0.0.0", "--port", "0", check=False)
    assert result.returncode == 1
    assert "No users are configured" in result.stderr and "kpitree users add" in result.stderr
    assert "Traceback" not in result.stderr
    # The advice works exactly as printed (here with the password on stdin).
    import shlex

    printed = result.stderr.rsplit(": kpitree ", 1)[1].strip()
    args = shlex.split(printed)
    assert args[:4] == ["users", "add", "admin", "--role"]
    added = run_kpitree(*args, "--password-stdin", input="a-long-password-123\n", check=False)
    assert added.returncode == 0, added.stderr
    check_bind(demo_copy, "0.0.0.0")  # a user exists now: the network is allowed


def test_serve_prints_its_url_and_answers(live_server: str) -> None:
    import httpx

    assert live_server.startswith("http://127.0.0.1:")
    health = httpx.get(live_server + "/api/health")
    assert health.status_code == 200 and health.json()["ok"] is True


def test_every_web_error_code_is_documented() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    web = root / "src" / "kpitree" / "web"
    others = {"routes_pages.py", "routes_api.py", "routes_alerts.py", "cache.py"}
    sources = [p for p in web.glob("*.py") if p.name not in others]
    sources.append(root / "src" / "kpitree" / "cli" / "commands_web.py")
    used: set[str] = set()
    for path in sources:
        used |= set(re.findall(r'"(KT\d{3})"', path.read_text(encoding="utf-8")))
    doc = (root / "docs" / "web.md").read_text(encoding="utf-8")
    section = doc.split("## Error codes of the web app", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    own = {code for code in used if "KT600" <= code <= "KT669"}
    # The web app's own codes are documented here, and the section lists only
    # codes the web app raises; codes of other areas it raises (an upload's
    # draft mapping, a sync it starts, a file it reads) are documented here or
    # with their area.
    assert own <= documented <= used
    elsewhere = "".join(p.read_text(encoding="utf-8") for p in (root / "docs").glob("*.md"))
    assert all(f"`{code}`" in elsewhere for code in used - documented)


def test_a_broken_definition_is_shown_with_its_place_and_picked_up_when_fixed(
    demo_copy: Path,
) -> None:
    from contextlib import closing

    definition = demo_copy / "kpitree.yaml"
    good = definition.read_text(encoding="utf-8")
    with closing(
        TestClient(
            create_app(demo_copy), base_url="http://localhost", headers={"accept-language": "en"}
        )
    ) as client:
        assert client.get("/api/settings").status_code == 200
        definition.write_text(good.replace("kind: kgi", "kind: kgii", 1), encoding="utf-8")
        broken = client.get("/api/settings")
        assert broken.status_code == 400
        first = broken.json()["error"]["diagnostics"][0]
        assert first["file"].endswith("kpitree.yaml") and first["line"] > 1
        page = client.get("/settings")
        assert page.status_code == 400
        assert f"kpitree.yaml:{first['line']}:{first['column']}: " in page.text
        definition.write_text(good, encoding="utf-8")
        assert client.get("/api/settings").status_code == 200


def test_templates_load_nothing_from_other_sites() -> None:
    import re

    templates = Path(__file__).resolve().parents[2] / "src" / "kpitree" / "web" / "templates"
    external = []
    for template in sorted(templates.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r'(?:src|href|action)="([^"]*)"', text):
            target = match.group(1)
            if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", target, flags=re.IGNORECASE):
                external.append(f"{template.name}: {target}")
    assert external == []
