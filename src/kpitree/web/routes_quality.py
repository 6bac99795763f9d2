"""The data-quality section of the Data page (``/data/quality``) and its JSON
twin (``GET /api/data/quality``): what ``kpitree data check`` finds, as of
today in the project's time zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from kpitree.project import Project
from kpitree.web.deps import get_lang, get_project, render, require_viewer
from kpitree.web.users import User

router = APIRouter()


def quality_report(project: Project) -> dict[str, Any]:
    """``kpitree data check --json`` for today."""
    from kpitree.compute.quality import check_quality

    catalogue = project.catalogue
    with project.engine() as engine:
        return check_quality(engine, catalogue, project.tree, project.today()).to_json()


def quality_context(project: Project, lang: str) -> dict[str, Any]:
    """The report, with each finding's nodes as (id, label) for the page."""
    report = quality_report(project)
    for finding in report["findings"]:
        finding["node_links"] = [
            (nid, project.tree.nodes[nid].label.text(lang, nid)) for nid in finding["nodes"]
        ]
    return {"quality": report}


@router.get("/api/data/quality", tags=["data"])
def api_quality(
    project: Project = Depends(get_project), _: User = Depends(require_viewer)
) -> dict[str, Any]:
    """The data-quality check as of today, as ``kpitree data check --json`` prints
    it: findings (rule, code, level, table, count, example ids, metrics, nodes)
    and the freshness of every table."""
    return quality_report(project)


@router.get("/data/quality", response_class=HTMLResponse, include_in_schema=False)
def data_quality(
    request: Request,
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> Response:
    return render(request, "data_quality.html", quality_context(project, get_lang(request)))
