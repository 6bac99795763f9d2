"""Single sign-on routes (:mod:`kpitree.web.sso`): ``/login/sso`` sends the
browser to the provider, ``/login/sso/callback`` takes it back, checks what the
provider says and starts a session like a password login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from kpitree.web.auth import settings_of, start_session, user_store
from kpitree.web.deps import get_lang, render
from kpitree.web.errors import WebError
from kpitree.web.routes_auth import _safe_next
from kpitree.web.security import cookie_header
from kpitree.web.sso import Provider, sign_in

router = APIRouter(include_in_schema=False)
SSO_COOKIE = "kpitree_sso"
_LOGIN_SECONDS = 600  # a login must come back from the provider within this time


def _provider(request: Request) -> Provider:
    spec = settings_of(request).sso
    if spec is None:
        raise WebError(404, "KT710", "sso.error.not_configured")
    state = request.app.state
    found: Provider | None = getattr(state, "sso_provider", None)
    if found is None or found.spec != spec:
        found = state.sso_provider = Provider(spec)
    return found


def _serializer(request: Request) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(user_store(request).secret("sso"), salt="kpitree.sso")


def _callback_url(request: Request) -> str:
    return str(request.url_for("sso_callback"))


def _secure(request: Request) -> bool:
    return bool(getattr(request.state, "secure_cookies", False))


@router.get("/login/sso")
def sso_start(request: Request, next: str = "/") -> Response:
    provider = _provider(request)
    if user_store(request).count() == 0:
        return RedirectResponse(_safe_next(next), status_code=303)
    started = provider.start(_callback_url(request))
    kept = _serializer(request).dumps(
        {"s": started.state, "n": started.nonce, "v": started.verifier, "next": _safe_next(next)}
    )
    response = RedirectResponse(started.url, status_code=303)
    response.headers.append(
        "set-cookie",
        cookie_header(SSO_COOKIE, kept, secure=_secure(request), max_age=_LOGIN_SECONDS).decode(
            "latin-1"
        ),
    )
    return response


@router.get("/login/sso/callback", name="sso_callback")
def sso_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    from itsdangerous import BadSignature

    from kpitree.web.security import same_token

    provider = _provider(request)
    try:
        kept = _serializer(request).loads(
            request.cookies.get(SSO_COOKIE, ""), max_age=_LOGIN_SECONDS
        )
        if error or not code or not same_token(str(kept.get("s", "")), state):
            raise WebError(401, "KT711", "sso.error.failed")
        claims = provider.finish(code, _callback_url(request), str(kept["n"]), str(kept["v"]))
        user = sign_in(user_store(request), provider.spec, claims)
    except (BadSignature, KeyError, TypeError, AttributeError):
        return _refused(request, WebError(401, "KT711", "sso.error.failed"))
    except WebError as exc:
        return _refused(request, exc)
    response = RedirectResponse(_safe_next(str(kept.get("next", "/"))), status_code=303)
    _forget(request, response)
    start_session(request, response, user)
    return response


def _forget(request: Request, response: Response) -> None:
    response.headers.append(
        "set-cookie",
        cookie_header(SSO_COOKIE, '""', secure=_secure(request), max_age=0).decode("latin-1"),
    )


def _refused(request: Request, exc: WebError) -> Response:
    page = render(
        request,
        "login.html",
        {
            "next": "/",
            "error": exc.diagnostic.message(get_lang(request)),
            "error_code": exc.diagnostic.code,
            "name": "",
        },
    )
    page.status_code = exc.status
    _forget(request, page)
    return page


__all__ = ["router"]
