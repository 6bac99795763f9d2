"""The SLA cases behind a number of the SLA page: ``/sla/cases`` (page) and
``/api/sla/cases`` (its JSON twin); ``?format=csv|xlsx`` downloads every case
of the list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from kpitree.web.contract import errors
from kpitree.web.deps import render
from kpitree.web.downloads import api_format, page_format, table_response
from kpitree.web.routes_api import (
    PageRequest,
    PeriodParam,
    page_query,
    page_request,
    page_source,
)
from kpitree.web.views.sla_cases import (
    STATUSES,
    SlaCasesQuery,
    sla_cases_download,
    sla_cases_params,
    sla_cases_view,
)

__all__ = ["router"]

router = APIRouter(tags=["alerts"])

_GROUP = "Only the cases of this {} (an empty value: the unassigned ones)."
_FILTER = (
    "Only the cases of this {} (several values separated by commas, a value holding a "
    'comma in double quotes; an empty value: the unassigned ones)."'
)


def cases_query(
    pr: PageRequest = Depends(page_request),
    rule: str | None = Query(None, description="The SLA rule (default: the first)."),
    status: str = Query(
        "cases",
        description="Which count: every case, met, breached, open, about to breach, closed "
        "(met or breached: a compliance rate's cases) or responded (the cases response "
        "hours are over).",
        json_schema_extra={"enum": list(STATUSES)},
    ),
    owner: str | None = Query(None, description=_GROUP.format("owner (rep id)")),
    department: str | None = Query(None, description=_FILTER.format("department")),
    team: str | None = Query(None, description=_FILTER.format("team")),
    at: str | None = Query(
        None,
        description="The moment the cases stand at (ISO date-time; the SLA page's `now`, "
        "so the list counts what the page counted). Default: now.",
    ),
    q: str = Query("", max_length=200, description="Show cases with a field containing this."),
    sort: str | None = Query(None, description="Column to sort by (default: the start)."),
    desc: bool = Query(False, description="Sort descending."),
    page: int = Query(1, ge=1, le=1_000_000, description="Page number (50 cases a page)."),
) -> SlaCasesQuery:
    # An empty department or team is the unassigned cases; any other value is
    # a filter as on the other pages (with ``rep``, ``channel``, ...).
    group = {k: "" for k, v in (("department", department), ("team", team)) if v == ""}
    filters = page_query(pr.request, pr.lang, pr.project).filter_map
    return SlaCasesQuery(
        rule,
        status,
        {"owner": owner, **group},
        at,
        q,
        sort or None,
        desc,
        page,
        filters={k: [v for v in vals if v is not None] for k, vals in filters.items()},
    )


def _view(page: PageRequest, period: str | None, rq: SlaCasesQuery) -> dict[str, Any]:
    # Without ``at`` the cases stand at now: kept for the minute, as the SLA page.
    minute = None if rq.at else dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M")
    return page_source(page.request, page.project).cached(
        ("sla_cases", period, rq.key(), page.lang, minute),
        lambda: sla_cases_view(page.project, period, rq, page.lang),
    )


def _download(page: PageRequest, period: str | None, rq: SlaCasesQuery, fmt: str) -> Response:
    columns, rows, name = sla_cases_download(page.project, period, rq, page.lang)
    return table_response(columns, rows, fmt, name)


@router.get("/sla/cases", response_class=HTMLResponse, include_in_schema=False)
def sla_cases_page(
    period: str | None = None,
    format: str | None = Depends(page_format),
    rq: SlaCasesQuery = Depends(cases_query),
    page: PageRequest = Depends(page_request),
) -> Response:
    if format in ("csv", "xlsx"):
        return _download(page, period, rq, format)
    view = _view(page, period, rq)

    def params(**changes: Any) -> dict[str, str]:
        own: dict[str, Any] = {
            "q": rq.search or None,
            "sort": rq.sort,
            "desc": "1" if rq.descending else None,
            "page": str(rq.page) if rq.page > 1 else None,
        }
        own.update(changes)
        group = {k: (v or None) for k, v in rq.group.items()}
        out = sla_cases_params(
            view["period"], view["rule"], rq.status, rq.at, page.lang, group, rq.filters
        )
        out.update({k: str(v) for k, v in own.items() if v is not None})
        return out

    return render(
        page.request,
        "sla_cases.html",
        {"view": view, "active": "sla", "params": params},
    )


@router.get(
    "/api/sla/cases",
    response_model=None,
    summary="The SLA cases behind a count of the SLA page",
    responses=errors(400, 404),
)
def api_sla_cases(
    period: str | None = PeriodParam,
    format: str = Depends(api_format),
    rq: SlaCasesQuery = Depends(cases_query),
    page: PageRequest = Depends(page_request),
) -> Response:
    """The cases of one SLA rule started in the period, as they stand at
    ``at``, of one owner, team or department (or all) and one count (every
    case, met, breached, open, about to breach): 50 a page with their id,
    owner, start, due, response, status and hours; with ``format=csv|xlsx``
    every case of the list."""
    if format in ("csv", "xlsx"):
        return _download(page, period, rq, format)
    return JSONResponse(_view(page, period, rq))
