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
