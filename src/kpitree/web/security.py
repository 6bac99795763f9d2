"""Sessions, CSRF protection, login rate limiting and security headers.

* Every request first passes :mod:`kpitree.web.guard` (trusted proxies, the
  ``Host`` check against DNS rebinding, ``Origin`` of state-changing requests).
* Sessions: a random token in the cookie ``kpitree_session``, kept server-side
  as a hash (:mod:`kpitree.web.sessions`); logout, a changed password or role,
  or the user's removal end them at once. HttpOnly, SameSite=Lax, Secure when
  the request came over https or ``secure_cookies`` says so.
* CSRF: double submit. Every browser gets a random token in the HttpOnly cookie
  ``kpitree_csrf``; pages carry it in ``<meta name="csrf-token">`` and forms in a
  hidden ``csrf_token`` field; every POST/PUT/PATCH/DELETE must send it back in
  the ``X-CSRF-Token`` header or that field, or is refused (403, KT606). Another
  site can make a browser send the cookie but cannot read it to send it back.
* Request bodies: a state-changing request that is not a file upload
  (``multipart/form-data``, bounded by the upload limit) may carry at most
  :data:`MAX_BODY_BYTES`; a larger one is refused unread past the limit (413,
  KT771), so no JSON or form body can make the server hold or store megabytes.
* Login rate limiting: failures are counted per user name and per client
  address over a sliding window; past the limit logins are refused (429, KT607)
  with the minutes to wait.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from fastapi import Request

from kpitree.web import guard
from kpitree.web.errors import WebError
from kpitree.web.settings import WebSettings
from kpitree.web.updating import HEADER, header_value

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "LoginLimiter",
    "WebMiddleware",
    "check_csrf",
]

SESSION_COOKIE = "kpitree_session"
CSRF_COOKIE = "kpitree_csrf"
LANG_COOKIE = "kpitree_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HOOKS_PREFIX = "/hooks/"
MAX_BODY_BYTES = 1024 * 1024
"""The largest JSON or form body (uploads have their own limit)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    # Everything the app needs is served by the app itself: no CDN can load.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; "
        b"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]


def is_secure(scope: Scope, configured: bool | None) -> bool:
    """Whether cookies get the Secure flag: as configured, else when served over https."""
    return configured if configured is not None else scope.get("scheme") == "https"


def cookie_header(
    name: str, value: str, *, secure: bool, max_age: int | None = None, http_only: bool = True
) -> bytes:
    parts = [f"{name}={value}", "Path=/", "SameSite=Lax"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode("latin-1")


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is ignored, not an error
                continue
    return {k: m.value for k, m in jar.items()}


class WebMiddleware:
    """Pure ASGI middleware (it must not buffer the server-sent event stream):
    applies :mod:`kpitree.web.guard` to every request, gives every browser a
    CSRF token cookie, remembers ``?lang=`` in a cookie and adds the security
    headers."""

    def __init__(self, app: ASGIApp, *, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings
        self.secure_cookies = settings.secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard.apply_proxy(scope, self.settings)
        cookies = _cookies(scope)
        state = scope.setdefault("state", {})
        sent = cookies.get(CSRF_COOKIE, "")
        fresh = not (16 <= len(sent) <= 128 and sent.isascii())
        state["csrf_cookie"] = "" if fresh else sent
        state["csrf"] = secrets.token_urlsafe(32) if fresh else sent
        secure = is_secure(scope, self.secure_cookies)
        state["secure_cookies"] = secure
        lang = _query_lang(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                updating = header_value(state)
                if updating is not None:  # the previous data version's figures
                    headers.append((HEADER.encode("latin-1"), updating))
                if fresh:
                    headers.append(
                        (b"set-cookie", cookie_header(CSRF_COOKIE, state["csrf"], secure=secure))
                    )
                if lang and cookies.get(LANG_COOKIE) != lang:
                    headers.append(
                        (
                            b"set-cookie",
                            cookie_header(LANG_COOKIE, lang, secure=secure, max_age=31536000),
                        )
                    )
                message["headers"] = headers
            await send(message)

        refused = guard.refusal(scope, self.settings)
        if refused is None and _bounded(scope):
            receive, refused = await _read_bounded(receive)
        if refused is not None:
            from starlette.requests import Request

            from kpitree.web.errors import refusal_response

            response = refusal_response(Request(scope, receive), *refused)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _bounded(scope: Scope) -> bool:
    """Whether the request's body falls under :data:`MAX_BODY_BYTES`."""
    if scope.get("method") not in UNSAFE_METHODS or scope.get("path", "").startswith(HOOKS_PREFIX):
        return False  # webhooks keep their own, smaller limit (KT959)
    content_type = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
    return not content_type.lower().startswith(b"multipart/form-data")


async def _read_bounded(receive: Receive) -> tuple[Receive, guard.Refusal | None]:
    """The body read up to the limit, and a ``receive`` that replays it; or a
    refusal (KT771) as soon as it passes the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            chunks = []
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return receive, (
                413, "KT771", "web.error.body_too_large", {"limit_kb": MAX_BODY_BYTES // 1024}
            )  # fmt: skip
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replay, None


def _query_lang(scope: Scope) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [])
    return values[-1] if values and values[-1] in ("ja", "en") else None


async def check_csrf(request: Request) -> None:
    """FastAPI dependency on every route: a state-changing request must carry
    the browser's CSRF token (header or form field), else 403 KT606. Webhooks
    (``/hooks/...``) carry no cookie to forge: their signature is their proof
    (:mod:`kpitree.web.hooks`)."""
    if request.method not in UNSAFE_METHODS or request.url.path.startswith(HOOKS_PREFIX):
        return
    expected = getattr(request.state, "csrf_cookie", "")
    given = request.headers.get(CSRF_HEADER.lower(), "")
    content_type = request.headers.get("content-type", "")
    if not given and (
        content_type.startswith("application/x-www-form-urlencoded")
        or content_type.startswith("multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise WebError(403, "KT606", "web.error.csrf")


# -- login rate limiting -----------------------------------------------------------------


@dataclass
class LoginLimiter:
    """Failed logins per user name and per client address in a sliding window.
    In memory: one server process serves one project."""

    per_user: int = 5
    per_address: int = 20
    window: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def check(self, user: str, address: str) -> None:
        """Raise 429 (KT607) when either key is over its limit."""
        now = time.monotonic()
        with self._lock:
            for key, limit in (
                (f"user:{user}", self.per_user),
                (f"ip:{address}", self.per_address),
            ):
                recent = self._recent(key, now)
                if len(recent) >= limit:
                    wait = max(1, int(recent[0] + self.window - now + 59) // 60)
                    raise WebError(
                        429,
                        "KT607",
                        "web.error.too_many_attempts",
                        headers={"Retry-After": str(wait * 60)},
                        minutes=wait,
                    )

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(f"user:{user}", now).append(now)
            self._recent(f"ip:{address}", now).append(now)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{user}", None)


def same_token(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a, b)
