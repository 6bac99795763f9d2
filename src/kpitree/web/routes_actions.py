"""Actions (施策) on the web: the JSON API (``GET /api/actions``, editors
``POST /api/actions`` and ``POST /api/actions/{id}/done``) and the Node page's
form (``POST /nodes/{id}/actions``); the KPI validity review page
(``/review/validity``) and its JSON twin (``/api/review/validity``). Writes
need the editor role and the CSRF token like every other form; the numbers
are those of ``kpitree actions`` and ``kpitree validity``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, render, require_editor, require_viewer
from kpitree.web.users import User

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = ["node_actions", "router"]

router = APIRouter()


class ActionToAdd(BaseModel):
    """An action decided in a review."""

    node: str = Field(description="The node the action should move (its id).")
    owner: str = Field(description="Who carries it out.")
    description: str = Field(description="What will be done.")
    expected_effect: str = Field(
        description="+3pt (a rate, in points), +10% (relative) or +20 (the node's unit); "
        "may end with 'by 2027-01'."
    )
    due: dt.date | None = Field(None, description="Due day (or give 'by …' in the effect).")
    start: dt.date | None = Field(None, description="First day (default: today).")
    segment: str | None = Field(None, description="Only this segment, e.g. team=east.")


class ActionToClose(BaseModel):
    note: str | None = Field(None, description="What came of it.")


def _author(user: User) -> str:
    return user.name or "web"


def node_actions(project: Project, node: str, lang: str) -> list[dict[str, Any]]:
    """The node's open actions with their outcome in words (for the Node page)."""
    from kpitree.review.outcome import outcome_text
    from kpitree.review.service import open_store, outcomes

    if not (project.path / ".kpitree" / "app.sqlite").exists():
        return []
    with open_store(project) as store:
        actions = store.list(status="open", node=node)
    found = outcomes(project, actions)
    unit = project.tree.nodes[node].unit_name if node in project.tree.nodes else None
    return [
        {
            **a.to_json(),
            "segment_text": a.segment_text,
            "outcome": found[a.id].to_json(),
            "outcome_text": outcome_text(found[a.id], unit, project.tree.currency, lang),
        }
        for a in actions
    ]


@router.get("/api/actions", tags=["actions"], summary="Actions")
def api_actions(
    node: str | None = Query(None, description="Only actions on this node."),
    all: bool = Query(False, description="Done actions too."),
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
) -> list[dict[str, Any]]:
    """Actions with their progress or measured outcome (met, not met,
    inconclusive), as ``kpitree actions list --json`` prints them."""
    from kpitree.review.service import open_store, outcomes

    if not (project.path / ".kpitree" / "app.sqlite").exists():
        return []
    with open_store(project) as store:
        actions = store.list(status=None if all else "open", node=node)
    found = outcomes(project, actions)
    return [{**a.to_json(), "outcome": found[a.id].to_json()} for a in actions]


