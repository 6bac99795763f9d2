"""The records behind a number: ``/records/{node_id}`` (page) and
``/api/records/{node_id}`` (its JSON twin), with the pages' period and filter
parameters; ``?format=csv|xlsx`` downloads every row of the chosen list."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kpitree.web.contract import errors
from kpitree.web.deps import render
from kpitree.web.downloads import api_format, page_format, table_response
from kpitree.web.routes_api import (
    PageRequest,
    PeriodParam,
    page_cache,
    page_query,
    page_request,
    page_source,
)
from kpitree.web.views import schemas
from kpitree.web.views.records import RecordsQuery, records_download, records_view

if TYPE_CHECKING:
    from kpitree.web.cache import CachedSource

__all__ = ["router"]

router = APIRouter(tags=["pages"])


def records_query(
    role: str | None = Query(
        None, description="Which list: facts, entrants, converted (a rate), or a metric id."
    ),
    q: str = Query("", max_length=200, description="Show rows with a text field containing this."),
    sort: str | None = Query(None, description="Column to sort by (default: the record id)."),
    desc: bool = Query(False, description="Sort descending."),
    page: int = Query(1, ge=1, le=1_000_000, description="Page number (50 rows a page)."),
    view: str | None = Query(
        None,
        description="cohort: a funnel rate's cohort view (the period's entrants and those "
        "of them converted within the window), as the Funnel page shows it.",
        json_schema_extra={"enum": ["cohort"]},
    ),
    as_of: dt.date | None = Query(
        None,
        description="The day the number was measured up to (a report's day; default: "
        "today), so the list is the one behind a number printed earlier.",
    ),
) -> RecordsQuery:
    from kpitree.web.errors import WebError

    if view not in (None, "", "cohort"):
        raise WebError(400, "KT699", "pages.error.bad_records_view", view=view)
    return RecordsQuery(
        role or None, q, sort or None, desc, page, cohort=view == "cohort", as_of=as_of
    )


def _source(page: PageRequest, rq: RecordsQuery) -> CachedSource:
    """The page's status source, measured up to the list's ``as_of`` day."""
    if rq.as_of is None:
        return page_source(page.request, page.project)
    return page_cache(page.request).source(page.project, rq.as_of)


def _view(page: PageRequest, node_id: str, rq: RecordsQuery) -> dict[str, Any]:
    source = _source(page, rq)
    query = page_query(page.request, page.lang, page.project)
    return source.cached(
        ("records", node_id, query, rq.key()), lambda: records_view(source, query, node_id, rq)
    )


def _sla_cases(
    page: PageRequest, node_id: str, rq: RecordsQuery, api: bool, fmt: str | None
) -> Response | None:
    """A node counting SLA cases (``type: sla_*``): its records are the cases
    of ``/sla/cases`` under the same period, filters and as-of day."""
    from kpitree.web.views.common import resolve_period
    from kpitree.web.views.sla_cases import sla_node_url

    node = page.project.tree.nodes.get(node_id)
    if node is None or not node.metric:
        return None
    source = _source(page, rq)
    query = page_query(page.request, page.lang, page.project)
    period = resolve_period(source, query.period)
    url = sla_node_url(
        page.project, node_id, period.key, query.filter_map, rq.as_of, page.lang, api, fmt
    )
    return None if url is None else RedirectResponse(url, status_code=307)


def _download(page: PageRequest, node_id: str, rq: RecordsQuery, fmt: str) -> Response:
    source = _source(page, rq)
    query = page_query(page.request, page.lang, page.project)
    columns, rows, name = records_download(source, query, node_id, rq)
    return table_response(columns, rows, fmt, name)


@router.get("/records/{node_id}", response_class=HTMLResponse, include_in_schema=False)
def records_page(
    node_id: str,
    format: str | None = Depends(page_format),
    rq: RecordsQuery = Depends(records_query),
    page: PageRequest = Depends(page_request),
) -> Response:
    sla = _sla_cases(page, node_id, rq, False, format)
    if sla is not None:
        return sla
    if format in ("csv", "xlsx"):
        return _download(page, node_id, rq, format)
    view = _view(page, node_id, rq)
    request = page.request
    return render(
        request,
        "records.html",
        {
            "view": view,
            "active": "tree",
            "query": page_query(request, page.lang, page.project),
            "rq": rq,
            "self_url": str(request.url.path)
            + ("?" + request.url.query if request.url.query else ""),
        },
    )


@router.get(
    "/api/records/{node_id}",
    response_model=schemas.RecordsPage,
    summary="The records behind a node's number",
    responses=errors(400, 404),
)
def api_records(
    node_id: str,
    period: str | None = PeriodParam,
    format: str = Depends(api_format),
    rq: RecordsQuery = Depends(records_query),
    page: PageRequest = Depends(page_request),
) -> Any:
    """The facts a node's value is computed from in the period, under the
    filters (department, team, rep, channel, ...) and the as-of day: a page of
    50 rows with their identifying fields, owner, team and amounts, the count
    of every list (a rate: entrants and converted); with ``format=csv|xlsx``
    every row of the chosen list. A node counting SLA cases answers with a
    redirect (307) to its cases in ``/api/sla/cases``."""
    sla = _sla_cases(page, node_id, rq, True, None if format == "json" else format)
    if sla is not None:
        return sla
    if format in ("csv", "xlsx"):
        return _download(page, node_id, rq, format)
    return _view(page, node_id, rq)
