"""The actions page (``/actions``): open actions with their progress and
closed ones with their measured outcome, filtered by status, node and owner,
as CSV/XLSX too (``?format=``); its JSON twin is ``/api/actions``. Editors
upload a filled review pack there (``POST /actions/import``), read by the
same code as ``kpitree actions import``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from kpitree.errors import UserError
from kpitree.web.deps import get_lang, get_project, render, require_editor, require_viewer
from kpitree.web.downloads import page_format, table_response
from kpitree.web.users import User

if TYPE_CHECKING:
    from kpitree.project import Project
    from kpitree.review.actions import Action

__all__ = ["actions_view", "router"]

router = APIRouter()

STATUSES = ("all", "open", "done")
_COLUMNS = (
    "id", "node", "node_name", "segment", "owner", "description", "expected_effect",
    "start", "due", "status", "state", "outcome", "realised", "expected",
    "volume_before", "volume_after", "progress", "closed_at", "note",
)  # fmt: skip


def actions_view(
    project: Project, lang: str, status: str, node: str | None, owner: str | None
) -> dict[str, Any]:
    """The rows of the page: every action the filters keep, with its outcome
    in words, and the choices the filters offer."""
    from kpitree.i18n import t
    from kpitree.review.outcome import outcome_text
    from kpitree.review.service import open_store, outcomes

    actions = []
    if (project.path / ".kpitree" / "app.sqlite").exists():
        with open_store(project) as store:
            actions = store.list(status=None)
    owners = sorted({a.owner for a in actions})
    nodes = sorted({a.node for a in actions})
    kept = [
        a
        for a in actions
        if (status == "all" or a.status == status)
        and (not node or a.node == node)
        and (not owner or a.owner == owner)
    ]
    today = project.today()
    found = outcomes(project, kept, today)
    tree = project.tree

    def name(node_id: str) -> str:
        return tree.nodes[node_id].display(lang) if node_id in tree.nodes else node_id

    rows = []
    for a in kept:
        outcome = found[a.id]
        unit = tree.nodes[a.node].unit_name if a.node in tree.nodes else None
        rows.append(
            {
                **a.to_json(),
                "node_name": name(a.node),
                "segment_text": a.segment_text,
                "outcome": outcome.to_json(),
                "state_text": t(f"review.state.{outcome.state}", lang=lang),
                "outcome_text": outcome_text(outcome, unit, tree.currency, lang),
                "volumes": _volumes(a, outcome.to_json(), today, lang),
            }
        )
    return {
        "open": [r for r in rows if r["status"] == "open"],
        "closed": [r for r in rows if r["status"] != "open"],
        "total": len(actions),
        "filters": {"status": status, "node": node or "", "owner": owner or ""},
        "nodes": [{"id": n, "name": name(n)} for n in nodes],
        "owners": owners,
    }


def _volumes(
    action: Action, outcome: dict[str, Any], as_of: dt.date, lang: str
) -> list[dict[str, Any]]:
    """The volume of each window (before, after) with the address of its
    records: the action's node and segment over the window's days, measured
    up to the day the outcome was (so the list's rows are the volume)."""
    from urllib.parse import quote, urlencode

    from kpitree.filter_text import filter_params
    from kpitree.i18n.numbers import format_value

    out = []
    for name in ("before", "after"):
        window = outcome.get(name)
        if not window or window.get("volume") is None:
            continue
        params = {
            "period": f"{window['start']}..{window['end']}",
            **filter_params(dict(action.segment)),
            "as_of": as_of.isoformat(),
            "lang": lang,
        }
        query = urlencode(params, quote_via=quote)
        out.append(
            {
                "window": name,
                "start": window["start"],
                "end": window["end"],
                "volume": window["volume"],
                "text": format_value(window["volume"], "count", lang=lang),
                "url": f"/records/{quote(action.node, safe='')}?{query}",
            }
        )
    return out


def _download_rows(view: dict[str, Any]) -> list[list[Any]]:
    out = []
    for r in view["open"] + view["closed"]:
        o = r["outcome"]
        before, after = o["before"] or {}, o["after"] or {}
        out.append(
            [
                r["id"], r["node"], r["node_name"], r["segment_text"], r["owner"],
                r["description"], r["expected_effect"], r["start"], r["due"], r["status"],
                o["state"], r["outcome_text"], o["realised"], o["expected"],
                before.get("volume"), after.get("volume"), o["progress"],
                r["closed_at"], r["note"],
            ]
        )  # fmt: skip
    return out


def _status(value: str) -> str:
    if value in STATUSES:
        return value
    from kpitree.web.errors import WebError

    raise WebError(400, "KT270", "review.page.bad_status", value=value, allowed=", ".join(STATUSES))


def _page(
    request: Request,
    project: Project,
    user: User,
    lang: str,
    filters: tuple[str, str | None, str | None],
    status_code: int = 200,
    **extra: Any,
) -> Response:
    view = actions_view(project, lang, *filters)
    context = {"view": view, "active": "actions", "can_edit": user.can("editor"), **extra}
    page = render(request, "actions.html", context)
    page.status_code = status_code
    return page


@router.get("/actions", response_class=HTMLResponse, include_in_schema=False)
def actions_page(
    request: Request,
    status: str = Query("all"),
    node: str | None = Query(None),
    owner: str | None = Query(None),
    format: str | None = Depends(page_format),
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    user: User = Depends(require_viewer),
) -> Response:
    filters = (_status(status), node or None, owner or None)
    if format in ("csv", "xlsx"):
        view = actions_view(project, lang, *filters)
        return table_response(_COLUMNS, _download_rows(view), format, "kpitree-actions")
    return _page(request, project, user, lang, filters)


@router.post("/actions/import", response_class=HTMLResponse, include_in_schema=False)
def actions_import(
    request: Request,
    file: Annotated[UploadFile, File()],
    project: Project = Depends(get_project),
    lang: str = Depends(get_lang),
    user: User = Depends(require_editor),
) -> Response:
    """The page's upload form: the filled pack's rows become actions (all or
    none); a mistake is shown located in the uploaded file."""
    from kpitree.review.sheet import import_sheet
    from kpitree.review.sheet_files import SUFFIXES
    from kpitree.web.imports import received

    with received(file.filename or "pack.xlsx", file.file, SUFFIXES) as path:
        name = path.name
        try:
            result = import_sheet(project, path, user.name or "web")
        except UserError as exc:
            problems = [_located(d, name, lang) for d in exc.diagnostics]
            everything = ("all", None, None)
            return _page(request, project, user, lang, everything, 400, problems=problems)
    return _page(request, project, user, lang, ("all", None, None), imported=result)


def _located(diagnostic: Any, name: str, lang: str) -> str:
    """``会議.xlsx:12:3: KT2xx message`` with the upload's name, never the temp path."""
    span = diagnostic.span
    where = ""
    if span is not None:
        where = f"{Path(span.file).name if span.file else name}:{span.line}:{span.column}: "
    return f"{where}{diagnostic.code}: {diagnostic.message(lang)}"
