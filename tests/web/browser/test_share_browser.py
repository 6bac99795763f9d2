"""Wall screens, shared links and notes on the timeline in a real Chromium
against a real ``kpitree serve``: a link made on the Settings page works for a
browser without an account, reaches no other page or API, and stops when
revoked or expired; a note added on the Node page is drawn on its charts."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from web.conftest import SCREENSHOTS, screenshot

pytestmark = pytest.mark.browser
PageErrors = Any


def _login(page: Any, url: str, name: str, password: str, target: str) -> None:
    page.goto(url + "/login?next=" + target)
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', password)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(url + target)


def test_a_shared_link_works_signed_out_and_stops_when_revoked_or_expired(
    page: Any,
    page_errors: PageErrors,
    browser: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    with_users: Callable[[Path], dict[str, str]],
) -> None:
    from playwright.sync_api import expect

    password = with_users(demo_copy)["admin"]
    url = start_server(demo_copy)
    _login(page, url, "admin", password, "/settings")

    def make(label: str) -> str:
        page.goto(url + "/settings?lang=en")
        page.fill('[data-testid="share-label"]', label)
        page.select_option('[data-testid="share-view"]', "department")
        page.select_option('[data-testid="share-department"]', "inside_sales")
        page.click('[data-testid="add-share-submit"]')
        address: str = page.locator('[data-testid="new-share-url"]').input_value()
        assert address.startswith(url + "/s/")
        return address

    lobby, partner = make("Lobby"), make("Partner")

    # A browser without an account: the link's screen, live, and nothing else.
    outsider = browser.new_context(locale="ja-JP", viewport={"width": 1920, "height": 1080})
    try:
        screen = outsider.new_page()
        screen.on(
            "console",
            lambda m: page_errors.seen.append(f"outsider: {m.text}") if m.type == "error" else None,
        )
        assert screen.goto(lobby).status == 200
        expect(screen.locator('[data-testid="kiosk"][data-kind="department"]')).to_be_visible()
        assert screen.locator('[data-testid="kiosk-cards"] [data-node-id]').count() > 0
        assert screen.locator("a, form, input, select, button").count() == 0
        screenshot(screen, SCREENSHOTS / "shared-link-screen.png")
        reached = screen.evaluate(
            """async () => {
                const out = {};
                for (const path of ['/api/tree', '/api/events', '/api/shares',
                                    '/api/departments/inside_sales', '/?format=csv']) {
                    const answer = await fetch(path, {redirect: 'manual'});
                    out[path] = answer.status;
                }
                return out;
            }"""
        )
        assert all(status in (0, 401) for status in reached.values()), reached
        page_errors.allow("status of 401")
        for path in ("/", "/nodes/revenue", "/tv", "/settings"):
            screen.goto(url + path)
            assert "/login" in screen.url, path
        assert not any(c["name"] == "kpitree_session" for c in outsider.cookies())

        # Revoked on the Settings page: the screen's address stops working.
        page.goto(url + "/settings?lang=en")
        page.locator("tr[data-state=active]", has_text="Lobby").locator("button").click()
        expect(page.locator("tr", has_text="Lobby")).to_have_attribute("data-state", "revoked")
        page_errors.allow("status of 404")
        assert screen.goto(lobby).status == 404
        assert "KT685" in screen.content()

        # Expired: the same.
        assert screen.goto(partner).status == 200
        with closing(sqlite3.connect(demo_copy / ".kpitree" / "app.sqlite")) as con, con:
            con.execute(
                "UPDATE web_shares SET expires_at = ? WHERE label = 'Partner'", (time.time() - 1,)
            )
        assert screen.goto(partner).status == 404
    finally:
        outsider.close()


def test_a_note_added_on_the_node_page_is_drawn_on_its_charts(
    page: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    with_users: Callable[[Path], dict[str, str]],
) -> None:
    from playwright.sync_api import expect

    password = with_users(demo_copy)["editor"]
    url = start_server(demo_copy)
    _login(page, url, "editor", password, "/nodes/revenue")
    chart = page.locator('[data-chart="series"]')
    expect(chart.locator("svg")).to_be_visible()
    last = page.evaluate(
        "JSON.parse(document.getElementById('kt-series-data').textContent).series.at(-2).period"
    )
    day = dt.date.fromisoformat(last + "-10")
    page.fill('[data-testid="note-start"]', day.isoformat())
    # Braces are text, not a chart label template ({c} would show a value).
    text = "展示会 {b} {c}"
    page.fill('[data-testid="note-text"]', text)
    page.click('[data-testid="note-add"]')
    expect(page.locator('[data-testid="timeline-notes"] li', has_text=text)).to_be_visible()
    exactly = re.compile("^" + re.escape(text) + "$")
    expect(page.locator('[data-chart="series"] svg text', has_text=exactly)).to_have_count(1)
    expect(page.locator('[data-chart="burnup"] svg text', has_text=exactly)).to_have_count(1)
    screenshot(page, SCREENSHOTS / "timeline-note-on-charts.png")


def test_single_sign_on_against_a_local_provider_gives_the_role_of_the_group(
    page: Any,
    page_errors: PageErrors,
    demo_copy: Path,
    start_server: Callable[..., str],
    with_users: Callable[[Path], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import warnings

    import httpx
    from playwright.sync_api import expect

    with_users(demo_copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock

        provider = oidc_provider_mock.run_server_in_thread(require_nonce=True)
    with provider as server:
        issuer = f"http://localhost:{server.server_port}"
        claims = {"email": "sato@example.co.jp", "email_verified": True, "groups": ["revops"]}
        assert httpx.put(f"{issuer}/users/sato", json=claims).status_code == 204
        with (demo_copy / "kpitree.yaml").open("a", encoding="utf-8") as definition:
            definition.write(
                "web:\n  sso:\n"
                f"    issuer: {issuer}\n    client_id: kpitree-browser\n"
                "    client_secret_env: KPITREE_BROWSER_OIDC_SECRET\n    label: Example\n"
                "    roles:\n      editor: [revops]\n      viewer: [sales]\n"
            )
        monkeypatch.setenv("KPITREE_BROWSER_OIDC_SECRET", "browser-secret")
        url = start_server(demo_copy)
        # The provider's own page asks a CDN for its style sheet: nothing leaves the machine.
        page.route("https://**/*", lambda route: route.abort())
        page_errors.allow(f"localhost:{server.server_port}|pico")
        page.goto(url + "/login?next=/settings")
        page.click('[data-testid="login-sso"]')
        page.wait_for_url(issuer + "/**")
        page.fill('input[name="sub"]', "sato")
        page.click('button[type="submit"]:not([name])')
        page.wait_for_url(url + "/settings")
        expect(page.locator('[data-testid="user-name"]')).to_contain_text("sato@example.co.jp")
        session = page.evaluate("fetch('/api/session').then(r => r.json())")
        assert session["user"]["role"] == "editor"
        screenshot(page, SCREENSHOTS / "sso-signed-in.png")
