"""DNS rebinding and session revocation in a real Chromium against a real
``kpitree serve``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from web.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
PageErrors = Any  # tests/web/conftest.py's PageErrors (seen, allow)


@pytest.fixture
def rebinding_browser(playwright_driver: Any) -> Iterator[Any]:
    """A Chromium whose DNS answers 127.0.0.1 for rebind.example, as a page's
    domain would after rebinding (launched from the session's Playwright: a
    second Playwright cannot start while the other browser tests' one runs)."""
    rules = "--host-resolver-rules=MAP rebind.example 127.0.0.1"
    args = [*CHROMIUM_ARGS, rules]
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=args)
    yield chromium
    chromium.close()


def test_a_rebound_domain_cannot_read_or_create_an_admin(
    rebinding_browser: Any, demo_copy: Path, start_server: Callable[..., str]
) -> None:
    from kpitree.web.users import UserStore

    url = start_server(demo_copy)  # no users: every visitor of 127.0.0.1 is an admin
    port = urlsplit(url).port
    context = rebinding_browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        response = page.goto(f"http://rebind.example:{port}/")
        assert response is not None and response.status == 421
        assert "KT631" in page.content()
        result = page.evaluate(
            """async () => {
                const read = await fetch('/api/tree');
                const made = await fetch('/api/users', {method: 'POST',
                    headers: {'content-type': 'application/json'},
                    body: JSON.stringify({name: 'mallory', role: 'admin',
                                          password: 'mallory-password'})});
                return {read: read.status, made: made.status, code: (await made.json()).error.code};
            }"""
        )
        assert result == {"read": 421, "made": 421, "code": "KT631"}
        assert UserStore(demo_copy).count() == 0
        # The same server under its own name answers.
        assert page.goto(url + "/api/session").status == 200
    finally:
        context.close()


def test_a_copied_session_cookie_dies_with_the_logout(
    page: Any,
    browser: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    with_users: Callable[[Path], dict[str, str]],
) -> None:
    password = with_users(demo_copy)["editor"]
    url = start_server(demo_copy)
    page.set_default_timeout(30_000)
    page.goto(url + "/login?next=/settings")
    page.fill('input[name="name"]', "editor")
    page.fill('input[name="password"]', password)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(url + "/settings")
    session = [c for c in page.context.cookies() if c["name"] == "kpitree_session"]
    assert session

    copy = browser.new_context(locale="en-US")
    try:
        copy.add_cookies(session)
        other = copy.new_page()
        other.set_default_timeout(30_000)
        other.goto(url + "/settings")
        assert "editor" in other.locator('[data-testid="user-name"]').inner_text()

        page.click('[data-testid="logout"]')
        page.wait_for_url(url + "/login")
        other.goto(url + "/settings")
        other.wait_for_url(re.compile(r"/login\?next=/settings$"))
    finally:
        copy.close()


def test_the_csrf_token_is_not_sent_to_another_origin(browser: Any, live_server: str) -> None:
    """The content security policy already blocks such requests; without it
    (bypassed here) kpitree.js still adds the token only to the dashboard's own."""
    seen: dict[str, dict[str, str]] = {}

    def record(route: Any) -> None:
        request = route.request
        seen[request.method] = request.headers
        route.fulfill(
            status=200,
            body="{}",
            headers={
                "access-control-allow-origin": "*",
                "access-control-allow-headers": "*",
                "access-control-allow-methods": "POST",
            },
        )

    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.route("http://elsewhere.example/**", record)
        page.goto(live_server + "/settings")
        for target in ("'http://elsewhere.example/a'", "new URL('http://elsewhere.example/b')"):
            script = f"() => fetch({target}, {{method: 'POST'}}).then(r => r.status)"
            assert page.evaluate(script) == 200
            assert "x-csrf-token" not in seen.pop("POST")
        own = page.evaluate(
            "() => fetch(new URL('/api/logout', location.href), {method: 'POST'})"
            ".then(r => r.status)"
        )
        assert own == 200  # the token still goes to the dashboard itself
    finally:
        context.close()