@router.post("/api/actions", tags=["actions"], summary="Add an action", status_code=201)
def api_add_action(
    body: ActionToAdd,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> JSONResponse:
    """Add an action (editors); its outcome is measured once it is due."""
    from kpitree.review.actions import NewAction, parse_segment
    from kpitree.review.service import add_action

    new = NewAction(
        node=body.node.strip(),
        owner=body.owner,
        description=body.description,
        effect=body.expected_effect,
        due=body.due,
        start=body.start,
        segment=parse_segment(body.segment),
    )
    action = add_action(project, new, _author(user))
    return JSONResponse(action.to_json(), status_code=201)


@router.post(
    "/api/actions/import",
    tags=["actions"],
    summary="Import a filled next-actions table",
    responses=errors(400, 403, 413),
)
def api_import_actions(
    file: Annotated[
        UploadFile,
        File(description="The review pack (XLSX, or HTML saved from the browser) or a CSV."),
    ],
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> dict[str, list[int]]:
    """As ``kpitree actions import`` (editors): the pack's next-actions table,
    filled in the meeting; rows without a number become new actions, numbered
    rows update theirs. All rows or none: a wrong cell is 400 with every
    mistake located (the file's name, sheet, row and column)."""
    from kpitree.review.sheet import import_sheet
    from kpitree.review.sheet_files import SUFFIXES
    from kpitree.web.imports import received

    with received(file.filename or "pack.xlsx", file.file, SUFFIXES) as path:
        # A mistake is 400, located by the upload's name (kpitree.web.errors.public_file).
        return import_sheet(project, path, _author(user))


@router.post("/api/actions/{action_id}/done", tags=["actions"], summary="Close an action")
def api_close_action(
    action_id: int,
    body: ActionToClose,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> dict[str, Any]:
    """Mark an action done (editors); its outcome as measured now is kept in its history."""
    from kpitree.review.service import close_action

    action, outcome = close_action(project, action_id, _author(user), body.note)
    return {**action.to_json(), "outcome": outcome.to_json(), "history": action.history}


@router.post("/nodes/{node_id}/actions", include_in_schema=False)
def node_add_action(
    node_id: str,
    owner: str = Form(...),
    description: str = Form(...),
    expected_effect: str = Form(...),
    due: str = Form(""),
    segment: str = Form(""),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    user: User = Depends(require_editor),
) -> Response:
    """The Node page's form: add an action on the node, then show the page again."""
    from urllib.parse import quote

    from kpitree.review.actions import NewAction, parse_segment
    from kpitree.review.effect import parse_due
    from kpitree.review.service import add_action

    new = NewAction(
        node=node_id,
        owner=owner,
        description=description,
        effect=expected_effect,
        due=parse_due(due) if due.strip() else None,
        segment=parse_segment(segment),
    )
    add_action(project, new, _author(user))
    return RedirectResponse(
        f"/nodes/{quote(node_id, safe='')}?lang={lang}#actions", status_code=303
    )


def _validity(request: Request, project: Project, lang: str, months: int) -> dict[str, Any]:
    """The validity view, cached like the pages (per data version, day and query)."""
    from kpitree.review.validity_view import validity_view
    from kpitree.web.routes_api import page_source

    source = page_source(request, project)
    return source.cached(
        ("validity", months, lang),
        lambda: validity_view(project, lang, source.today(), months),
    )


@router.get("/api/review/validity", tags=["actions"], summary="KPI validity review")
def api_validity(
    request: Request,
    months: int = Query(
        24, ge=2, le=24, description="How many complete months of history (at most 24)."
    ),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> dict[str, Any]:
    """Every KPI and influence link with its verdict (keep, re_target, replace,
    drop, not_enough_history) and the evidence, as ``kpitree validity --json``."""
    return _validity(request, project, lang, months)


@router.get("/review/validity", response_class=HTMLResponse, include_in_schema=False)
def validity_page(
    request: Request,
    months: int = Query(24, ge=2, le=24),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> Response:
    from kpitree.web.routes_api import no_data

    view = _validity(request, project, lang, months)
    return render(request, "validity.html", {"view": view, "no_data": no_data(request, project)})


@router.get("/api/book", tags=["actions"], summary="KPI definitions book")
def api_book(
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> list[dict[str, Any]]:
    """Every node's definition as ``kpitree book --json`` prints it."""
    from kpitree.review.book import book_entries

    return book_entries(project.tree, project.catalogue, lang)


_BOOK_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _book_file(project: Project, entries: list[dict[str, Any]], fmt: str, lang: str) -> Response:
    """The book as ``kpitree book -f <fmt>`` writes it, as a download."""
    from kpitree.errors import UserError
    from kpitree.i18n import t
    from kpitree.review.book_render import FORMATS, render_book
    from kpitree.web.downloads import attachment

    if fmt not in FORMATS:
        raise UserError.of(
            "KT240", "book.bad_format_web", None, value=fmt, formats=", ".join(FORMATS)
        )
    if fmt == "pdf":
        from kpitree.reports.charts import require_cjk_font

        require_cjk_font()
    title = t("book.title", lang=lang, project=project.tree.name)
    return Response(
        render_book(title, entries, fmt, lang),
        media_type=_BOOK_TYPES[fmt],
        headers={"content-disposition": attachment(f"kpitree-book-{lang}", f".{fmt}")},
    )


@router.get("/book", response_class=HTMLResponse, include_in_schema=False)
def book_page(
    request: Request,
    format: str | None = Query(None, description="html, md, xlsx or pdf: download the book."),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    _: User = Depends(require_viewer),
) -> Response:
    from kpitree.review.book import BOOK_FIELDS, book_entries

    entries = book_entries(project.tree, project.catalogue, lang)
    if format is not None:
        return _book_file(project, entries, format, lang)
    shown = [f for f in BOOK_FIELDS if f not in ("id", "name")]
    return render(request, "book.html", {"entries": entries, "fields": shown})
