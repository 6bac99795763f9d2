"""JSON twins of the dashboard pages, under ``/api``: each returns the view
model its HTML page renders (:mod:`kpitree.web.views`), takes the same URL
parameters (``period``, the filters ``department``, ``team``, ``rep``,
``channel``... , ``by``, ``drill``, ``lang``) and, with ``?format=csv|xlsx``
(and ``&table=<name>``), downloads one of the page's tables instead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from kpitree.web.contract import errors
from kpitree.web.deps import get_project, request_lang, require_editor, require_viewer
from kpitree.web.downloads import api_format
from kpitree.web.views import schemas

if TYPE_CHECKING:
    from kpitree.project import Project
    from kpitree.web.cache import CachedSource, PageCache
    from kpitree.web.views.common import PageQuery

__all__ = [
    "PageRequest",
    "page_cache",
    "page_request",
    "page_view",
    "plan_page_view",
    "plan_sets",
    "router",
    "table_download",
]

router = APIRouter(tags=["pages"])
_cache_lock = threading.Lock()

PeriodParam = Query(None, description="2026-10, 2026-Q3, FY2026, this-month ... (default: now).")
TableParam = Query(None, description="Which table to download (default: the first).")


def page_cache(request: Request) -> PageCache:
    """The app's page cache (made on first use)."""
    from kpitree.web.cache import PageCache

    state = request.app.state
    found = getattr(state, "page_cache", None)
    if found is None:
        with _cache_lock:
            found = getattr(state, "page_cache", None)
            if found is None:
                found = state.page_cache = PageCache()
    return found


def page_source(request: Request, project: Project) -> CachedSource:
    """The request's status source: ``?targets=current`` compares every period
    with today's targets instead of those valid then (``KT233`` otherwise)."""
    targets = request.query_params.get("targets") or "then"
    if targets != "then":
        from kpitree.review.revisions import check_targets_choice

        check_targets_choice(targets)
    return page_cache(request).source(project, targets=targets)


def page_query(request: Request, lang: str, project: Project | None = None) -> PageQuery:
    """The page's query; with ``project``, its custom dimensions may filter too."""
    from kpitree.web.views.common import PageQuery

    custom: tuple[str, ...] = ()
    if project is not None:
        source = page_source(request, project)
        # Only names the address may filter by: the previous data's do while new data
        # computes, for a page that shows the previous data (a download waits).
        from kpitree.web.updating import accepts_previous

        key, read = ("custom_dimensions",), project.custom_dimensions
        if accepts_previous(request):
            custom = tuple(source.current_or_previous(key, read)[0])
        else:
            custom = tuple(source.cached(key, read))
    return PageQuery.from_params(request.query_params, lang, custom)


def page_view(
    request: Request,
    project: Project,
    lang: str,
    page: str,
    build: Callable[[CachedSource, PageQuery], dict[str, Any]],
) -> dict[str, Any]:
    """The view model of ``page`` for this request's query (cached). While new
    data's is computed, a page gets the previous data version's, marked as
    updating (:mod:`kpitree.web.updating`)."""
    from kpitree.web.updating import accepts_previous, mark

    source = page_source(request, project)
    query = page_query(request, lang, project)
    key = ("view", page, query)
    if not accepts_previous(request):
        return source.cached(key, lambda: build(source, query))
    view, previous = source.current_or_previous(key, lambda: build(source, query))
    if previous is not None:
        mark(request, previous, project.tree.timezone)
    return view


@dataclass(frozen=True)
class PageRequest:
    """What every page and JSON twin reads: the request, its project and its
    language (a viewer's right to see pages is checked on the way in)."""

    request: Request
    project: Project
    lang: str

    def view(
        self, page: str, build: Callable[[CachedSource, PageQuery], dict[str, Any]]
    ) -> dict[str, Any]:
        """The view model of ``page`` for this request (cached)."""
        return page_view(self.request, self.project, self.lang, page, build)


def no_data(request: Request, project: Project) -> bool:
    """Whether the warehouse holds no fact yet: the page then says how to bring
    data in (the Data page, ``kpitree import``, ``kpitree sync``, ``kpitree demo``)."""
    from kpitree.web.views.common import last_data_day

    return last_data_day(page_source(request, project)) is None


async def page_request(
    request: Request,
    project: Project = Depends(get_project),
    lang: str = Depends(request_lang),
    _: Any = Depends(require_viewer),
) -> PageRequest:
    """The :class:`PageRequest` dependency of the pages and their twins
    (``async``: it only gathers what the others found, on the event loop)."""
    return PageRequest(request, project, lang)


