"""Single sign-on against a real OpenID Connect provider running in the test
(``oidc-provider-mock``, a Flask/Authlib provider on loopback): the code flow
with PKCE, state and nonce, the role from a group claim, and the refusals."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from kpitree.definition.spec_web import SsoSpec
from kpitree.web.app import create_app
from kpitree.web.settings import WebSettings
from kpitree.web.users import UserStore

from .conftest import PASSWORD, add_users

SECRET_ENV = "KPITREE_TEST_OIDC_SECRET"
ROLES = {"admin": ["kpi-admins"], "editor": ["revops"], "viewer": ["sales"]}


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The issuer URL of a local OpenID Connect provider."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock

        with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
            yield f"http://localhost:{server.server_port}"


def set_user(issuer: str, sub: str, **claims: Any) -> None:
    """What the provider will say about ``sub`` (its claims, groups included); an
    e-mail is a verified one unless ``email_verified`` says otherwise (``None``:
    the provider says nothing about it)."""
    if "email" in claims:
        claims.setdefault("email_verified", True)
    claims = {k: v for k, v in claims.items() if v is not None}
    answer = httpx.put(f"{issuer}/users/{sub}", json=claims, timeout=10)
    assert answer.status_code == 204, answer.text


@pytest.fixture
def project(demo_copy: Path) -> Path:
    add_users(demo_copy)
    return demo_copy


def _app(path: Path, issuer: str, **extra: Any) -> Any:
    spec = SsoSpec(
        issuer=issuer,
        client_id="kpitree-test",
        client_secret_env=SECRET_ENV,
        label="Example",
        roles=extra.pop("roles", ROLES),
        **extra,
    )
    return create_app(path, settings=WebSettings(sso=spec))


def sign_in(client: TestClient, sub: str, *, state: str | None = None) -> httpx.Response:
    """The browser's round trip: kpitree -> provider (the user picks ``sub``) -> kpitree."""
    start = client.get("/login/sso?next=/settings", follow_redirects=False)
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    asked = parse_qs(urlsplit(authorize).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["nonce"] and asked["state"]
    assert "client_secret" not in authorize
    back = httpx.post(authorize, data={"sub": sub}, follow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    target = urlsplit(back.headers["location"])
    query = target.query
    if state is not None:
        query = query.replace(asked["state"][0], state)
    return client.get(f"{target.path}?{query}", follow_redirects=False)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, "s3cret-value")
    return "s3cret-value"


def test_a_group_claim_gives_the_role_and_a_session(
    project: Path, provider: str, secret: str
) -> None:
    set_user(provider, "alice", email="alice@example.co.jp", groups=["kpi-admins", "sales"])
    set_user(provider, "bob", email="bob@example.co.jp", groups=["sales"])
    with closing(TestClient(_app(project, provider), base_url="http://localhost")) as client:
        assert "/login/sso" in client.get("/login").text
        done = sign_in(client, "alice")
        assert done.status_code == 303 and done.headers["location"] == "/settings"
        session = client.get("/api/session").json()["user"]
        assert session == {"name": "alice@example.co.jp", "role": "admin", "anonymous": False}
        assert client.get("/api/users").status_code == 200
    with closing(TestClient(_app(project, provider), base_url="http://localhost")) as client:
        assert sign_in(client, "bob").status_code == 303
        assert client.get("/api/session").json()["user"]["role"] == "viewer"
        assert client.get("/api/users").status_code == 403
    # Kept beside the local users, with no password that could ever match.
    store = UserStore(project)
    assert store.get("alice@example.co.jp") is not None
    assert store.verify("alice@example.co.jp", "!sso:" + provider) is None
    assert secret not in (project / ".kpitree" / "app.sqlite").read_bytes().decode("latin-1")


def test_a_changed_group_changes_the_role_at_the_next_login(
    project: Path, provider: str, secret: str
) -> None:
    set_user(provider, "carol", email="carol@example.co.jp", groups=["revops"])
    app = _app(project, provider)
    with closing(TestClient(app, base_url="http://localhost")) as first:
        sign_in(first, "carol")
        assert first.get("/api/session").json()["user"]["role"] == "editor"
        set_user(provider, "carol", email="carol@example.co.jp", groups=["sales"])
        with closing(TestClient(app, base_url="http://localhost")) as second:
            sign_in(second, "carol")
            assert second.get("/api/session").json()["user"]["role"] == "viewer"
        # The editor session of before has ended with the role change.
        assert first.get("/api/session").json()["user"] is None


@pytest.mark.parametrize(
    ("sub", "claims", "domains", "code"),
    [
        ("dave", {"email": "dave@example.co.jp", "groups": ["marketing"]}, [], "KT712"),
        (
            "erin",
            {"email": "erin@elsewhere.example", "groups": ["sales"]},
            ["example.co.jp"],
            "KT712",
        ),
        ("local", {"email": "editor", "groups": ["kpi-admins"]}, [], "KT713"),
        # An e-mail the provider does not say it verified names no one.
        (
            "mallory",
            {"email": "alice@example.co.jp", "groups": ["kpi-admins"], "email_verified": False},
            [],
            "KT712",
        ),
        (
            "trudy",
            {"email": "alice@example.co.jp", "groups": ["kpi-admins"], "email_verified": None},
            [],
            "KT712",
        ),
    ],
)
def test_users_the_mapping_does_not_allow_are_refused(
    project: Path,
    provider: str,
    secret: str,
    sub: str,
    claims: dict[str, Any],
    domains: list[str],
    code: str,
) -> None:
    set_user(provider, sub, **claims)
    app = _app(project, provider, allowed_domains=domains)
    with closing(TestClient(app, base_url="http://localhost")) as client:
        refused = sign_in(client, sub)
        assert refused.status_code == 403 and f'data-code="{code}"' in refused.text
        assert client.get("/api/session").json()["user"] is None
    names = [u.name for u in UserStore(project).list()]
    assert names == ["admin", "editor", "viewer"]
    assert UserStore(project).get("editor").role == "editor"  # type: ignore[union-attr]


def test_a_forged_state_is_refused(project: Path, provider: str, secret: str) -> None:
    set_user(provider, "alice", email="alice@example.co.jp", groups=["kpi-admins"])
    with closing(TestClient(_app(project, provider), base_url="http://localhost")) as client:
        refused = sign_in(client, "alice", state="forged-state-value")
        assert refused.status_code == 401 and 'data-code="KT711"' in refused.text
        assert client.get("/api/session").json()["user"] is None


def test_the_secret_comes_from_the_environment_only(
    project: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    set_user(provider, "alice", email="alice@example.co.jp", groups=["kpi-admins"])
    with closing(TestClient(_app(project, provider), base_url="http://localhost")) as client:
        refused = sign_in(client, "alice")
        assert refused.status_code == 503 and 'data-code="KT714"' in refused.text
        assert SECRET_ENV in refused.text


def test_without_sso_configured_the_routes_say_so(project: Path) -> None:
    with closing(TestClient(create_app(project), base_url="http://localhost")) as client:
        assert "/login/sso" not in client.get("/login").text
        answer = client.get("/login/sso", headers={"accept": "application/json"})
        assert answer.status_code == 404 and "KT710" in answer.text


def test_local_logins_still_work_beside_sso(project: Path, provider: str, secret: str) -> None:
    with closing(TestClient(_app(project, provider), base_url="http://localhost")) as client:
        csrf = client.get("/api/session").json()["csrf_token"]
        answer = client.post(
            "/api/login",
            json={"name": "viewer", "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        assert answer.status_code == 200
