"""The platform in a real Chromium against a real ``kpitree serve``: login and
logout, a CSRF-less request refused, a viewer denied an edit, an upload on the
Data page (preview, per-row errors, import, undo) that an open Tree page shows
without a reload, and the Settings page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from web.conftest import NAVIGATION_MS, SCREENSHOTS, WAIT_MS, screenshot

PageErrors = Any  # tests/web/conftest.py's PageErrors (seen, allow)

pytestmark = pytest.mark.browser
IMPORT_MS = NAVIGATION_MS  # an import or undo runs kpitree in a child process


def won_today_csv(path: Path, deals: list[tuple[str, str]]) -> Path:
    """Opportunity export: (id, amount) per deal, won today (Asia/Tokyo)."""
    from zoneinfo import ZoneInfo

    day = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")
    head = "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    body = "".join(f"{i},商談 {i},{day},{day},{a},Closed Won,rep-web\n" for i, a in deals)
    path.write_text(head + "\n" + body, encoding="utf-8")
    return path


def watch(extra: Any, errors: PageErrors) -> Any:
    """Report a second page's console errors into the test's errors."""
    extra.on(
        "console",
        lambda m: errors.seen.append(f"console: {m.text}") if m.type == "error" else None,
    )
    extra.on("pageerror", lambda exc: errors.seen.append(f"pageerror: {exc}"))
    return extra


def log_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(url + "/login?next=/settings")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', password)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(url + "/settings")


def number(text: str) -> float:
    digits = re.sub(r"[^\d.\-]", "", text)
    return float(digits)


def test_login_and_logout(
    page: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    page_errors: PageErrors,
    with_users: Callable[[Path], dict[str, str]],
) -> None:
    password = with_users(demo_copy)["editor"]
    url = start_server(demo_copy)
    page.goto(url + "/data")
    page.wait_for_url(re.compile(r"/login\?next=/data$"))
    page.fill('input[name="name"]', "editor")
    page.fill('input[name="password"]', "wrong-password")
    page.click('[data-testid="login-submit"]')
    assert (
        "ユーザー名またはパスワードが違います"
        in page.locator('[data-testid="login-error"]').inner_text()
    )
    page_errors.allow(r"status of 401")  # the refused login answers 401
    page.fill('input[name="password"]', password)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(url + "/data")
    assert "editor" in page.locator('[data-testid="user-name"]').inner_text()
    page.locator('[data-testid="upload-file"]').wait_for()
    page.click('[data-testid="logout"]')
    page.wait_for_url(url + "/login")
    page.goto(url + "/settings")
    page.wait_for_url(re.compile(r"/login\?next=/settings$"))


def test_a_csrf_less_request_is_refused(
    page: Any, live_server: str, page_errors: PageErrors
) -> None:
    page.goto(live_server + "/settings")
    page_errors.allow(r"status of 403")
    # XMLHttpRequest bypasses kpitree.js (which adds the token to fetch and htmx).
    refused = page.evaluate(
        """() => new Promise(resolve => {
            const xhr = new XMLHttpRequest();
            xhr.open("POST", "/api/logout");
            xhr.onload = () => resolve({status: xhr.status, body: JSON.parse(xhr.responseText)});
            xhr.send();
        })"""
    )
    assert refused["status"] == 403 and refused["body"]["error"]["code"] == "KT606"
    allowed = page.evaluate("() => fetch('/api/logout', {method: 'POST'}).then(r => r.status)")
    assert allowed == 200


def test_a_viewer_is_denied_an_edit(
    page: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    page_errors: PageErrors,
    with_users: Callable[[Path], dict[str, str]],
) -> None:
    password = with_users(demo_copy)["viewer"]
    url = start_server(demo_copy)
    log_in(page, url, "viewer", password)
    page.goto(url + "/data")
    page.locator('[data-testid="history"]').wait_for()
    assert page.locator('[data-testid="upload-file"]').count() == 0
    assert page.locator('[data-testid^="undo-"]').count() == 0
    page_errors.allow(r"status of 403")
    denied = page.evaluate(
        "() => fetch('/api/imports/1/undo', {method: 'POST'})"
        ".then(async r => ({status: r.status, body: await r.json()}))"
    )
    assert denied["status"] == 403 and denied["body"]["error"]["code"] == "KT605"
    assert "編集者" in denied["body"]["error"]["message"]
    page.goto(url + "/settings")
    assert page.locator('[data-testid="add-user"]').count() == 0


def test_upload_on_data_page_updates_an_open_tree_without_reload(
    page: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    tmp_path: Path,
    page_errors: PageErrors,
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/")
    actual = page.locator('[data-node-id="won_deals"] [data-field="actual"]').first
    actual.wait_for()
    before = number(actual.inner_text())
    page.evaluate("() => { window.__notReloaded = true; }")

    data = watch(page.context.new_page(), page_errors)
    data.goto(url + "/data")
    csv = won_today_csv(
        tmp_path / "won.csv", [("LIVE-1", "1000000"), ("LIVE-2", "2000000"), ("LIVE-3", "3000000")]
    )
    data.set_input_files('[data-testid="upload-file"]', str(csv))
    data.select_option('[data-testid="upload-mapping"]', "salesforce-opportunities")
    data.click('[data-testid="upload-preview"]')
    assert "3" in data.locator('[data-testid="preview-summary"]').inner_text()
    data.click('[data-testid="import"]')
    data.locator('[data-testid="imported"]').wait_for(timeout=IMPORT_MS)

    # The tree page hears data-changed and re-renders in place.
    page.wait_for_function(
        """([before]) => {
            const el = document.querySelector('[data-node-id="won_deals"] [data-field="actual"]');
            return el && parseFloat(el.innerText.replace(/[^\\d.-]/g, '')) !== before;
        }""",
        arg=[before],
        timeout=WAIT_MS,  # how fast is measured by bench/bench_web.py, not here
    )
    assert number(actual.inner_text()) == before + 3
    assert page.evaluate("() => window.__notReloaded") is True
    screenshot(data, SCREENSHOTS / "data_after_upload.png")
    data.close()


def test_data_page_preview_errors_import_and_undo(
    page: Any, demo_copy: Path, start_server: Callable[..., str], tmp_path: Path
) -> None:
    url = start_server(demo_copy)
    page.on("dialog", lambda dialog: dialog.accept())  # the undo confirmation
    page.goto(url + "/data?lang=en")
    csv = won_today_csv(
        tmp_path / "mixed.csv", [("M-1", "1000"), ("M-2", "not-a-number"), ("M-3", "3000")]
    )
    page.set_input_files('[data-testid="upload-file"]', str(csv))
    page.select_option('[data-testid="upload-mapping"]', "salesforce-opportunities")
    page.click('[data-testid="upload-preview"]')
    errors = page.locator('[data-testid="preview-errors"] tbody tr')
    errors.first.wait_for()
    assert errors.count() == 1
    cells = [c.strip() for c in errors.first.locator("td").all_inner_texts()]
    assert cells[0] == "3" and cells[1] == "Amount" and cells[2] == "not-a-number" and cells[3]
    assert (
        "3 rows read, 2 valid, 1 with errors"
        in page.locator('[data-testid="preview-summary"]').inner_text()
    )
    page.check('[data-testid="skip-invalid"]')
    page.click('[data-testid="import"]')
    page.locator('[data-testid="imported"]').wait_for(timeout=IMPORT_MS)
    first = page.locator('[data-testid="history"] tbody tr').first
    assert first.get_attribute("data-status") == "applied"
    import_id = first.get_attribute("data-import-id")
    assert import_id == "2"
    page.click(f'[data-testid="undo-{import_id}"]')
    page.locator('[data-testid="undone"]').wait_for(timeout=IMPORT_MS)
    assert page.locator(f'[data-import-id="{import_id}"]').get_attribute("data-status") == "undone"


def test_settings_first_admin_language_and_users(
    page: Any, demo_copy: Path, start_server: Callable[..., str]
) -> None:
    url = start_server(demo_copy)
    page.goto(url + "/settings")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.locator('[data-testid="no-users"]').wait_for()
    assert "FY" in page.locator('[data-testid="project-info"]').inner_text()
    page.select_option('[data-testid="language-select"]', "en")
    page.click('[data-testid="language-save"]')
    page.wait_for_url(re.compile(r"/settings\?lang=en$"))
    assert page.locator("html").get_attribute("lang") == "en"
    add = page.locator('[data-testid="add-user"]')
    add.locator('input[name="name"]').fill("管理者")
    add.locator('input[name="password"]').fill("correct-horse-42")
    add.locator('select[name="role"]').select_option("admin")
    page.click('[data-testid="add-user-submit"]')
    assert "Added user 管理者." in page.locator('[data-testid="settings-done"]').inner_text()
    assert "管理者" in page.locator('[data-testid="user-name"]').inner_text()  # logged in now
    add.locator('input[name="name"]').fill("<b>viewer</b>")
    add.locator('input[name="password"]').fill("correct-horse-42")
    add.locator('select[name="role"]').select_option("viewer")
    page.click('[data-testid="add-user-submit"]')
    assert page.locator('tr[data-user="<b>viewer</b>"] td').first.inner_text() == "<b>viewer</b>"
    page.click('[data-testid="remove-<b>viewer</b>"]')
    assert (
        "Removed user <b>viewer</b>." in page.locator('[data-testid="settings-done"]').inner_text()
    )
    assert page.locator('tr[data-user="<b>viewer</b>"]').count() == 0


def test_an_ended_session_sends_an_htmx_action_to_the_login(
    page: Any,
    demo_copy: Path,
    start_server: Callable[..., str],
    page_errors: PageErrors,
    with_users: Callable[[Path], dict[str, str]],
    tmp_path: Path,
) -> None:
    from kpitree.web.users import UserStore

    password = with_users(demo_copy)["editor"]
    url = start_server(demo_copy)
    log_in(page, url, "editor", password)
    page.goto(url + "/data")
    UserStore(demo_copy).set_password("editor", "a-new-password")  # ends the session
    page_errors.allow(r"status of 401")
    csv = won_today_csv(tmp_path / "late.csv", [("LATE-1", "1000")])
    page.set_input_files('[data-testid="upload-file"]', str(csv))
    page.click('[data-testid="upload-preview"]')
    page.wait_for_url(re.compile(r"/login\?next=/data$"))


def test_a_refused_htmx_action_shows_the_message(
    page: Any, live_server: str, page_errors: PageErrors
) -> None:
    page.goto(live_server + "/data?lang=en")
    page.locator('[data-testid="upload-file"]').wait_for()
    page_errors.allow(r"status of 403")
    page_errors.allow(r"Response Status Error Code 403")  # htmx logs refused requests
    # A stale token (e.g. the page was open across a login elsewhere) is refused.
    page.evaluate(
        "() => document.querySelector('meta[name=csrf-token]').setAttribute('content', 'stale')"
    )
    page.evaluate(
        "() => htmx.ajax('POST', '/data/undo/1', {target: '#kt-preview', swap: 'innerHTML'})"
    )
    toast = page.locator("#kt-toast")
    toast.wait_for(state="visible")
    assert "CSRF" in toast.inner_text()
    assert toast.locator("[data-code=KT606]").count() == 1


def test_swagger_ui_runs_from_local_files(page: Any, live_server: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server + "/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "kpitree" in page.locator(".swagger-ui .info .title").inner_text()
    page.get_by_text("/api/imports", exact=True).first.wait_for()
    assert all(url.startswith(live_server) for url in requested), requested
