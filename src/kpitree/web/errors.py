"""How errors leave the web app: one JSON shape for every ``/api/...`` error and
an HTML error page for everything else.

The JSON shape (pinned by a test; documented in docs/web.md)::

    {"error": {"status": 403, "code": "KT606", "message": "...",
               "diagnostics": [{"severity": "error", "code": "KT606", "message": "...",
                                "file": null, "line": null, "column": null,
                                "end_column": null, "field": null}]}}

Routes raise :class:`WebError` (an HTTP status with a catalog message) or let a
:class:`~kpitree.errors.UserError` through (status 400, its diagnostics kept).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from kpitree.errors import Diagnostic, KpitreeError, Severity, UserError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

__all__ = [
    "WebError",
    "error_payload",
    "install_error_handlers",
    "public_file",
    "public_paths",
    "refusal_response",
]

log = logging.getLogger("kpitree.web")

# Plain HTTP statuses (raised by the framework) mapped to our codes and messages.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("KT618", "web.error.bad_request"),
    401: ("KT604", "web.error.login_required"),
    403: ("KT605", "web.error.forbidden"),
    404: ("KT602", "web.error.not_found"),
    405: ("KT603", "web.error.method_not_allowed"),
    413: ("KT614", "web.error.too_large"),
    422: ("KT601", "web.error.invalid_request"),
    429: ("KT607", "web.error.too_many_attempts"),
    503: ("KT617", "web.error.busy"),
}


class WebError(KpitreeError):
    """An HTTP error with a catalog message: ``WebError(403, "KT606",
    "web.error.csrf")``. ``headers`` go onto the response (e.g. Retry-After)."""

    def __init__(
        self,
        status: int,
        code: str,
        key: str,
        *,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        self.status = status
        self.diagnostic = Diagnostic(Severity.ERROR, code, key, params)
        self.headers = headers or {}
        super().__init__(self.diagnostic.message("en"))


Scrub = Callable[[str], str]


def _same(text: str) -> str:
    return text


@functools.lru_cache(maxsize=16)
def public_paths(project_path: Path | None) -> Scrub:
    """A function that rewrites server paths in text for web clients: a file in
    the project becomes its path relative to the project (an upload waiting in
    ``.kpitree/uploads/<id>/`` just its file name); a file elsewhere under the
    server's home, temporary folder, Python or working folder, its file name."""
    roots = []
    if project_path is not None:
        for form in {str(project_path), str(project_path.resolve())}:
            roots.append(form.rstrip(os.sep))
    others = {tempfile.gettempdir(), str(Path.home()), sys.prefix, sys.base_prefix, str(Path.cwd())}
    others |= {str(Path(o).resolve()) for o in others}
    name = r"[^\s'\"`:;,()<>\[\]]"
    patterns: list[tuple[re.Pattern[str], str]] = []
    for root in sorted(roots, key=len, reverse=True):
        quoted = re.escape(root)
        uploads = quoted + r"/\.kpitree/uploads/[^/\s]+/"
        patterns.append((re.compile(uploads), ""))
        patterns.append((re.compile(quoted + "/"), ""))
        patterns.append((re.compile(quoted + rf"(?!{name})"), "."))
    for root in sorted(others, key=len, reverse=True):
        if len(root) > 1:
            quoted = re.escape(root.rstrip(os.sep))
            patterns.append((re.compile(quoted + rf"/(?:{name}+/)*"), ""))

    def scrub(text: str) -> str:
        for pattern, replacement in patterns:
            text = pattern.sub(replacement, text)
        return text

    return scrub


def public_file(path: str, project_path: Path | None) -> str:
    """A file as web clients see it: relative to the project (an upload waiting in
    ``.kpitree/uploads/<id>/`` by its file name), a file elsewhere by its name."""
    file = Path(path)
    if not file.is_absolute():
        return path
    if project_path is not None:
        for root in (project_path, project_path.resolve()):
            if file.is_relative_to(root):
                inside = file.relative_to(root)
                if inside.parts[:2] == (".kpitree", "uploads"):
                    return file.name
                return inside.as_posix()
    return file.name


def _entry(diag: Diagnostic, lang: str, field: str | None, scrub: Scrub) -> dict[str, Any]:
    entry = diag.to_json(lang)
    entry["message"] = scrub(entry["message"])
    if entry.get("file"):
        entry["file"] = public_file(scrub(entry["file"]), None)
    return {**entry, "field": field}


def _located(diag: Diagnostic, lang: str, scrub: Scrub = _same) -> str:
    """``file:line:col: message`` when the diagnostic has a place (as the CLI prints it)."""
    span = diag.span
    if span is None:
        return scrub(diag.message(lang))
    file = public_file(scrub(span.file), None) if span.file else "<input>"
    where = f"{file}:{span.line}:{span.column}"
    return f"{where}: {scrub(diag.message(lang))}"


