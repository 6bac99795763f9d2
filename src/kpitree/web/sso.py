"""Single sign-on with OpenID Connect (authorization code flow with PKCE, a
``state`` and a ``nonce``), configured by ``web.sso`` in ``kpitree.yaml``.

The provider is found through its discovery document; the ID token is checked
with ``joserfc`` (Authlib's JOSE library): signature against the provider's
keys, issuer, audience, expiry and nonce. The user's role comes from a claim
listing their groups (``web.sso.roles``: role -> groups, ``*`` for anyone);
nobody matching no role gets in. A signed-in user is kept in ``web_users``
like a local one, with no usable password (it cannot log in with one), so
sessions, roles and revocation work the same; a local user of the same name is
never taken over (KT713).

The client secret is read from the environment (``web.sso.client_secret_env``)
when a login needs it; it is never stored, logged or shown.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from kpitree.web.errors import WebError

if TYPE_CHECKING:
    from kpitree.definition.spec_web import SsoSpec
    from kpitree.web.users import User, UserStore

__all__ = ["SSO_HASH_PREFIX", "Provider", "Started", "role_for", "sign_in"]

SSO_HASH_PREFIX = "!sso:"
"""Marks a user made by single sign-on in ``web_users.password_hash`` (no
password hash starts with ``!``, so none can match)."""
_TIMEOUT = 10.0
_METADATA_TTL = 3600.0
_RANK = ("viewer", "editor", "admin")


@dataclass(frozen=True)
class Started:
    """A login under way: the provider's address to send the browser to, and
    what the callback must find again (kept in a signed cookie)."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass
class Provider:
    """One OpenID Connect provider (its discovery document and keys cached)."""

    spec: SsoSpec
    _metadata: dict[str, Any] | None = None
    _fetched: float = 0.0
    _keys: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            answer = httpx.get(url, timeout=_TIMEOUT, follow_redirects=False)
            answer.raise_for_status()
            found = answer.json()
        except (httpx.HTTPError, ValueError):
            raise WebError(502, "KT715", "sso.error.provider", issuer=self.spec.issuer) from None
        if not isinstance(found, dict):
            raise WebError(502, "KT715", "sso.error.provider", issuer=self.spec.issuer)
        return found

    def metadata(self) -> dict[str, Any]:
        """The discovery document (its ``issuer`` must be the configured one)."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched > _METADATA_TTL:
                issuer = self.spec.issuer.rstrip("/")
                found = self._get(issuer + "/.well-known/openid-configuration")
                if str(found.get("issuer", "")).rstrip("/") != issuer:
                    raise WebError(502, "KT715", "sso.error.provider", issuer=self.spec.issuer)
                self._metadata, self._fetched, self._keys = found, time.monotonic(), None
            return self._metadata

    def keys(self, refresh: bool = False) -> Any:
        from joserfc.jwk import KeySet

        metadata = self.metadata()
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(self._get(str(metadata["jwks_uri"])))  # type: ignore[arg-type]
            return self._keys

    def start(self, redirect_uri: str) -> Started:
        """Where to send the browser: the authorization endpoint with a fresh
        state, nonce and PKCE challenge (S256)."""
        from authlib.common.security import generate_token
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        metadata = self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        scopes = list(dict.fromkeys(["openid", *self.spec.scopes]))
        query = {
            "response_type": "code",
            "client_id": self.spec.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        endpoint = str(metadata["authorization_endpoint"])
        joiner = "&" if "?" in endpoint else "?"
        return Started(endpoint + joiner + urlencode(query), state, nonce, verifier)

    def finish(self, code: str, redirect_uri: str, nonce: str, verifier: str) -> dict[str, Any]:
        """Exchange the code for tokens and return the ID token's checked claims."""
        import httpx

        secret = os.environ.get(self.spec.client_secret_env, "")
        if not secret:
            raise WebError(
                503, "KT714", "sso.error.no_secret", variable=self.spec.client_secret_env
            )
        metadata = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        auth = None
        if "client_secret_basic" in methods:
            auth = httpx.BasicAuth(self.spec.client_id, secret)
        else:
            form |= {"client_id": self.spec.client_id, "client_secret": secret}
        try:
            answer = httpx.post(
                str(metadata["token_endpoint"]), data=form, auth=auth, timeout=_TIMEOUT
            )
            tokens = answer.json()
        except (httpx.HTTPError, ValueError):
            raise WebError(502, "KT715", "sso.error.provider", issuer=self.spec.issuer) from None
        if answer.status_code != 200 or not isinstance(tokens, dict) or "id_token" not in tokens:
            raise WebError(401, "KT711", "sso.error.failed")
        return self._verify(str(tokens["id_token"]), nonce)

    def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError

        algorithms = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if a != "none" and not a.startswith("HS")]
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=algorithms)
            except JoseError:
                token = jwt.decode(id_token, self.keys(refresh=True), algorithms=algorithms)
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.metadata()["issuer"]},
                aud={"essential": True, "value": self.spec.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
        except (JoseError, ValueError, KeyError):
            raise WebError(401, "KT711", "sso.error.failed") from None
        return dict(token.claims)


def role_for(spec: SsoSpec, claims: dict[str, Any]) -> str | None:
    """The highest role whose groups meet the user's (``*``: anyone), or ``None``."""
    raw = claims.get(spec.groups_claim, [])
    groups = {raw} if isinstance(raw, str) else {str(g) for g in raw or [] if g is not None}
    best: str | None = None
    for role, wanted in spec.roles.items():
        met = "*" in wanted or bool(groups & set(wanted))
        if met and (best is None or _RANK.index(role) > _RANK.index(best)):
            best = role
    return best


def sign_in(store: UserStore, spec: SsoSpec, claims: dict[str, Any]) -> User:
    """The user these claims name, made or updated with the role their groups
    give. Refused: no name (KT711), a domain not allowed or no role (KT712), a
    local user of the same name (KT713)."""
    from kpitree.errors import UserError
    from kpitree.web.users import User, check_name

    raw = claims.get(spec.name_claim)
    if not isinstance(raw, str) or not raw.strip():
        raise WebError(401, "KT711", "sso.error.failed")
    try:
        name = check_name(raw)
    except UserError:
        raise WebError(401, "KT711", "sso.error.failed") from None
    domains = {d.lower().lstrip("@") for d in spec.allowed_domains}
    if domains and name.rpartition("@")[2].lower() not in domains:
        raise WebError(403, "KT712", "sso.error.no_role", name=name)
    # An e-mail names someone only when the provider says it verified it: an
    # address a user could type into their own profile names anyone.
    if spec.name_claim == "email" and claims.get("email_verified") is not True:
        raise WebError(403, "KT712", "sso.error.no_role", name=name)
    role = role_for(spec, claims)
    if role is None:
        raise WebError(403, "KT712", "sso.error.no_role", name=name)
    marker = SSO_HASH_PREFIX + spec.issuer
    import datetime as dt

    with store._connect() as con:
        row = con.execute(
            "SELECT role, password_hash, session_epoch FROM web_users WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            con.execute(
                "INSERT INTO web_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, marker, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
            )
            return User(name, role)
        if row[1] != marker:
            raise WebError(403, "KT713", "sso.error.local_user", name=name)
        epoch = int(row[2])
        if row[0] != role:
            # The provider's groups changed: the new role applies, older sessions end.
            epoch += 1
            con.execute(
                "UPDATE web_users SET role = ?, session_epoch = ? WHERE name = ?",
                (role, epoch, name),
            )
            con.execute("DELETE FROM web_sessions WHERE name = ?", (name,))
    return User(name, role, epoch=epoch)