def table_download(view: dict[str, Any], fmt: str, name: str | None, page: str) -> Response:
    """One of the view's tables as CSV or XLSX."""
    from kpitree.web.errors import WebError

    tables: dict[str, Any] = view.get("tables", {})
    chosen = name or next(iter(tables), None)
    if chosen not in tables:
        raise WebError(
            404, "KT694", "pages.error.unknown_table", table=str(chosen), tables=", ".join(tables)
        )
    found = tables[chosen]
    columns = [c["label"] for c in found["columns"]]
    shown = view.get("period")
    period = (shown.get("key") if isinstance(shown, dict) else shown) or str(
        view.get("fiscal_year", "")
    )
    filename = "-".join(p for p in ("kpitree", page, chosen, period) if p)
    from kpitree.web.downloads import table_response

    return table_response(columns, found["rows"], fmt, filename)


def _answer(request: Request, view: dict[str, Any], fmt: str, table: str | None, page: str) -> Any:
    if fmt in ("csv", "xlsx"):
        return table_download(view, fmt, table, page)
    from kpitree.web.rendered import kept_model_json

    return kept_model_json(request, view, view)


@router.get(
    "/api/tree", response_model=schemas.TreePage, summary="The Tree page", responses=errors(404)
)
def api_tree(
    period: str | None = PeriodParam,
    format: str = Depends(api_format),
    table: str | None = TableParam,
    page: PageRequest = Depends(page_request),
) -> Any:
    """Every node with actual, target, achievement, expected-to-date, pace,
    forecast, status and its trend over the last 12 periods."""
    from kpitree.web.views import tree_view

    view = page.view("tree", tree_view)
    return _answer(page.request, view, format, table, "tree")


@router.get(
    "/api/nodes/{node_id}",
    response_model=schemas.NodePage,
    summary="A Node page",
    responses=errors(404),
)
def api_node(
    node_id: str,
    period: str | None = PeriodParam,
    by: str | None = Query(
        None, description="Breakdown: department (default), team, rep, channel..."
    ),
    drill: str | None = Query(
        None, description="Drill-down path: field_sales or field_sales/east."
    ),
    format: str = Depends(api_format),
    table: str | None = TableParam,
    page: PageRequest = Depends(page_request),
) -> Any:
    """One node over time (actual, target, last year), by segment with
    drill-down, its formula and drivers with their contributions to the gap,
    reconciliation notes and reference range."""
    from kpitree.web.views import node_view

    view = page.view(f"node:{node_id}", lambda s, q: node_view(s, q, node_id))
    return _answer(page.request, view, format, table, f"node-{node_id}")


@router.get(
    "/api/funnel",
    response_model=schemas.FunnelPage,
    summary="The Funnel page",
    responses=errors(404),
)
def api_funnel(
    period: str | None = PeriodParam,
    format: str = Depends(api_format),
    table: str | None = TableParam,
    page: PageRequest = Depends(page_request),
) -> Any:
    """Stage counts and conversion rates (period and cohort view) against
    targets and reference ranges, with the bottleneck."""
    from kpitree.web.views import funnel_view

    view = page.view("funnel", funnel_view)
    return _answer(page.request, view, format, table, "funnel")


@router.get(
    "/api/departments",
    response_model=schemas.DepartmentsPage,
    summary="Departments",
    responses=errors(404),
)
def api_departments(
    period: str | None = PeriodParam,
    format: str = Depends(api_format),
    table: str | None = TableParam,
    page: PageRequest = Depends(page_request),
) -> Any:
    """Every department's own KPIs and how each feeds the KGI."""
    from kpitree.web.views import departments_view

    view = page.view("departments", departments_view)
    return _answer(page.request, view, format, table, "departments")


@router.get(
    "/api/departments/{dept:path}",
    response_model=schemas.DepartmentPage,
    summary="One department",
    responses=errors(404),
)
def api_department(
    dept: str,
    period: str | None = PeriodParam,
    format: str = Depends(api_format),
    table: str | None = TableParam,
    page: PageRequest = Depends(page_request),
) -> Any:
    """One department's KPIs, each by team."""
    from kpitree.web.views import department_view

    view = page.view(f"department:{dept}", lambda s, q: department_view(s, q, dept))
    return _answer(page.request, view, format, table, f"department-{dept}")


def plan_sets(request: Request, project: Project) -> dict[str, float]:
    """Changed plan values from the URL: ``set=node=value`` (repeatable, as
    ``kpitree plan --set``) and ``s.<node>=value`` (the Plan page's form; a value
    equal to the saved plan is no change)."""
    from kpitree.web.views.plan import parse_sets

    params = request.query_params
    items = list(params.getlist("set"))
    items += [f"{k[2:]}={v}" for k, v in params.multi_items() if k.startswith("s.") and v.strip()]
    sets = parse_sets(items, project)
    fiscal_year = _fiscal_year(request)
    project.plan(fiscal_year=fiscal_year, overrides=sets)  # names unknown nodes (KT304)
    base = project.plan(fiscal_year=fiscal_year).values()
    return {
        k: v
        for k, v in sets.items()
        if k not in base or abs(v - base[k]) > 1e-12 * max(1.0, abs(base[k]))
    }


