"""Getting an access token from Salesforce: client credentials or the JWT bearer flow.

Both are server-to-server OAuth 2.0 flows of an External Client App (or a connected
app) and need no person to log in:

- **client credentials**: ``POST {instance_url}/services/oauth2/token`` with
  ``grant_type=client_credentials``, ``client_id`` and ``client_secret``; the app has
  "Enable Client Credentials Flow" on and a run-as user.
- **JWT bearer**: the same endpoint with
  ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an ``assertion``: a
  JWT signed RS256 with the private key whose certificate is uploaded to the app,
  with ``iss`` = the consumer key, ``sub`` = the Salesforce username, ``aud`` =
  ``https://login.salesforce.com`` (``https://test.salesforce.com`` for a sandbox)
  and ``exp`` at most three minutes ahead.

The answer is ``{"access_token", "instance_url", "token_type": "Bearer", ...}`` or
``{"error", "error_description"}``. Secrets live only in :class:`Credentials`, whose
``repr`` hides them, and never enter a message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from kpitree.connectors.salesforce.errors import salesforce_error

if TYPE_CHECKING:
    import httpx

__all__ = ["JWT_GRANT", "Credentials", "Token", "fetch_token"]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCE = "https://login.salesforce.com"


@dataclass(frozen=True)
class Credentials:
    """What authenticates kpitree to one org. Built from environment variables by the
    source configuration; never written anywhere."""

    flow: Literal["client_credentials", "jwt"]
    client_id: str = field(repr=False)
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    private_key: str | None = field(default=None, repr=False)
    """PEM text of the RSA private key (JWT flow)."""
    audience: str = LOGIN_AUDIENCE
    """``aud`` of the JWT: the login URL (production or sandbox)."""
    secret_names: tuple[str, ...] = ()
    """Names of the environment variables the secrets came from, for messages."""

    def token_form(self, now: float | None = None) -> dict[str, str]:
        """The form fields of the token request."""
        if self.flow == "client_credentials":
            return {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret or "",
            }
        import jwt

        issued = int(now if now is not None else time.time())
        claims = {"iss": self.client_id, "sub": self.username or "", "aud": self.audience,
                  "exp": issued + 180}  # fmt: skip
        try:
            assertion = jwt.encode(claims, self.private_key or "", algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise salesforce_error(
                "KT932", "salesforce.auth.bad_key", names=", ".join(self.secret_names),
                reason=type(exc).__name__,
            ) from None  # fmt: skip
        return {"grant_type": JWT_GRANT, "assertion": assertion}


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    scope: str | None
    """Scopes granted (``api id ...``), when Salesforce says."""


def fetch_token(http: httpx.Client, instance_url: str, credentials: Credentials) -> Token:
    """A fresh access token, or a located error saying what to fix in the app."""
    import httpx

    url = instance_url.rstrip("/") + "/services/oauth2/token"
    try:
        response = http.post(url, data=credentials.token_form())
    except httpx.HTTPError as exc:
        raise salesforce_error(
            "KT939", "salesforce.http.unreachable", url=url, reason=type(exc).__name__
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        scope = body.get("scope")
        return Token(str(body["access_token"]), str(scope) if scope else None)
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    error, description = _scrubbed(error, credentials), _scrubbed(description, credentials)
    raise salesforce_error(
        "KT931",
        f"salesforce.auth.refused.{credentials.flow}",
        status=response.status_code,
        error=error or "-",
        description=description or response.reason_phrase,
        names=", ".join(credentials.secret_names),
        username=credentials.username or "-",
        audience=credentials.audience,
    )


# The longest vendor text a message quotes: an error page is not a description.
_QUOTED = 300


def _scrubbed(text: str, credentials: Credentials) -> str:
    """Vendor text as a message may quote it: without any secret kpitree sent
    or has read (an endpoint that echoes its request must not put the client
    secret or the signed assertion on the screen), and not longer than a line."""
    from kpitree.connectors.secrets import redact

    for value in (credentials.client_secret, credentials.private_key):
        if value and value in text:
            text = text.replace(value, "***")
    text = redact(text)
    return text if len(text) <= _QUOTED else text[: _QUOTED - 1] + "…"
