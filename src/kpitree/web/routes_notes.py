"""Notes on the timeline (:mod:`kpitree.notes`): the JSON API under
``/api/notes`` (viewers read, editors create, edit and delete; every change is
in the history), the Node page's form, and :func:`chart_notes`, which places
the notes on a chart's periods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from kpitree.errors import UserError
from kpitree.notes import MAX_TEXT, Note, NoteDraft, NoteStore, parse_day, parse_segment
from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, require_editor, require_viewer
from kpitree.web.errors import WebError
from kpitree.web.users import User

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = ["chart_notes", "note_store", "page_notes", "router"]

router = APIRouter(tags=["notes"])
# A note number as SQLite stores it (larger ones cannot name a note).
NoteId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The note's number.")]


def note_store(request: Request) -> NoteStore:
    return NoteStore(request.app.state.project_path)


def _author(user: User) -> str:
    return user.name or "admin"


class NoteBody(BaseModel):
    start: str = Field(description="First day, YYYY-MM-DD.", examples=["2026-10-01"])
    end: str | None = Field(None, description="Last day of a period (default: the start day).")
    text: str = Field(
        description=f"What happened (1-{MAX_TEXT} characters).",
        json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT},
    )
    node: str | None = Field(None, description="The node it is about (default: every node).")
    segment: str | None = Field(
        None, description="The segment it is about, dimension=value (e.g. department=inside_sales)."
    )


class NoteChange(BaseModel):
    start: str | None = None
    end: str | None = None
    text: str | None = Field(None, json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT})
    node: str | None = None
    segment: str | None = None


def _check_node(project: Project, node: str | None) -> str | None:
    if node is None or not node.strip():
        return None
    node = node.strip()
    if node not in project.tree.nodes:
        from kpitree.source import did_you_mean

        raise UserError.of(
            "KT682",
            "notes.error.unknown_node",
            None,
            node=node,
            hint=did_you_mean(node, list(project.tree.nodes)),
        )
    return node


def _draft(project: Project, body: NoteBody) -> NoteDraft:
    start = parse_day(body.start, "start")
    end = parse_day(body.end, "end") if body.end and body.end.strip() else None
    return NoteDraft(
        start=start,
        end=end,
        text=body.text,
        node=_check_node(project, body.node),
        segment=parse_segment(body.segment),
    )


def _found(store: NoteStore, note_id: int) -> Note:
    try:
        return store.get(note_id)
    except UserError:
        raise WebError(404, "KT683", "notes.error.unknown", id=note_id) from None


@router.get("/api/notes", responses=errors(400))
def api_notes(
    request: Request,
    node: str | None = Query(None, description="Only notes about this node or about no node."),
    start: str | None = Query(None, alias="from", description="Notes ending on or after this day."),
    end: str | None = Query(None, alias="to", description="Notes starting on or before this day."),
    _: User = Depends(require_viewer),
) -> dict[str, Any]:
    """The notes on the timeline, oldest first."""
    notes = note_store(request).list(
        start=parse_day(start, "from") if start else None,
        end=parse_day(end, "to") if end else None,
        node=node or None,
    )
    return {"notes": [n.to_json() for n in notes]}


@router.post("/api/notes", status_code=201, responses=errors(400))
def api_add_note(
    request: Request,
    body: NoteBody,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> Response:
    """Add a note (editors)."""
    note = note_store(request).add(_draft(project, body), _author(user))
    return JSONResponse({"note": note.to_json()}, status_code=201)


@router.get("/api/note-history")
def api_notes_history(request: Request, _: User = Depends(require_viewer)) -> dict[str, Any]:
    """Every change to every note, newest first (who, when, before, after)."""
    return {"history": note_store(request).history()}


@router.get("/api/notes/{note_id}", responses=errors(404))
def api_note(
    request: Request, note_id: NoteId, _: User = Depends(require_viewer)
) -> dict[str, Any]:
    """One note and its history."""
    store = note_store(request)
    note = _found(store, note_id)
    return {"note": note.to_json(), "history": store.history(note_id)}


@router.patch("/api/notes/{note_id}", responses=errors(400, 404))
def api_edit_note(
    request: Request,
    note_id: NoteId,
    body: NoteChange,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> dict[str, Any]:
    """Change a note's dates, text, node or segment (editors); fields left out keep
    their value, an empty ``node`` or ``segment`` removes it."""
    store = note_store(request)
    old = _found(store, note_id).to_json()
    # A null start or text keeps the old one; a null node, segment or end removes it.
    given = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k not in ("start", "text")
    }
    merged = {k: old[k] for k in ("start", "end", "text", "node", "segment")} | given
    if "start" in given and "end" not in given and old["end"] == old["start"]:
        merged["end"] = None  # a one-day note moved stays a one-day note
    note = store.edit(note_id, _draft(project, NoteBody(**merged)), _author(user))
    return {"note": note.to_json()}


@router.delete("/api/notes/{note_id}", responses=errors(404))
def api_delete_note(
    request: Request, note_id: NoteId, user: User = Depends(require_editor)
) -> dict[str, Any]:
    """Delete a note (editors); its history stays."""
    store = note_store(request)
    _found(store, note_id)
    note = store.delete(note_id, _author(user))
    return {"deleted": note.to_json()}


# -- the Node page's form ---------------------------------------------------------------

SEGMENT_DIMENSIONS = {
    "department": "pages.col.department",
    "channel": "pages.ui.channel",
    "team": "pages.ui.team",
    "region": "pages.ui.region",
}
"""The dimensions a note's segment is written with on the page, by their label keys."""