def error_payload(
    status: int,
    diagnostics: list[tuple[Diagnostic, str | None]],
    lang: str,
    scrub: Scrub = _same,
) -> dict[str, Any]:
    """The JSON body of an API error: the first diagnostic is the headline."""
    entries = [_entry(d, lang, f, scrub) for d, f in diagnostics]
    return {
        "error": {
            "status": status,
            "code": entries[0]["code"],
            "message": entries[0]["message"],
            "diagnostics": entries,
        }
    }


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/hooks/")) or path == "/api" or path == "/openapi.json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _respond(
    request: Request,
    status: int,
    diagnostics: list[tuple[Diagnostic, str | None]],
    headers: dict[str, str] | None = None,
) -> Response:
    from fastapi.responses import JSONResponse

    from kpitree.web.deps import get_lang, render

    lang = get_lang(request)
    scrub = public_paths(getattr(request.app.state, "project_path", None))
    htmx = request.headers.get("hx-request") == "true"
    if status == 401 and not _wants_json(request):
        from urllib.parse import quote

        from fastapi.responses import RedirectResponse

        # After the login, come back to the page (an htmx request's own URL is a fragment).
        page = request.headers.get("hx-current-url") if htmx else None
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if page:
            from urllib.parse import urlsplit

            parts = urlsplit(page)
            here = parts.path + (f"?{parts.query}" if parts.query else "")
        login = f"/login?next={quote(here)}"
        if htmx:
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)
    if htmx and not _wants_json(request):
        # A fragment for kpitree.js to show; a whole error page must not be swapped in.
        from html import escape

        from fastapi.responses import HTMLResponse

        code = escape(diagnostics[0][0].code)
        items = "".join(f"<li>{escape(_located(d, lang, scrub))}</li>" for d, _ in diagnostics)
        body = f'<div class="kt-alert" role="alert" data-code="{code}"><ul>{items}</ul></div>'
        return HTMLResponse(body, status_code=status, headers=headers)
    if _wants_json(request):
        return JSONResponse(
            error_payload(status, diagnostics, lang, scrub), status_code=status, headers=headers
        )
    messages = [_located(d, lang, scrub) for d, _ in diagnostics]
    response = render(
        request,
        "error.html",
        {"status": status, "code": diagnostics[0][0].code, "messages": messages},
    )
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def refusal_response(
    request: Request, status: int, code: str, key: str, params: dict[str, Any]
) -> Response:
    """The error response of a request refused before any route (see
    :mod:`kpitree.web.guard`), in the same shapes as every other error."""
    return _respond(request, status, [(Diagnostic(Severity.ERROR, code, key, params), None)])


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through :func:`_respond`."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        return _respond(request, exc.status, [(exc.diagnostic, None)], exc.headers)

    async def user_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UserError)
        return _respond(request, 400, [(d, None) for d in exc.diagnostics])

    async def kpitree_error(request: Request, exc: Exception) -> Response:
        log.error("kpitree error on %s", request.url.path, exc_info=exc)
        diag = Diagnostic(Severity.ERROR, "KT600", "web.error.internal", {"error": str(exc)})
        return _respond(request, 500, [(diag, None)])

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code, key = _HTTP_CODES.get(exc.status_code, ("KT600", "web.error.http"))
        detail = exc.detail if isinstance(exc.detail, str) else ""
        diag = Diagnostic(Severity.ERROR, code, key, {"status": exc.status_code, "detail": detail})
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            from kpitree.web.contract import allowed_methods

            # Starlette names only the methods of the first route that matched the path.
            methods = allowed_methods(request.app, request.scope)
            if methods:
                headers["Allow"] = ", ".join(methods)
        return _respond(request, exc.status_code, [(diag, None)], headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        found: list[tuple[Diagnostic, str | None]] = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem.get("loc", ()))
            diag = Diagnostic(
                Severity.ERROR,
                "KT601",
                "web.error.invalid_field",
                {"field": where, "problem": problem.get("msg", "")},
            )
            found.append((diag, where))
        if not found:
            found.append((Diagnostic(Severity.ERROR, "KT601", "web.error.invalid_request"), None))
        return _respond(request, 422, found)

    async def crash(request: Request, exc: Exception) -> Response:
        # A shared link's address is its secret: never in the log.
        path = request.url.path
        where = "/s/…" if path.startswith("/s/") else path
        log.error("unexpected error on %s", where, exc_info=exc)
        diag = Diagnostic(
            Severity.ERROR, "KT600", "web.error.internal", {"error": type(exc).__name__}
        )
        return _respond(request, 500, [(diag, None)])

    app.add_exception_handler(WebError, web_error)
    app.add_exception_handler(UserError, user_error)
    app.add_exception_handler(KpitreeError, kpitree_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, crash)
