"""Scorecards (評価) on the web: the managers' page ``/review/scorecards``,
its JSON twin ``/api/review/scorecards`` and their CSV/XLSX downloads.

Every one of them goes through :func:`_cards`: the cards are computed once per
period, level and language (cached like the pages) and then cut to what the
signed-in user may read (:mod:`kpitree.review.scorecard_access`): admins all,
others what ``scorecards.access`` gives their user name. Asking for a card
outside that (``?rep=…``) is refused with 403, never answered empty."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, render, require_viewer
from kpitree.web.downloads import api_format, page_format, table_response
from kpitree.web.errors import WebError
from kpitree.web.users import User

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = ["router"]

router = APIRouter()

_SEGMENT = ("department", "team", "rep")


def _cards(
    request: Request,
    project: Project,
    user: User,
    lang: str,
    period: str,
    by: str,
    asked: dict[str, str | None],
) -> dict[str, Any]:
    """The cards ``user`` may read, of those ``asked`` for (403 for any other)."""
    from kpitree.review.scorecard import scorecards
    from kpitree.review.scorecard_access import card_scope, visible_cards
    from kpitree.web.routes_api import page_source

    scope = card_scope(project.tree.scorecards, user.name, user.can("admin"))
    if scope.empty:
        raise WebError(403, "KT249", "scorecard.web.no_access", user=user.name)
    source = page_source(request, project)
    found = source.cached(
        ("scorecards", period, by, lang),
        lambda: scorecards(project, period, by, lang, source.today()),
    )
    wanted = {k: v for k, v in asked.items() if v}
    chosen = [c for c in found["cards"] if all(c["segment"].get(k) == v for k, v in wanted.items())]
    shown = visible_cards({**found, "cards": chosen}, scope)
    if wanted and len(shown["cards"]) < len(chosen):
        raise WebError(403, "KT248", "scorecard.web.not_yours")
    return shown


def _download(found: dict[str, Any], fmt: str, lang: str) -> Response:
    from kpitree.i18n import t
    from kpitree.review.scorecard import TABLE_COLUMNS, table_rows

    columns = [t(f"scorecard.col.{key}", lang=lang) for key in TABLE_COLUMNS]
    name = f"scorecards-{found['by']}-{found['period']}"
    return table_response(columns, table_rows(found), fmt, name)


@router.get(
    "/api/review/scorecards",
    tags=["actions"],
    summary="Scorecards",
    response_model=None,
    responses=errors(400, 403),
)
def api_scorecards(
    request: Request,
    period: str = Query("this-month", description="e.g. 2026-10, 2026-Q3, FY2026."),
    by: str = Query("rep", description="department, team or rep."),
    department: str | None = Query(None, description="Only this department's cards."),
    team: str | None = Query(None, description="Only this team's cards."),
    rep: str | None = Query(None, description="Only this rep's card."),
    format: str = Depends(api_format),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    user: User = Depends(require_viewer),
) -> Any:
    """The cards the signed-in user may read (admins all; others as
    ``scorecards.access`` says), as ``kpitree scorecard --json`` prints them;
    ``?format=csv|xlsx`` downloads them as one row per card and KPI. A card
    asked for that the user may not read is 403 (``KT248``)."""
    asked = {"department": department, "team": team, "rep": rep}
    found = _cards(request, project, user, lang, period, by, asked)
    if format != "json":
        return _download(found, format, lang)
    return found


@router.get("/review/scorecards", response_class=HTMLResponse, include_in_schema=False)
def scorecards_page(
    request: Request,
    period: str = Query("this-month"),
    by: str = Query("rep"),
    department: str | None = Query(None),
    team: str | None = Query(None),
    rep: str | None = Query(None),
    format: str | None = Depends(page_format),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    user: User = Depends(require_viewer),
) -> Response:
    asked = {"department": department, "team": team, "rep": rep}
    found = _cards(request, project, user, lang, period, by, asked)
    if format is not None:
        return _download(found, format, lang)
    from kpitree.web.routes_api import no_data

    query = {k: v for k, v in {"period": period, "by": by, **asked}.items() if v}
    return render(
        request,
        "scorecards.html",
        {"view": found, "query": query, "levels": _SEGMENT, "active": "scorecards",
         "no_data": no_data(request, project),
         "records_href": lambda card, kpi: records_href(project, found, card, kpi, lang)},
    )  # fmt: skip


def records_href(
    project: Project, view: dict[str, Any], card: dict[str, Any], kpi: dict[str, Any], lang: str
) -> str | None:
    """The records behind a card's number: the KPI's list in the card's
    period, measured up to the cards' day, under the card's department, team
    and rep (``None``: the number is not shown or the node lists nothing)."""
    from urllib.parse import quote, urlencode

    from kpitree.compute.records import record_sets
    from kpitree.filter_text import filter_params

    node = kpi["node"]
    if kpi.get("actual") is None or node not in project.tree.nodes:
        return None
    segment = {k: v for k, v in card["segment"].items() if v is not None}
    if len(segment) != len(card["segment"]):
        return None  # an unassigned part: no filter asks for it
    if not record_sets(project.tree, project.catalogue, node):
        return None
    params = {"period": view["period"], "as_of": view["as_of"], "lang": lang}
    params.update(filter_params(segment))
    return f"/records/{quote(node, safe='')}?{urlencode(params, quote_via=quote)}"
