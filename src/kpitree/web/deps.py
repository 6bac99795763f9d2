"""FastAPI dependencies every route uses.

* :func:`get_project` - the project, loaded once and reloaded when its
  definition changes on disk; only for a signed-in user (401 before anything
  is loaded otherwise, so a broken definition's errors reach nobody who may
  not see the pages). :func:`load_project` loads it for a route that checked
  its caller another way (a shared link).
* :func:`get_lang` - ``"ja"`` or ``"en"``: ``?lang=`` > cookie > Accept-Language
  (Japanese when the browser prefers it or says nothing).
* :func:`require_viewer`, :func:`require_editor`, :func:`require_admin` - the
  current :class:`~kpitree.web.users.User`, or 401/403.
* :func:`csrf_token` - the token pages put in forms (``csrf_token`` field) and
  that ``kpitree.js`` sends as ``X-CSRF-Token``.
* :func:`render` - a page from ``web/templates`` with the formatting filters.

Templates get ``request``, ``lang``, ``user``, ``csrf_token``, ``t`` and
``lang_urls`` besides the route's context, and these filters: ``num``, ``yen``,
``pct``, ``month``, ``date`` (see :mod:`kpitree.web.formatting`) and ``t``
(``{{ "web.nav.tree" | t }}``).
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from kpitree import chartstyle
from kpitree.web import formatting
from kpitree.web.auth import current_user
from kpitree.web.errors import WebError
from kpitree.web.security import LANG_COOKIE
from kpitree.web.users import User

if TYPE_CHECKING:
    import jinja2
    from fastapi.responses import HTMLResponse

    from kpitree.project import Project

__all__ = [
    "csrf_token",
    "get_lang",
    "get_project",
    "load_project",
    "render",
    "render_html",
    "request_lang",
    "require_admin",
    "require_editor",
    "require_viewer",
]

TEMPLATES = Path(__file__).parent / "templates"
_load_lock = threading.Lock()


def _signature(path: Path, extra: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    found = []
    for name in ("kpitree.yaml", *extra):
        try:
            st = (path / name).stat()
        except OSError:
            found.append((name, -1, -1))
            continue
        found.append((name, st.st_mtime_ns, st.st_size))
    return tuple(found)


def get_project(request: Request) -> Project:
    """The app's project for a signed-in user (the viewer rule first: 401
    without a session, whatever state the definition is in); see
    :func:`load_project`."""
    require_viewer(request)
    return load_project(request)


def load_project(request: Request) -> Project:
    """The app's project; loaded again when ``kpitree.yaml`` (or a target file
    it names) changes. A broken definition raises its DefinitionError (400).
    The caller must have been checked already (:func:`get_project` does it)."""
    from kpitree.project import Project

    state = request.app.state
    path: Path = state.project_path
    cached = getattr(state, "project", None)
    extra = tuple(cached.tree.target_files) if cached is not None else ()
    signature = _signature(path, extra)
    if cached is not None and state.project_signature == signature:
        return cached  # type: ignore[no-any-return]
    with _load_lock:
        cached = getattr(state, "project", None)
        if cached is not None and state.project_signature == signature:
            return cached  # type: ignore[no-any-return]
        project = Project.load(path)
        state.project = project
        state.project_signature = _signature(path, tuple(project.tree.target_files))
        return project


async def request_lang(request: Request) -> str:
    """:func:`get_lang` as a dependency answered on the event loop (a sync
    dependency costs every request a hop to the thread pool and back)."""
    return get_lang(request)


def get_lang(request: Request) -> str:
    """``?lang=`` > the ``kpitree_lang`` cookie > Accept-Language > Japanese."""
    asked = request.query_params.get("lang")
    if asked in ("ja", "en"):
        return asked
    saved = request.cookies.get(LANG_COOKIE)
    if saved in ("ja", "en"):
        return saved
    return _from_accept_language(request.headers.get("accept-language", ""))


def _from_accept_language(header: str) -> str:
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("ja", "en") and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else "ja"


def _require(request: Request, role: str) -> User:
    user = current_user(request)
    if user is None:
        raise WebError(401, "KT604", "web.error.login_required")
    if not user.can(role):
        from kpitree.i18n import Msg

        raise WebError(403, "KT605", "web.error.forbidden", role=Msg(f"web.role.{role}"))
    return user


def require_viewer(request: Request) -> User:
    """Any logged-in user (or the anonymous admin when no users exist)."""
    return _require(request, "viewer")


def require_editor(request: Request) -> User:
    """An editor or admin: may import data, undo imports and save plans."""
    return _require(request, "editor")


def require_admin(request: Request) -> User:
    """An admin: may manage users."""
    return _require(request, "admin")


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (set as a cookie by the app's middleware)."""
    return str(getattr(request.state, "csrf", ""))


