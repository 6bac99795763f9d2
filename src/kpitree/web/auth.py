"""Who is asking: the session cookie (a random token, checked against
``web_sessions``, see :mod:`kpitree.web.sessions`) and the roles it carries.

With no users configured there is nobody to log in: every request is the
anonymous admin, which is safe only because ``kpitree serve`` then binds to
127.0.0.1 and answers loopback host names only (see
:func:`kpitree.web.app.check_bind` and :mod:`kpitree.web.guard`).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from kpitree.web import sessions
from kpitree.web.security import CSRF_COOKIE, SESSION_COOKIE, cookie_header
from kpitree.web.settings import WebSettings
from kpitree.web.users import ANONYMOUS, User, UserStore

if TYPE_CHECKING:
    from fastapi import Request
    from starlette.responses import Response

__all__ = [
    "current_user",
    "end_session",
    "settings_of",
    "signed_in",
    "start_session",
    "user_store",
]


def user_store(request: Request) -> UserStore:
    store: UserStore = request.app.state.users
    return store


def settings_of(request: Request) -> WebSettings:
    found: WebSettings = request.app.state.settings
    return found


def current_user(request: Request) -> User | None:
    """The logged-in user, the anonymous admin when no users exist, or ``None``
    (cached on the request)."""
    if "user" in request.state._state:
        cached: User | None = request.state.user
        return cached
    user = _resolve(request)
    request.state.user = user
    return user


def signed_in(request: Request) -> bool:
    """Whether the request's session still works now (not the answer cached on
    the request: a long stream asks again)."""
    return _resolve(request) is not None


def _resolve(request: Request) -> User | None:
    store = user_store(request)
    if store.count() == 0:
        return ANONYMOUS
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings = settings_of(request)
    return sessions.lookup(
        store, token, idle=settings.session_idle, lifetime=settings.session_lifetime
    )


def _secure(request: Request) -> bool:
    return bool(getattr(request.state, "secure_cookies", False))


def start_session(request: Request, response: Response, user: User) -> None:
    """Log the browser in as ``user``. The CSRF token is replaced too, so a token
    planted before the login is worthless after it; a session the browser had
    before ends."""
    settings = settings_of(request)
    store = user_store(request)
    sessions.revoke(store, request.cookies.get(SESSION_COOKIE, ""))
    token = sessions.create(
        store, user, idle=settings.session_idle, lifetime=settings.session_lifetime
    )
    secure = _secure(request)
    response.headers.append(
        "set-cookie",
        cookie_header(
            SESSION_COOKIE, token, secure=secure, max_age=settings.session_lifetime
        ).decode("latin-1"),
    )
    response.headers.append(
        "set-cookie",
        cookie_header(CSRF_COOKIE, secrets.token_urlsafe(32), secure=secure).decode("latin-1"),
    )


def end_session(request: Request, response: Response) -> None:
    """Log out: the session ends on the server (a copy of the cookie is worthless
    from now on) and the browser forgets it."""
    sessions.revoke(user_store(request), request.cookies.get(SESSION_COOKIE, ""))
    response.headers.append(
        "set-cookie",
        cookie_header(SESSION_COOKIE, '""', secure=_secure(request), max_age=0).decode("latin-1"),
    )