def plan_page_view(request: Request, project: Project, lang: str) -> dict[str, Any]:
    """The Plan page's view model for this request's changed values (cached:
    planning every node, team and rep takes a while on a large organisation)."""
    from kpitree.web.views import plan_view

    params = request.query_params
    from_actuals = _from_actuals(request)
    asked = (
        tuple(params.getlist("set")),
        tuple((k, v) for k, v in params.multi_items() if k.startswith("s.")),
        params.get("fy", ""),
        from_actuals,
    )
    source = page_source(request, project)

    def build() -> dict[str, Any]:
        sets = plan_sets(request, project)
        actuals = source if from_actuals else None
        return plan_view(project, page_query(request, lang), sets, _fiscal_year(request), actuals)

    if not from_actuals:  # the plan alone reads no data: new data leaves it as it is
        return source.of_definition(("plan", asked, lang), build)
    return source.cached(("plan", asked, lang), build)


def _from_actuals(request: Request) -> bool:
    """``?from=actuals``: re-plan the rest of the year from the data."""
    from kpitree.errors import UserError

    value = request.query_params.get("from", "").strip()
    if value not in ("", "plan", "actuals"):
        raise UserError.of("KT698", "pages.error.bad_plan_from", None, value=value)
    return value == "actuals"


def _fiscal_year(request: Request) -> int | None:
    from kpitree.errors import UserError

    raw = request.query_params.get("fy", "").strip().upper().removeprefix("FY")
    if not raw:
        return None
    if not raw.isdigit() or not 1900 < int(raw) < 3000:
        raise UserError.of("KT695", "pages.error.bad_fiscal_year", None, value=raw)
    return int(raw)


@router.get(
    "/api/plan", response_model=schemas.PlanPage, summary="The Plan page", responses=errors(404)
)
def api_plan(
    set: list[str] = Query([], description="node=value (repeatable), as kpitree plan --set."),
    fy: str | None = Query(None, description="Fiscal year to plan (default: the file's)."),
    from_: str | None = Query(
        None,
        alias="from",
        description="actuals: re-plan the rest of the year from the data (past months "
        "take their actuals), as kpitree plan --from-actuals; plan (default): the plan.",
    ),
    format: str = Depends(api_format),
    table: str | None = TableParam,
    page: PageRequest = Depends(page_request),
) -> Any:
    """The reverse calculation with the changed values applied: every node for
    the year and each month, next to the saved plan."""
    view = plan_page_view(page.request, page.project, page.lang)
    return _answer(page.request, view, format, table, "plan")


@router.post(
    "/api/plan/scenarios",
    response_model=schemas.ScenarioSaved,
    status_code=201,
    summary="Save a scenario",
)
def api_save_scenario(
    body: schemas.ScenarioToSave,
    project: Project = Depends(get_project),
    user: Any = Depends(require_editor),
) -> Any:
    """Write the changed values as scenario ``name`` into kpitree.yaml
    (replacing a scenario of that name); ``kpitree plan --scenario <name>``
    plans it. The saved definition is kept as a revision by this user."""
    save(project, body.name, body.label, body.set)
    from kpitree.definition.draft import DEFINITION_FILE
    from kpitree.review.revisions import record_revision
    from kpitree.review.service import default_author

    author = default_author(project.path) if user.anonymous else user.name
    record_revision(project.path, project.path / DEFINITION_FILE, author, f"scenario: {body.name}")
    return JSONResponse(
        {"saved": body.name, "scenarios": project_scenarios(project)}, status_code=201
    )


def save(project: Project, name: str, label: str | None, values: dict[str, float]) -> None:
    """Check the values and save them as a scenario (editors only)."""
    from kpitree.errors import UserError

    if not values:
        raise UserError.of("KT696", "pages.error.no_changes", None)
    project.save_scenario(name, values, label=label)


def project_scenarios(project: Project) -> list[str]:
    """Scenario ids of the definition as it is now on disk."""
    from kpitree.project import Project as Loaded

    return list(Loaded.load(project.path).tree.scenarios)


@router.get("/api/pages/cache", response_model=schemas.CacheState, summary="Page cache")
def api_cache(
    request: Request,
    _: Any = Depends(require_viewer),
) -> Any:
    """How the page cache stands: entries, hits and misses, and whether the
    background warm-up (after startup or new data) is still running."""
    cache = page_cache(request)
    warmer = getattr(request.app.state, "page_warmer", None)
    state = warmer.state() if warmer is not None else {"warming": False, "rounds": 0}
    return {
        "entries": len(cache),
        "hits": cache.hits,
        "misses": cache.misses,
        "warming": state["warming"],
        "warm_rounds": state["rounds"],
        "last_warm_seconds": state.get("last_seconds"),
    }
