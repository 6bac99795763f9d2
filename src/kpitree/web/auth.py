"""Who is asking: the signed session cookie and the roles it carries.

With no users configured there is nobody to log in: every request is the
anonymous admin, which is safe only because ``kpitree serve`` then binds to
127.0.0.1 (see :func:`kpitree.web.app.check_bind`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.web.security import CSRF_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE, cookie_header
from kpitree.web.users import ANONYMOUS, User, UserStore

if TYPE_CHECKING:
    from fastapi import Request
    from starlette.responses import Response

__all__ = ["current_user", "end_session", "start_session", "user_store"]


def user_store(request: Request) -> UserStore:
    store: UserStore = request.app.state.users
    return store


def _serializer(request: Request) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    state = request.app.state
    if getattr(state, "session_serializer", None) is None:
        state.session_serializer = URLSafeTimedSerializer(
            user_store(request).secret(), salt="kpitree-session"
        )
    return state.session_serializer


def current_user(request: Request) -> User | None:
    """The logged-in user, the anonymous admin when no users exist, or ``None``
    (cached on the request)."""
    if "user" in request.state._state:
        cached: User | None = request.state.user
        return cached
    user = _resolve(request)
    request.state.user = user
    return user


def _resolve(request: Request) -> User | None:
    from itsdangerous import BadSignature

    store = user_store(request)
    if store.count() == 0:
        return ANONYMOUS
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        data = _serializer(request).loads(token, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = store.get(str(data.get("u", "")))
    if user is None or user.epoch != data.get("e"):
        return None  # removed, or password/role changed since this session began
    return user


def start_session(request: Request, response: Response, user: User) -> None:
    """Log the browser in as ``user``. The CSRF token is replaced too, so a token
    planted before the login is worthless after it."""
    import secrets

    token = _serializer(request).dumps({"u": user.name, "e": user.epoch})
    secure = bool(getattr(request.state, "secure_cookies", False))
    response.headers.append(
        "set-cookie",
        cookie_header(SESSION_COOKIE, token, secure=secure, max_age=SESSION_MAX_AGE).decode(
            "latin-1"
        ),
    )
    response.headers.append(
        "set-cookie",
        cookie_header(CSRF_COOKIE, secrets.token_urlsafe(32), secure=secure).decode("latin-1"),
    )


def end_session(request: Request, response: Response) -> None:
    secure = bool(getattr(request.state, "secure_cookies", False))
    response.headers.append(
        "set-cookie",
        cookie_header(SESSION_COOKIE, '""', secure=secure, max_age=0).decode("latin-1"),
    )
