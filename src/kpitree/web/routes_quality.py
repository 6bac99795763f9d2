"""The data-quality section of the Data page (``/data/quality``) and its JSON
twin (``GET /api/data/quality``): what ``kpitree data check`` finds, as of
today in the project's time zone.

The report is kept in the page cache per data version and day
(:mod:`kpitree.web.cache`): it reads every table, and after an import every
open Data page asks for it at once; it is computed once for all of them."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from kpitree.project import Project
from kpitree.web.deps import get_lang, get_project, render, require_viewer
from kpitree.web.users import User

router = APIRouter()


def quality_report(project: Project, request: Request | None = None) -> dict[str, Any]:
    """``kpitree data check --json`` for today; with ``request``, kept in the
    app's page cache for this data version (a copy: the caller may change it)."""
    if request is None:
        from kpitree.web.views.common import DirectSource, check_quality_now

        return check_quality_now(DirectSource(project))
    return copy.deepcopy(_kept(project, request)[0])


def _kept(project: Project, request: Request) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The kept report and, when it is the previous data's (new data's is
    computed meanwhile), the banner that says so (:mod:`kpitree.web.updating`)."""
    from kpitree.web.routes_api import page_cache
    from kpitree.web.updating import kept_or_previous
    from kpitree.web.views.common import check_quality_now

    source = page_cache(request).source(project)
    return kept_or_previous(request, project, ("quality",), lambda: check_quality_now(source))


def quality_context(project: Project, lang: str, request: Request | None = None) -> dict[str, Any]:
    """The report, with each finding's nodes as (id, label) for the page, and
    ``quality_updating``: the banner when it is the previous data's."""
    updating = None
    if request is None:
        report = quality_report(project)
    else:
        kept, updating = _kept(project, request)
        report = copy.deepcopy(kept)
    for finding in report["findings"]:
        finding["node_links"] = [
            (nid, project.tree.nodes[nid].label.text(lang, nid)) for nid in finding["nodes"]
        ]
    return {"quality": report, "quality_updating": updating}


@router.get("/api/data/quality", tags=["data"])
def api_quality(
    request: Request, project: Project = Depends(get_project), _: User = Depends(require_viewer)
) -> dict[str, Any]:
    """The data-quality check as of today, as ``kpitree data check --json`` prints
    it: findings (rule, code, level, table, count, example ids, metrics, nodes)
    and the freshness of every table."""
    return quality_report(project, request)


@router.get("/data/quality", response_class=HTMLResponse, include_in_schema=False)
def data_quality(
    request: Request,
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> Response:
    context = quality_context(project, get_lang(request), request)
    return render(request, "data_quality.html", context)
