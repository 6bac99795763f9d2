"""The links section of the Data page (``/data/links``) and its JSON twin
(``GET /api/data/links``): what ``kpitree data links`` shows, how the sources
are linked into one funnel (match rate per relation, source and method) and
the records left unmatched or refused as ambiguous, with what to add to the
export.

The report is kept in the page cache per data version (:mod:`kpitree.web.cache`),
computed once however many pages ask for it after an import."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from kpitree.project import Project
from kpitree.web.deps import get_lang, get_project, render, require_viewer
from kpitree.web.users import User

router = APIRouter()

DEFAULT_LIMIT = 20


def links_report(
    project: Project, limit: int = DEFAULT_LIMIT, request: Request | None = None
) -> dict[str, Any]:
    """``kpitree data links --json``. A warehouse written before links existed
    reports none here (reading never writes: ``kpitree data links`` builds them).
    With ``request``, kept in the app's page cache for this data version (a
    copy: the caller may change it)."""
    if request is None:
        return _compute(project, limit)
    return copy.deepcopy(_kept(project, limit, request)[0])


def _compute(project: Project, limit: int) -> dict[str, Any]:
    from kpitree.compute.links_report import links_report as report

    with project.engine() as engine:
        return report(engine, limit).to_json()


def _kept(
    project: Project, limit: int, request: Request
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The kept report and, when it is the previous data's (new data's is
    computed meanwhile), the banner that says so (:mod:`kpitree.web.updating`)."""
    from kpitree.web.updating import kept_or_previous

    return kept_or_previous(request, project, ("links", limit), lambda: _compute(project, limit))


def links_context(
    project: Project, lang: str, limit: int = DEFAULT_LIMIT, request: Request | None = None
) -> dict[str, Any]:
    """The report, each ambiguous record with its sentence for the page, and
    ``links_updating``: the banner when it is the previous data's."""
    from kpitree.compute.links_report import method_label, records_shown
    from kpitree.i18n import t

    updating = None
    if request is None:
        report = links_report(project, limit)
    else:
        kept, updating = _kept(project, limit, request)
        report = copy.deepcopy(kept)
    for rel in report["relations"]:
        rel["unmatched_shown"] = records_shown(rel["unmatched"])
        for pair in rel["pairs"]:
            for m in pair["by_method"]:
                m["label"] = method_label(m["method"], lang=lang)
        for a in rel["ambiguous"]:
            a["sentence"] = t(
                "links.ambiguous",
                lang=lang,
                id=a["id"],
                method=method_label(a["method"], lang=lang),
                key=a["key"],
                candidates=a["candidates"],
                examples=", ".join(a["examples"]),
            )
    return {"links": report, "links_updating": updating}


@router.get("/api/data/links", tags=["data"])
def api_links(
    request: Request,
    limit: int = Query(DEFAULT_LIMIT, ge=0, le=1000, description="Records listed per relation."),
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> dict[str, Any]:
    """How leads, deals and accounts from different sources are linked, as
    ``kpitree data links --json`` prints it: per relation and source the
    records, linked, ambiguous and unmatched, by target source and method, and
    the first unmatched and ambiguous records."""
    return links_report(project, limit, request)


@router.get("/data/links", response_class=HTMLResponse, include_in_schema=False)
def data_links(
    request: Request,
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> Response:
    context = links_context(project, get_lang(request), request=request)
    return render(request, "data_links.html", context)