@cache
def environment() -> jinja2.Environment:
    """The Jinja environment over ``web/templates`` (autoescape on everywhere)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        auto_reload=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )

    @jinja2.pass_context
    def month(ctx: Any, value: Any) -> str:
        return formatting.month(value, ctx.get("lang", "ja"))

    @jinja2.pass_context
    def date(ctx: Any, value: Any, time: bool = False) -> str:
        return formatting.date(value, ctx.get("lang", "ja"), time=time)

    @jinja2.pass_context
    def value_label(ctx: Any, value: str, dimension: str) -> str:
        from kpitree.i18n import value_label as label

        lang = ctx.get("lang", "ja")
        request = ctx.get("request")
        project = getattr(request.app.state, "project", None) if request is not None else None
        if dimension == "department" and project is not None:
            # The organisation's own label, else the standard department's name
            # (the page loaded the project before rendering, as the header's name).
            from kpitree.reports.sections import department_label

            return department_label(project.tree, str(value), lang)
        return label(dimension, str(value), lang)

    @jinja2.pass_context
    def translate(ctx: Any, key: str, **params: Any) -> str:
        from kpitree.i18n import t

        return t(key, lang=ctx.get("lang", "ja"), **params)

    def segment(value: Any) -> str:
        """``value`` as one path segment of an address: every reserved
        character quoted (``/``, ``?``, ``#``, ``%``, spaces; Japanese as UTF-8),
        where Jinja's ``urlencode`` keeps ``/``."""
        from urllib.parse import quote

        return quote(str(value), safe="")

    def filter_value(value: Any) -> str:
        """A list of filter values (or one value) as one URL parameter value:
        a value holding a comma is quoted (:mod:`kpitree.filter_text`)."""
        from kpitree.filter_text import filter_text

        values = value if isinstance(value, list | tuple) else [value]
        return filter_text(values)

    env.filters.update(
        segment=segment,
        filter_value=filter_value,
        num=formatting.num,
        yen=formatting.yen,
        pct=formatting.pct,
        month=month,
        date=date,
        t=translate,
        value_label=value_label,
    )
    env.globals.update(funnel_svg=_funnel_svg)
    return env


def _funnel_svg(
    rows: list[dict[str, Any]], title: str, partial: str | None = None, view: str = "period"
) -> Any:
    """The funnel of a view model's rows (``bar``, ``link``, ``gap``) drawn by
    :func:`kpitree.chartstyle.funnel_svg` (safe markup: it escapes every text)."""
    from markupsafe import Markup

    drawn: list[chartstyle.FunnelBar | chartstyle.FunnelLink | None] = []
    for row in rows:
        if row["type"] == "bar":
            drawn.append(
                chartstyle.FunnelBar(
                    row["label"], row["value"], row["display"], row["key"], row.get("href")
                )
            )
        elif row["type"] == "link":
            drawn.append(
                chartstyle.FunnelLink(
                    row["display"], row.get("detail", ""), row["key"], bool(row.get("warn"))
                )
            )
        else:
            drawn.append(None)
    return Markup(chartstyle.funnel_svg(drawn, title=title, partial=partial, view=view))


def render(
    request: Request, template_name: str, context: dict[str, Any] | None = None
) -> HTMLResponse:
    """A page: ``template_name`` rendered with ``context`` plus the common
    variables (see the module docstring)."""
    from fastapi.responses import HTMLResponse

    return HTMLResponse(render_html(request, template_name, context))


def render_html(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    csrf: str | None = None,
) -> str:
    """The HTML of :func:`render`; ``csrf``: the token to write instead of the
    browser's (:mod:`kpitree.web.rendered` writes the browser's in later)."""
    from kpitree.i18n import t

    lang = get_lang(request)
    try:
        user = current_user(request)
    except Exception:  # the error page must render even when the user store fails
        user = None
    common: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "user": user,
        "csrf_token": csrf_token(request) if csrf is None else csrf,
        "t": lambda key, **params: t(key, lang=lang, **params),
        "lang_urls": {code: _with_lang(request, code) for code in ("ja", "en")},
        "project_name": _project_name(request),
        "path": request.url.path,
        # How charts look (kpitree.chartstyle), for the sparklines and charts.js.
        "chart_style": chartstyle.web_style(),
    }
    return environment().get_template(template_name).render({**common, **(context or {})})


def _with_lang(request: Request, lang: str) -> str:
    """This page's path and query with ``lang`` set (relative, so it works behind a proxy)."""
    url = request.url.include_query_params(lang=lang)
    return f"{url.path}?{url.query}"


def _project_name(request: Request) -> str:
    project = getattr(request.app.state, "project", None)
    return str(project.tree.name) if project is not None and project.tree.name else ""
