"""Fixtures of the web tests.

Projects
    ``demo_project`` (session): the tiny demo company, built once per session by a
    real ``kpitree demo --size tiny --no-serve``; treat it as read-only.
    ``demo_copy``: a private copy of it for a test that writes (imports, users).
    ``add_users(path)`` (also the fixture ``with_users``): adds ``admin``,
    ``editor`` and ``viewer`` (password ``PASSWORD``) to a project.

Servers
    ``client``: an in-process ``TestClient`` over ``create_app(demo_project)``
    (lifespan running, without the page warm-up: :func:`without_warm_up`), for
    API tests; ``warming_client``: the same with the warm-up.
    ``live_server`` (session): base URL (``http://127.0.0.1:PORT``, no trailing
    slash) of a real ``kpitree serve`` process on ``demo_project``.
    ``start_server(path)``: starts another real server on ``path``; stopped after
    the test.

Browser (mark tests ``browser``)
    ``browser`` (session): Debian's Chromium driven by Playwright;
    ``playwright_driver`` (session): that Playwright, to launch another browser.
    ``page``: a fresh page (Japanese browser locale unless the test's
    ``browser_locale`` fixture says otherwise). The test fails on any console
    error or page error; ``page_errors.allow(regex)`` accepts an expected one. A
    screenshot of the page is saved into ``test-artifacts/screenshots/<test>.png``
    at the end; with ``KPITREE_TEST_SCREENSHOTS=every-load`` also one after
    every page load before that (``<test>-<n>.png``; a full-page screenshot
    costs Chromium about half a second of CPU, as much as half a page load).
    Waits are for conditions (a locator, a URL, a function), never for a fixed
    time, with generous limits (:data:`WAIT_MS`) so a busy two-core machine
    passes; ``screenshot(page, path)`` takes one with animations stopped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-42"
# Limits of the browser tests' waits: what a condition may take on a busy
# two-core machine (a passing test never waits this long: it waits for the
# condition). A click that navigates waits for the next page within WAIT_MS.
WAIT_MS = 60_000
NAVIGATION_MS = 60_000
SCREENSHOT_MS = 60_000
RECORD_MS = 10_000  # the last screenshot of a test, kept as a record only
ROLES = ("admin", "editor", "viewer")


def kpitree_env(**extra: str) -> dict[str, str]:
    """Environment of a ``kpitree`` subprocess: English messages, unbuffered."""
    env = {**os.environ, "KPITREE_LANG": "en", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def run_kpitree(
    *args: str | Path, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``python -m kpitree ARGS`` in a real process (text output captured)."""
    result = subprocess.run(
        [sys.executable, "-m", "kpitree", *map(str, args)],
        capture_output=True,
        text=True,
        env=kpitree_env(),
        timeout=300,
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kpitree {args} failed ({result.returncode}):\n{result.stderr}")
    return result


# -- projects ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web") / "demo"
    run_kpitree("demo", folder, "--size", "tiny", "--no-serve")
    return folder


@pytest.fixture
def demo_copy(demo_project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    # Without the app state (users, sessions) that a server on the shared
    # project may have written: a copy starts as a fresh project does.
    shutil.copytree(demo_project, target, ignore=shutil.ignore_patterns("app.sqlite*"))
    return target


def add_users(path: Path) -> dict[str, str]:
    """Users ``admin``, ``editor`` and ``viewer`` (password :data:`PASSWORD`)."""
    from kpitree.web.users import UserStore

    store = UserStore(path)
    for role in ROLES:
        store.add(role, role, PASSWORD)
    return dict.fromkeys(ROLES, PASSWORD)


@pytest.fixture
def with_users() -> Callable[[Path], dict[str, str]]:
    """``with_users(path)``: :func:`add_users` as a fixture (name -> password),
    for test folders that cannot import this module."""
    return add_users


@contextlib.contextmanager
def without_warm_up() -> Iterator[None]:
    """An app started meanwhile runs its lifespan without the background
    warm-up (:mod:`kpitree.web.warmer`): a round computes every common page of
    the demo in both languages (about 10 s of CPU), under the GIL of the test's
    own process, for a test that asks for a page or two. The warm-up is tested
    where it is the subject (``warming_client``, tests/web/test_views.py)."""
    from kpitree.web.warmer import Warmer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Warmer, "start", lambda self: None)
        yield


@pytest.fixture
def client(demo_project: Path) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    with (
        without_warm_up(),
        TestClient(create_app(demo_project), base_url="http://localhost") as test_client,
    ):
        yield test_client


@pytest.fixture
def warming_client(demo_project: Path) -> Iterator[TestClient]:
    """``client`` with the page warm-up running, as a server runs it."""
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    with TestClient(create_app(demo_project), base_url="http://localhost") as test_client:
        yield test_client


# -- real servers -----------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _start(path: Path, *extra: str) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "kpitree", "serve", str(path), "--port", "0", "--no-open", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=kpitree_env(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match and not url:
                url.append(match.group(0))
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(60) or not url:
        process.kill()
        raise AssertionError("kpitree serve did not start:\n" + "".join(lines))
    server = Server(process, url[0], lines)
    _wait_ready(server)
    return server


def _wait_ready(server: Server) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError("kpitree serve exited:\n" + "".join(server.output))
        try:
            httpx.get(server.url + "/api/session", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("kpitree serve never answered:\n" + "".join(server.output))


@pytest.fixture(scope="session")
def live_server(demo_project: Path) -> Iterator[str]:
    server = _start(demo_project)
    yield server.url
    server.stop()


@pytest.fixture
def start_server() -> Iterator[Callable[..., str]]:
    started: list[Server] = []

    def start(path: Path, *extra: str) -> str:
        server = _start(path, *extra)
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


# -- browser ----------------------------------------------------------------------------


def screenshot(page: Any, path: Path | str, timeout: int = SCREENSHOT_MS) -> Path:
    """A full-page screenshot with animations stopped and the caret hidden (so
    Chromium need not wait for a still frame), under a generous limit."""
    target = Path(path)
    page.screenshot(
        path=str(target),
        full_page=True,
        animations="disabled",
        caret="hide",
        timeout=timeout,
    )
    return target


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """The one Playwright of the session (a second one cannot start beside it):
    a test that needs a browser of its own launches it from this."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver: Any) -> Iterator[Any]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass
class PageErrors:
    """Console and page errors seen by one page; ``allow`` accepts expected ones."""

    seen: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.seen if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def browser_locale() -> str:
    return "ja-JP"


def _artifact_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")[:150]


@pytest.fixture
def page(
    browser: Any,
    request: pytest.FixtureRequest,
    page_errors: PageErrors,
    browser_locale: str,
    start_server: Callable[..., str],
) -> Iterator[Any]:
    # Depending on start_server makes the servers a test starts stop after its
    # page has closed (an open event stream would otherwise log a lost connection).
    context = browser.new_context(locale=browser_locale, viewport={"width": 1280, "height": 900})
    # On the context, so a second page a test opens in it has the same limits.
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(NAVIGATION_MS)
    new_page = context.new_page()
    name = _artifact_name(request)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    loads: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error":
            page_errors.seen.append(f"console: {message.text} ({message.location.get('url')})")

    def on_load(loaded: Any) -> None:
        loads.append(loaded.url)
        # The page may already be navigating on; the final screenshot remains.
        with contextlib.suppress(Exception):
            screenshot(loaded, SCREENSHOTS / f"{name}-{len(loads)}.png")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: page_errors.seen.append(f"pageerror: {exc}"))
    if os.environ.get("KPITREE_TEST_SCREENSHOTS") == "every-load":
        new_page.on("load", on_load)
    yield new_page
    try:
        # The last screenshot is a record of how the test ended, not a check: a
        # machine too busy to paint it in time must not fail a test that passed.
        from playwright.sync_api import Error as PlaywrightError

        # Seen on a busy machine: Chromium waited the whole generous limit for a
        # frame after a test had passed; a record is not worth a minute.
        with contextlib.suppress(PlaywrightError):
            screenshot(new_page, SCREENSHOTS / f"{name}.png", timeout=RECORD_MS)
    finally:
        context.close()
    problems = page_errors.unexpected()
    assert not problems, "browser errors:\n" + "\n".join(problems)
