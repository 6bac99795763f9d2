"""Login and logout (pages and API), and the session endpoint scripts use to get
their CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from kpitree.web.auth import current_user, end_session, start_session, user_store
from kpitree.web.contract import errors
from kpitree.web.deps import csrf_token, get_lang, render, require_viewer
from kpitree.web.errors import WebError
from kpitree.web.security import LoginLimiter
from kpitree.web.users import User, login_key

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site is followed after login: it starts with one ``/``
    and holds no backslash, white space or control character (browsers drop tabs
    and line breaks from URLs, so ``/<TAB>/evil.example`` would become ``//evil.example``)."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return "/"
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in target):
        return "/"
    if target.startswith("//"):
        return "/"
    return target


def _client(request: Request) -> str:
    """The client's address: the peer, or what a configured trusted proxy reports
    (see :mod:`kpitree.web.guard`)."""
    return request.client.host if request.client else "unknown"


def _login(request: Request, name: str, password: str) -> User:
    """Check the limiter, then the password; count a failure or clear them. The
    limiter counts under :func:`~kpitree.web.users.login_key`, the normalisation
    ``verify`` looks the name up with (plus case folding), so spacing, width or
    case around a name cannot open new counters."""
    limiter: LoginLimiter = request.app.state.login_limiter
    address = _client(request)
    key = login_key(name)
    limiter.check(key, address)
    user = user_store(request).verify(name, password)
    if user is None:
        limiter.failed(key, address)
        raise WebError(401, "KT608", "web.error.bad_login")
    limiter.succeeded(key)
    return user


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    if user_store(request).count() == 0:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "name": ""})


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        user = _login(request, name, password)
    except WebError as exc:
        page = render(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "error": exc.diagnostic.message(get_lang(request)),
                "name": name,
            },
        )
        page.status_code = exc.status
        page.headers.update(exc.headers)
        return page
    response = RedirectResponse(_safe_next(next), status_code=303)
    start_session(request, response, user)
    return response


@router.get("/logout", response_class=HTMLResponse, include_in_schema=False)
def logout_page(request: Request) -> Response:
    return render(request, "login.html", {"logout": True, "next": "/", "error": None})


@router.post("/logout", include_in_schema=False)
def logout_form(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response)
    return response


class LoginBody(BaseModel):
    name: str
    password: str


@router.post("/api/login", tags=["session"], responses=errors(401, 429))
def api_login(request: Request, body: LoginBody) -> Response:
    """Start a session (sets the session cookie); send the CSRF token from
    ``GET /api/session`` in ``X-CSRF-Token``."""
    user = _login(request, body.name, body.password)
    response = JSONResponse({"user": user.to_json()})
    start_session(request, response, user)
    return response


@router.post("/api/logout", tags=["session"])
def api_logout(request: Request) -> Response:
    """End the session."""
    response = JSONResponse({"ok": True})
    end_session(request, response)
    return response


@router.get("/api/session", tags=["session"])
def api_session(request: Request) -> dict[str, Any]:
    """Who is logged in (``null`` when nobody), whether users are configured, and
    the CSRF token every POST/PUT/PATCH/DELETE must send as ``X-CSRF-Token``."""
    user = current_user(request)
    return {
        "user": None if user is None else user.to_json(),
        "users_configured": user_store(request).count() > 0,
        "csrf_token": csrf_token(request),
    }


@router.get("/api/health", tags=["session"])
def api_health(_: User = Depends(require_viewer)) -> dict[str, Any]:
    """``{"ok": true, "version": ...}`` while the server runs."""
    from kpitree import __version__

    return {"ok": True, "version": __version__}
