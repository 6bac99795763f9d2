"""A real ``kpitree serve``: forwarded headers count only from a configured
trusted proxy, and the host-name options of the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from .conftest import PASSWORD, add_users


def fail_logins(url: str, count: int, forwarded: Callable[[int], dict[str, str]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        csrf = client.get("/api/session").json()["csrf_token"]
        for n in range(count):
            refused = client.post(
                "/api/login",
                json={"name": f"nobody{n}", "password": "wrong-password"},
                headers={"X-CSRF-Token": csrf, **forwarded(n)},
            )
            assert refused.status_code == 401, refused.text


def admin_login(url: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as client:
        csrf = client.get("/api/session").json()["csrf_token"]
        return client.post(
            "/api/login",
            json={"name": "admin", "password": PASSWORD},
            headers={"X-CSRF-Token": csrf, **headers},
        )


def test_a_local_process_cannot_spread_failures_over_fake_addresses(
    demo_copy: Path, start_server: Callable[..., str]
) -> None:
    add_users(demo_copy)
    url = start_server(demo_copy)
    # 20 failures (the per-address limit), each claiming another client address.
    fail_logins(url, 20, lambda n: {"x-forwarded-for": f"198.51.100.{n}"})
    blocked = admin_login(url, {"x-forwarded-for": "203.0.113.1"})
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "KT607"


def test_a_trusted_proxy_names_the_client_and_the_scheme(
    demo_copy: Path, start_server: Callable[..., str]
) -> None:
    add_users(demo_copy)
    url = start_server(demo_copy, "--trusted-proxy", "127.0.0.1", "--allowed-host", "kpi.example")
    fail_logins(url, 20, lambda n: {"x-forwarded-for": "198.51.100.1"})
    # Another client behind the same proxy is not held back by those failures.
    proxied = {"x-forwarded-for": "203.0.113.1", "x-forwarded-proto": "https"}
    allowed = admin_login(url, proxied)
    assert allowed.status_code == 200
    cookie = next(c for c in allowed.headers.get_list("set-cookie") if "kpitree_session=" in c)
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert admin_login(url, {"x-forwarded-for": "198.51.100.1"}).status_code == 429
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/api/session", headers={"host": "kpi.example"}).status_code == 200
        assert client.get("/api/session", headers={"host": "evil.example"}).status_code == 421
        assert client.get("/static/kpitree.js", headers={"host": "evil.example"}).status_code == 421


def test_an_open_event_stream_ends_with_its_session(
    demo_copy: Path, start_server: Callable[..., str]
) -> None:
    import time

    add_users(demo_copy)
    url = start_server(demo_copy)
    with httpx.Client(base_url=url, timeout=30) as viewer:
        csrf = viewer.get("/api/session").json()["csrf_token"]
        signed = viewer.post(
            "/api/login",
            json={"name": "viewer", "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        assert signed.status_code == 200, signed.text
        csrf = viewer.get("/api/session").json()["csrf_token"]
        with viewer.stream("GET", "/api/events") as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: hello"
            # The same session logs out (another tab, or a copied cookie's owner).
            assert viewer.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
            started = time.monotonic()
            for _ in lines:  # the stream ends by itself after the logout
                assert time.monotonic() - started < 30
        assert viewer.get("/api/events").status_code == 401
