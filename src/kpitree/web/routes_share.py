"""The wall screen and its shared read-only links.

* ``/tv`` and ``/tv/departments/{dept}``: the tree, or one department's KPIs,
  in large type with no controls, refreshed by the live updates (viewers; the
  page's filters and period as on the other pages).
* ``/s/{token}``: the same screen for a shared link (:mod:`kpitree.web.shares`),
  without an account. The link fixes the view, its filters, period and language:
  the address takes no parameter. It reaches nothing else: no other page, API,
  download or event stream (``/s/{token}/events`` streams only the data version,
  and ends when the link is revoked or expires).
* ``/api/shares``: admins list, make and revoke links; the Settings page's forms.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from kpitree.errors import UserError
from kpitree.web.auth import user_store
from kpitree.web.contract import errors
from kpitree.web.deps import (
    get_lang,
    get_project,
    load_project,
    render,
    require_admin,
    require_viewer,
)
from kpitree.web.errors import WebError
from kpitree.web.shares import MAX_DAYS, Share, ShareStore
from kpitree.web.users import User

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = ["router", "share_store"]

router = APIRouter()
# How often an open shared stream checks that its link still works (seconds).
RECHECK_SECONDS = 2.0
_NO_STORE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


def share_store(request: Request) -> ShareStore:
    state = request.app.state
    found = getattr(state, "shares", None)
    if found is None:
        found = state.shares = ShareStore(user_store(request))
    return found


def _view(
    request: Request,
    project: Project,
    kind: str,
    dept: str | None,
    params: Mapping[str, Any],
    lang: str,
) -> dict[str, Any]:
    from kpitree.web.routes_api import page_source
    from kpitree.web.views import department_view, tree_view
    from kpitree.web.views.common import PageQuery

    source = page_source(request, project)
    custom = tuple(source.cached(("custom_dimensions",), project.custom_dimensions))
    query = PageQuery.from_params(params, lang, custom)
    if kind == "department":
        name = dept or ""
        return source.cached(
            ("view", f"department:{name}", query),
            lambda: department_view(source, query, name),
        )
    return source.cached(("view", "tree", query), lambda: tree_view(source, query))


def _kiosk(
    request: Request,
    view: dict[str, Any],
    kind: str,
    *,
    self_url: str,
    live_url: str,
    shared: bool,
    lang: str | None = None,
) -> Response:
    context = {
        "view": view,
        "kind": kind,
        "self_url": self_url,
        "live_url": live_url,
        "shared": shared,
    }
    if lang is not None:
        context["lang"] = lang
    response = render(request, "kiosk.html", context)
    if shared:
        response.headers.update(_NO_STORE)
    return response


def _self(request: Request) -> str:
    return request.url.path + ("?" + request.url.query if request.url.query else "")


@router.get("/tv", response_class=HTMLResponse, include_in_schema=False)
def tv_tree(
    request: Request,
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> Response:
    view = _view(request, project, "tree", None, request.query_params, lang)
    return _kiosk(
        request, view, "tree", self_url=_self(request), live_url="/api/events", shared=False
    )


@router.get("/tv/departments/{dept:path}", response_class=HTMLResponse, include_in_schema=False)
def tv_department(
    request: Request,
    dept: str,
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> Response:
    view = _view(request, project, "department", dept, request.query_params, lang)
    return _kiosk(
        request, view, "department", self_url=_self(request), live_url="/api/events", shared=False
    )


def _shared(request: Request, token: str) -> Share:
    share = share_store(request).resolve(token)
    if share is None:
        # One answer for a forged, unknown, revoked or expired link.
        raise WebError(404, "KT685", "share.error.invalid")
    return share


@router.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
def shared_screen(request: Request, token: str) -> Response:
    # The link first: without a working one nothing is loaded, not even the
    # definition (whose errors would otherwise reach a browser with no account).
    share = _shared(request, token)
    project = load_project(request)
    view = _view(request, project, share.view, share.department, share.params, share.lang)
    base = f"/s/{token}"
    # In the link's language whatever the browser or the address asks.
    return _kiosk(
        request, view, share.view, self_url=base, live_url=base + "/events", shared=True,
        lang=share.lang,
    )  # fmt: skip


@router.get("/s/{token}/events", include_in_schema=False)
async def shared_events(request: Request, token: str) -> Any:
    """The data version for one shared screen; ends when its link stops working."""
    from sse_starlette import EventSourceResponse

    from kpitree.web.live import PING_SECONDS, Broadcaster

    _shared(request, token)
    store = share_store(request)
    broadcaster: Broadcaster = request.app.state.live

    async def stream() -> AsyncIterator[dict[str, str]]:
        queue = broadcaster.subscribe()
        try:
            yield {"event": "hello", "data": json.dumps({"version": broadcaster.version})}
            while True:
                try:
                    version = await asyncio.wait_for(queue.get(), RECHECK_SECONDS)
                except TimeoutError:
                    version = None
                if await asyncio.to_thread(store.resolve, token) is None:
                    return
                if version is not None:
                    yield {"event": "data-changed", "data": json.dumps({"version": version})}
        finally:
            broadcaster.unsubscribe(queue)

    return EventSourceResponse(stream(), ping=int(PING_SECONDS), headers=_NO_STORE)


# -- managing links (admins) ------------------------------------------------------------


class NewShare(BaseModel):
    view: str = Field("tree", description="tree or department.", pattern="^(tree|department)$")
    department: str | None = Field(None, description="The department (view department).")
    period: str | None = Field(None, description="A fixed period (default: the current one).")
    filters: dict[str, str] = Field(
        default_factory=dict, description="Filters of the view: {department, team, channel...}."
    )
    lang: str = Field("ja", pattern="^(ja|en)$")
    label: str = Field("", max_length=200, description="What the link is for (shown to admins).")
    days: float = Field(30, gt=0, le=MAX_DAYS, description="Days until the link stops working.")


def _make(request: Request, project: Project, body: NewShare, user: User) -> tuple[Share, str]:
    from kpitree.web.views.common import FILTER_DIMENSIONS

    if body.view == "department" and not body.department:
        raise UserError.of("KT687", "share.error.bad_view", None, view="department")
    allowed = set(FILTER_DIMENSIONS) | set(project.custom_dimensions())
    params = {k: v for k, v in body.filters.items() if k in allowed and v.strip()}
    unknown = sorted(set(body.filters) - allowed)
    if unknown:
        raise UserError.of("KT689", "share.error.bad_filter", None, filters=", ".join(unknown))
    if body.period:
        params["period"] = body.period
    department = body.department if body.view == "department" else None
    # What the link will show must exist now (a department, a period that reads).
    _view(request, project, body.view, department, params, body.lang)
    return share_store(request).create(
        body.view, department, params, body.lang, body.label, body.days, user.name or "admin"
    )


@router.get("/api/shares", tags=["settings"])
def api_shares(request: Request, _: User = Depends(require_admin)) -> dict[str, Any]:
    """Every shared link (admins): view, filters, expiry, who made it, state
    (``active``, ``expired``, ``revoked``). Addresses are shown only when made."""
    return {"shares": [s.to_json() for s in share_store(request).list()]}


@router.post("/api/shares", tags=["settings"], status_code=201, responses=errors(400, 404))
def api_add_share(
    request: Request,
    body: NewShare,
    project: Project = Depends(get_project),
    user: User = Depends(require_admin),
) -> Response:
    """Make a read-only link to one view with its filters (admins); the answer
    holds its address (``url``), shown this once."""
    share, token = _make(request, project, body, user)
    return JSONResponse({"share": share.to_json(), "url": f"/s/{token}"}, status_code=201)


@router.delete("/api/shares/{share_id}", tags=["settings"], responses=errors(404))
def api_revoke_share(
    request: Request, share_id: str, user: User = Depends(require_admin)
) -> dict[str, Any]:
    """Revoke a link (admins): it stops working at once, open screens included."""
    try:
        share = share_store(request).revoke(share_id, user.name or "admin")
    except UserError:
        raise WebError(404, "KT686", "share.error.unknown", id=share_id[:40]) from None
    return {"share": share.to_json()}


@router.post("/settings/shares", response_class=HTMLResponse, include_in_schema=False)
def settings_add_share(
    request: Request,
    view: Annotated[str, Form()] = "tree",
    department: Annotated[str, Form()] = "",
    period: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    days: Annotated[float, Form()] = 30,
    lang: Annotated[str, Form()] = "",
    project: Project = Depends(get_project),
    user: User = Depends(require_admin),
) -> Response:
    from kpitree.web.routes_settings import settings_page_response

    try:
        body = NewShare(
            view=view,
            department=department or None,
            period=period or None,
            filters={"department": department} if view == "tree" and department else {},
            lang=lang if lang in ("ja", "en") else get_lang(request),
            label=label,
            days=days,
        )
        _, token = _make(request, project, body, user)
    except UserError as exc:
        text = " ".join(d.message(get_lang(request)) for d in exc.diagnostics)
        return settings_page_response(request, project, user, error=text, status=400)
    except ValueError:
        from kpitree.i18n import t

        text = t("share.error.bad_expiry", lang=get_lang(request), maximum=MAX_DAYS)
        return settings_page_response(request, project, user, error=text, status=400)
    return settings_page_response(request, project, user, new_share=f"/s/{token}")


@router.post(
    "/settings/shares/{share_id}/revoke", response_class=HTMLResponse, include_in_schema=False
)
def settings_revoke_share(
    request: Request, share_id: str, user: User = Depends(require_admin)
) -> Response:
    try:
        share_store(request).revoke(share_id, user.name or "admin")
    except UserError:
        raise WebError(404, "KT686", "share.error.unknown", id=share_id[:40]) from None
    return RedirectResponse("/settings#kt-shares", status_code=303)