def segment_keys(project: Project, text: str) -> str:
    """A segment typed as people name it (``部門=インサイドセールス``,
    ``Channel=Paid search``) in the data's keys (``department=inside_sales``);
    what is written with keys already, or is no ``dimension=value``, is kept."""
    from kpitree.i18n import LANGUAGES, catalog, t

    dim, sep, value = text.strip().partition("=")
    dim, value = dim.strip(), value.strip()
    if not sep or not dim or not value:
        return text.strip()
    for key, label in SEGMENT_DIMENSIONS.items():
        if dim.casefold() in {key, *(t(label, lang=lang).casefold() for lang in LANGUAGES)}:
            dim = key
            break
    names: dict[str, str] = {}
    if dim == "department":
        for department in project.tree.organisation.departments.values():
            for lang in LANGUAGES:
                names[department.label.text(lang, department.id).casefold()] = department.id
    elif dim == "channel":
        for lang in LANGUAGES:
            for key, name in catalog(lang).items():
                if key.startswith("value.channel."):
                    names[name.casefold()] = key.removeprefix("value.channel.")
    return f"{dim}={names.get(value.casefold(), value)}"


@router.post("/nodes/{node_id}/notes", include_in_schema=False)
def node_add_note(
    request: Request,
    node_id: str,
    start: Annotated[str, Form()],
    text: Annotated[str, Form()],
    end: Annotated[str, Form()] = "",
    segment: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "node",
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> Response:
    body = NoteBody(
        start=start,
        end=end or None,
        text=text,
        node=node_id if scope == "node" else None,
        segment=segment_keys(project, segment) or None,
    )
    note_store(request).add(_draft(project, body), _author(user))
    return _back(request, node_id)


@router.post("/nodes/{node_id}/notes/{note_id}/delete", include_in_schema=False)
def node_delete_note(
    request: Request,
    node_id: str,
    note_id: NoteId,
    user: User = Depends(require_editor),
) -> Response:
    store = note_store(request)
    _found(store, note_id)
    store.delete(note_id, _author(user))
    return _back(request, node_id)


def _back(request: Request, node_id: str) -> Response:
    from urllib.parse import quote

    lang = get_lang(request)
    return RedirectResponse(f"/nodes/{quote(node_id, safe='')}?lang={lang}#kt-notes", 303)


# -- notes on charts --------------------------------------------------------------------


def chart_notes(
    notes: Iterable[Note],
    periods: Iterable[tuple[str, dt.date, dt.date]],
    node: str | None,
    filters: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The notes that belong on a chart of ``node`` under ``filters`` whose
    categories are ``periods`` (key, first day, last day): each with the first
    and last category it covers."""
    spans = list(periods)
    out = []
    for note in notes:
        if not note.touches(node, filters):
            continue
        keys = [key for key, first, last in spans if note.overlaps(first, last)]
        if keys:
            out.append({**note.to_json(), "from": keys[0], "to": keys[-1]})
    return out


def page_notes(
    request: Request, project: Project, view: Mapping[str, Any], node: str | None
) -> dict[str, list[dict[str, Any]]]:
    """The notes of a page's charts: ``series`` (the periods of the Node page's
    line chart) and ``burnup`` (the months of the burn-up), under the page's
    filters, and ``all``: every note about the node in the page's year."""
    store = note_store(request)
    if not store.path.exists():
        return {"series": [], "burnup": [], "all": []}
    filters = (view.get("query") or {}).get("filters") or {}
    out: dict[str, list[dict[str, Any]]] = {}
    every: list[Note] = []
    for name, rows in (
        ("series", view.get("series") or []),
        ("burnup", (view.get("burnup") or {}).get("points") or []),
    ):
        spans = []
        for row in rows:
            try:
                p = project.period(str(row["period"]))
            except (UserError, ValueError, KeyError):
                continue
            spans.append((p.key, p.start, p.end))
        if not spans:
            out[name] = []
            continue
        found = store.list(start=spans[0][1], end=spans[-1][2], node=node)
        every += found
        out[name] = chart_notes(found, spans, node, filters)
    seen: dict[int, Note] = {n.id: n for n in every if n.touches(node, filters)}
    out["all"] = [n.to_json() for n in sorted(seen.values(), key=lambda n: (n.start, n.id))]
    return out
