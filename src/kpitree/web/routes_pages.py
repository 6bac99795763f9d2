"""The dashboard pages: Tree (``/``), Node (``/nodes/{id}``), Funnel,
Departments and Plan. Each renders the same view model as its JSON twin in
:mod:`kpitree.web.routes_api`; ``?format=csv|xlsx`` downloads a table.

The router's lifespan starts the page-cache :class:`~kpitree.web.warmer.Warmer`
(the common pages computed after startup and after every data change)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kpitree.web.deps import get_lang, get_project, require_editor
from kpitree.web.downloads import page_format
from kpitree.web.routes_api import (
    PageRequest,
    page_query,
    page_request,
    plan_page_view,
    save,
    table_download,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kpitree.project import Project

__all__ = ["router"]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from kpitree.web.cache import PageCache
    from kpitree.web.warmer import Warmer

    if getattr(app.state, "page_cache", None) is None:
        app.state.page_cache = PageCache()

    def load() -> Project | None:
        from kpitree.project import Project

        project = getattr(app.state, "project", None)
        if project is None:
            try:
                project = Project.load(app.state.project_path)
            except Exception:  # a broken definition shows on the pages
                return None
        return project

    # A second's grace: an app that is started and stopped at once (a test)
    # does no work; a server's first page is a second away anyway.
    warmer = Warmer(load, app.state.page_cache, start_delay=1.0)
    app.state.page_warmer = warmer
    # A page of new data stored: open pages showing the previous data fetch themselves again.
    loop = asyncio.get_running_loop()
    live = app.state.live
    app.state.page_cache.on_ready = lambda: loop.call_soon_threadsafe(live.pages_ready)
    warmer.start()
    try:
        yield
    finally:
        app.state.page_cache.on_ready = None
        warmer.stop()
        app.state.page_cache.close()


router = APIRouter(lifespan=_lifespan, include_in_schema=False)


def _page(
    page: PageRequest,
    template: str,
    view: dict[str, Any],
    active: str,
    fmt: str | None,
    table: str | None,
    download_name: str,
    kept: dict[str, Any] | None = None,
    extra: Hashable = (),
) -> Response:
    """The page (or one of its tables as a download). ``kept``: the view model
    as the page cache holds it, when ``view`` adds what changes without new
    data (``extra`` says what it adds); the HTML is rendered once per kept view
    model, request key, notes and ``extra`` (:mod:`kpitree.web.rendered`)."""
    if fmt in ("csv", "xlsx"):
        return table_download(view, fmt, table, download_name)
    from kpitree.web.rendered import kept_page
    from kpitree.web.routes_notes import page_notes
    from kpitree.web.updating import banner

    request = page.request
    lang = view.get("query", {}).get("lang", "ja")
    query = page_query(request, lang, page.project)
    shown = view.get("node")
    node = shown.get("id") if isinstance(shown, dict) else view.get("kgi")
    notes = page_notes(request, page.project, view, node)
    # The previous data version's figures while new data's compute: said on the page.
    updating = banner(request, lang)
    context = {
        "view": view,
        "active": active,
        "query": query,
        "notes": notes,
        "updating": updating,
        "self_url": str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
    }
    shown = None if updating is None else (updating["at"], updating["iso"])
    key = (active, lang, repr(notes), extra, shown)
    return kept_page(request, view if kept is None else kept, key, template, context)


@router.get("/", response_class=HTMLResponse)
def tree_page(
    format: str | None = Depends(page_format),
    table: str | None = None,
    page: PageRequest = Depends(page_request),
) -> Response:
    from kpitree.web.views import tree_view

    view = page.view("tree", tree_view)
    return _page(page, "tree.html", view, "tree", format, table, "tree")


@router.get("/nodes/{node_id}", response_class=HTMLResponse)
def node_page(
    node_id: str,
    format: str | None = Depends(page_format),
    table: str | None = None,
    page: PageRequest = Depends(page_request),
) -> Response:
    from kpitree.web.views import node_view

    kept = page.view(f"node:{node_id}", lambda s, q: node_view(s, q, node_id))
    if format is not None:
        return _page(page, "node.html", kept, "tree", format, table, f"node-{node_id}")
    # The node's open actions, as they stand now (never kept with the view model).
    from kpitree.web.routes_actions import node_actions

    actions = node_actions(page.project, node_id, page.lang)
    view = {**kept, "actions": actions}
    return _page(page, "node.html", view, "tree", None, None, "", kept, repr(actions))


@router.get("/funnel", response_class=HTMLResponse)
def funnel_page(
    format: str | None = Depends(page_format),
    table: str | None = None,
    page: PageRequest = Depends(page_request),
) -> Response:
    from kpitree.web.views import funnel_view

    view = page.view("funnel", funnel_view)
    return _page(page, "funnel.html", view, "funnel", format, table, "funnel")


@router.get("/departments", response_class=HTMLResponse)
def departments_page(
    format: str | None = Depends(page_format),
    table: str | None = None,
    page: PageRequest = Depends(page_request),
) -> Response:
    from kpitree.web.views import departments_view

    view = page.view("departments", departments_view)
    return _page(page, "departments.html", view, "departments", format, table, "departments")


@router.get("/departments/{dept:path}", response_class=HTMLResponse)
def department_page(
    dept: str,
    format: str | None = Depends(page_format),
    table: str | None = None,
    page: PageRequest = Depends(page_request),
) -> Response:
    from kpitree.web.views import department_view

    view = page.view(f"department:{dept}", lambda s, q: department_view(s, q, dept))
    return _page(page, "departments.html", view, "departments", format, table, f"department-{dept}")


def _revision_id(value: str | None) -> int | None:
    """A revision number from the Plan page's diff form (blank: none)."""
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        from kpitree.errors import UserError

        raise UserError.of("KT230", "revisions.unknown", None, id=value) from None


@router.get("/plan", response_class=HTMLResponse)
def plan_page(
    format: str | None = Depends(page_format),
    table: str | None = None,
    page: PageRequest = Depends(page_request),
) -> Response:
    from kpitree.web.routes_revisions import plan_history

    params = page.request.query_params
    saved = params.get("saved")
    kept = plan_page_view(page.request, page.project, page.lang)
    view = {**kept, "saved": saved}
    diff, against = (_revision_id(params.get(k)) for k in ("diff", "against"))
    view["history"] = plan_history(page.project, page.lang, diff, against)
    extra = (saved, repr(view["history"]))
    return _page(page, "plan.html", view, "plan", format, table, "plan", kept, extra)


@router.post("/plan/scenarios")
async def plan_save(
    request: Request,
    name: str = Form(...),
    label: str = Form(""),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: Any = Depends(require_editor),
) -> Response:
    """The Plan page's form: save the changed values (``s.<node>`` fields that
    differ from the saved plan) as a scenario, then show the plan again."""
    from kpitree.web.views.plan import parse_sets

    form = await request.form()
    items = [f"{k[2:]}={v}" for k, v in form.multi_items() if k.startswith("s.") and str(v).strip()]
    sets = parse_sets(items, project)
    base = project.plan().values()
    changed = {
        k: v
        for k, v in sets.items()
        if k not in base or abs(v - base[k]) > 1e-12 * max(1.0, abs(base[k]))
    }
    save(project, name, label, changed)
    target = f"/plan?lang={lang}&saved={name.strip()}"
    return RedirectResponse(target, status_code=303)
