"""Dashboard pages rendered once and served many times.

A page's HTML depends on its view model (kept in the page cache per data
version, definition and query: :mod:`kpitree.web.cache`) and on what the
request adds: the address, the language, who asks (the header shows the
user's name and role, and editors see forms that viewers do not), the notes
and open actions as they stand now, and the browser's CSRF token. Rendering
the templates is most of a warmed page's time, so the HTML is kept per view
model *object* and a key of everything else; the CSRF token is written in
afterwards, so browsers of the same user share one rendering.

An entry holds its view model and is used only while the page cache hands out
that same object: an import, a changed definition or another day makes a new
view model, and its pages are rendered again. Nothing a user may not see is
ever served to them: the user's name, role and anonymity are part of the key.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import HTMLResponse, Response

__all__ = [
    "CSRF_PLACEHOLDER",
    "RenderedPages",
    "kept_json",
    "kept_model_json",
    "kept_page",
    "rendered_pages",
    "request_key",
]

MAX_PAGES = 256  # a large organisation's page is ~100-300 kB of HTML
# Rendered in place of the CSRF token, then replaced by the request's own.
CSRF_PLACEHOLDER = "kt-csrf-" + secrets.token_hex(16)
_MAKE_LOCK = threading.Lock()
T = TypeVar("T")


class RenderedPages:
    """A bounded, thread-safe memo of rendered pages (see the module docstring)."""

    def __init__(self, max_entries: int = MAX_PAGES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[object, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def html(self, view: object, key: Hashable, render: Callable[[], T]) -> T:
        """The page for ``view`` and ``key``, rendered by ``render`` when missing
        (with :data:`CSRF_PLACEHOLDER` as the token; or a twin's JSON bytes)."""
        full = (id(view), key)
        with self._lock:
            found = self._entries.get(full)
            if found is not None and found[0] is view:
                self._entries.move_to_end(full)
                self.hits += 1
                kept: T = found[1]
                return kept
        html = render()
        with self._lock:
            self.misses += 1
            self._entries[full] = (view, html)
            self._entries.move_to_end(full)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return html

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def rendered_pages(request: Request) -> RenderedPages:
    """The app's rendered pages (made on first use)."""
    state = request.app.state
    found: RenderedPages | None = getattr(state, "rendered_pages", None)
    if found is None:
        with _MAKE_LOCK:
            found = getattr(state, "rendered_pages", None)
            if found is None:
                found = state.rendered_pages = RenderedPages()
    return found


def request_key(request: Request, lang: str) -> tuple[Any, ...]:
    """What the request adds to a page besides its view model: the address
    (path, query and the base URL), the language and the user's identity and
    role (the project's name follows the definition, as the view model does)."""
    from kpitree.web.auth import current_user

    user = current_user(request)
    who = None if user is None else (user.name, user.role, user.anonymous)
    return (str(request.base_url), request.url.path, request.url.query, lang, who)


def kept_page(
    request: Request,
    kept: object,
    extra: Hashable,
    template: str,
    context: dict[str, Any],
) -> HTMLResponse:
    """``template`` rendered with ``context`` (as :func:`kpitree.web.deps.render`
    does), kept for the view model ``kept`` (the page cache's object), the
    request's :func:`request_key` and ``extra`` (whatever else the context
    holds that may change while ``kept`` does not), with this browser's CSRF
    token written in."""
    from fastapi.responses import HTMLResponse

    from kpitree.web.deps import csrf_token, get_lang, render_html

    key = (template, request_key(request, get_lang(request)), extra)
    html = rendered_pages(request).html(
        kept, key, lambda: render_html(request, template, context, csrf=CSRF_PLACEHOLDER)
    )
    return HTMLResponse(html.replace(CSRF_PLACEHOLDER, csrf_token(request)))


def kept_model_json(request: Request, kept: object, content: Any) -> Response:
    """``content`` (made of the view model ``kept``) as the route's response
    model writes it: validated and written as FastAPI does for a returned
    value, but once per kept view model and address instead of on every
    request (a JSON twin holds no user's data)."""
    from fastapi.responses import Response

    field = getattr(request.scope.get("route"), "response_field", None)
    if field is None:
        return kept_json(request, kept, content)

    def write() -> bytes:
        from fastapi.exceptions import ResponseValidationError

        value, errors = field.validate(content, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=content)
        return bytes(field.serialize_json(value, by_alias=True))

    key = ("model-json", request.url.path, request.url.query)
    return Response(rendered_pages(request).html(kept, key, write), media_type="application/json")


def kept_json(request: Request, kept: object, content: Any) -> Response:
    """``content`` (made of the view model ``kept``) as a JSON answer, written
    once per kept view model and address (a JSON twin holds no user's data)."""
    from fastapi.responses import JSONResponse, Response

    key = ("application/json", request.url.path, request.url.query)
    body = rendered_pages(request).html(
        kept, key, lambda: bytes(JSONResponse(content).body).decode()
    )
    return Response(body, media_type="application/json")
