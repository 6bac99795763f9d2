"""The Data page (``/data``) and its API (``/api/imports``, ``/api/mappings``):
upload a CSV/XLSX export with a mapping, preview the mapped rows and every
rejected cell before anything is written, import, see the history, undo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.web import imports, live
from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, render, require_editor, require_viewer
from kpitree.web.downloads import api_format, table_response
from kpitree.web.users import User

router = APIRouter()

HISTORY_COLUMNS = (
    "import_id",
    "status",
    "file",
    "mapping_name",
    "rows_read",
    "inserted",
    "updated",
    "unchanged",
    "rejected",
    "started_at",
    "undone_at",
)


# -- API --------------------------------------------------------------------------------


@router.get("/api/mappings", tags=["data"])
def api_mappings(
    project: Project = Depends(get_project), _: User = Depends(require_viewer)
) -> dict[str, Any]:
    """Mappings an upload can use: the project's own, then the built-in presets."""
    return {"mappings": imports.mapping_choices(project)}


@router.get("/api/imports", tags=["data"], response_model=None)
def api_imports(
    project: Project = Depends(get_project),
    _: User = Depends(require_viewer),
    format: str = Depends(api_format),
) -> dict[str, Any] | Response:
    """The import history, newest first (``?format=csv|xlsx`` downloads it)."""
    rows = imports.history(project)
    if format != "json":
        return table_response(
            list(HISTORY_COLUMNS),
            [[row.get(c) for c in HISTORY_COLUMNS] for row in rows],
            format,
            "imports",
        )
    return {"imports": rows}


@router.post("/api/imports/preview", tags=["data"], responses=errors(413))
def api_preview(
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or Shift_JIS) or XLSX export.")],
    mapping: Annotated[
        str,
        Form(
            description="A preset name, a project mapping, or `auto`: the best-fitting "
            "preset, else a draft mapping (returned under `detected`).",
            min_length=1,
        ),
    ],
    sheet: Annotated[str | None, Form(description="XLSX sheet (default: the mapping's).")] = None,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
    lang: str = Depends(get_lang),
) -> dict[str, Any]:
    """Read and map an upload without writing: mapped rows per table and every
    rejected cell (row, column, message). Import it with ``POST /api/imports``
    and the returned ``upload_id`` and ``mapping`` (`draft` for a drafted one).
    With ``mapping=auto``, ``detected`` says which preset fits
    (``{"kind": "preset", "name", "fit"}``) or gives the draft
    (``{"kind": "draft", "yaml", "review", "closest"}``)."""
    upload = imports.save_upload(project, file.filename or "", file.file)
    return imports.preview(project, upload, mapping, sheet, lang=lang)


PAGE = Query(1, ge=1, le=1_000_000, description="Page number (25 rows a page).")


@router.get("/api/imports/{upload_id}/preview/{table}", tags=["data"], responses=errors(404))
def api_preview_page(
    upload_id: str,
    table: str,
    page: int = PAGE,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
    lang: str = Depends(get_lang),
) -> dict[str, Any]:
    """One page of a previewed table's mapped rows (``preview``, as
    ``POST /api/imports/preview`` gives the first page), with the table's row
    count (``rows``), ``page`` / ``pages`` and the rows shown (``first``..``last``).
    404 when the upload is gone (KT620) or has no such table (KT740)."""
    from kpitree.web.preview_pages import table_page

    upload = imports.find_upload(project, upload_id)
    return {"upload_id": upload_id, **table_page(project, upload, table, page, lang)}


@router.get("/api/imports/{upload_id}/errors", tags=["data"], responses=errors(404))
def api_preview_errors(
    upload_id: str,
    page: int = PAGE,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
    lang: str = Depends(get_lang),
) -> dict[str, Any]:
    """One page of a previewed upload's rejected cells (row, column, value,
    message), with their count (``total``) and ``page`` / ``pages``."""
    from kpitree.web.preview_pages import errors_page

    upload = imports.find_upload(project, upload_id)
    return {"upload_id": upload_id, **errors_page(upload, page, lang)}


class DraftBody(BaseModel):
    yaml: str = Field(
        description="The edited draft mapping (YAML).", json_schema_extra={"minLength": 1}
    )
    sheet: str | None = None


@router.post("/api/imports/{upload_id}/draft", tags=["data"], responses=errors(400, 404))
def api_draft(
    upload_id: str,
    body: DraftBody,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
    lang: str = Depends(get_lang),
) -> dict[str, Any]:
    """Replace an upload's draft mapping with an edited one and preview again
    (as ``POST /api/imports/preview``); import with ``mapping: draft``."""
    from kpitree.web.drafts import save_draft

    upload = imports.find_upload(project, upload_id)
    save_draft(upload, body.yaml)
    return imports.preview(project, upload, imports.DRAFT, body.sheet, lang=lang)


class ImportBody(BaseModel):
    upload_id: str = Field(description="From the preview.", json_schema_extra={"minLength": 1})
    mapping: str = Field(
        description="A preset name or a project mapping.", json_schema_extra={"minLength": 1}
    )
    skip_invalid: bool = False


@router.post("/api/imports", tags=["data"], responses=errors(404))
def api_import(
    request: Request,
    body: ImportBody,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> dict[str, Any]:
    """Import a previewed upload (all rows, or with ``skip_invalid`` the valid
    ones); returns the import as ``kpitree import --json`` does."""
    upload = imports.find_upload(project, body.upload_id)
    result = imports.run_import(
        project, upload, body.mapping, skip_invalid=body.skip_invalid, lang=get_lang(request)
    )
    live.notify(request.app)
    return {"import": result}


@router.post("/api/imports/{import_id}/undo", tags=["data"], responses=errors(404))
def api_undo(
    request: Request,
    import_id: int,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> dict[str, Any]:
    """Undo one import: delete the rows it added, restore the rows it changed."""
    result = imports.undo(project, import_id, lang=get_lang(request))
    live.notify(request.app)
    return {"undo": result}


# -- page -------------------------------------------------------------------------------


def _page_context(request: Request, project: Project, user: User) -> dict[str, Any]:
    return {
        "active": "data",
        "mappings": imports.mapping_choices(project),
        "history": imports.history(project),
        "can_edit": user.can("editor"),
        "max_mb": imports.MAX_UPLOAD_BYTES // 1024 // 1024,
    }


@router.get("/data", response_class=HTMLResponse, include_in_schema=False)
def data_page(
    request: Request,
    project: Project = Depends(get_project),
    user: User = Depends(require_viewer),
) -> Response:
    from kpitree.web.routes_links import links_context
    from kpitree.web.routes_quality import quality_context
    from kpitree.web.routes_sync import sources_view

    context = _page_context(request, project, user)
    context.update(quality_context(project, get_lang(request), request))
    context.update(links_context(project, get_lang(request), request=request))
    context["sources"] = sources_view(request, project)
    return render(request, "data.html", context)


@router.get("/data/history", response_class=HTMLResponse, include_in_schema=False)
def data_history(
    request: Request,
    project: Project = Depends(get_project),
    user: User = Depends(require_viewer),
) -> Response:
    return render(
        request,
        "data_history.html",
        {"history": imports.history(project), "can_edit": user.can("editor")},
    )


def _problem(request: Request, exc: UserError) -> list[str]:
    lang = get_lang(request)
    from kpitree.errors import Span

    def where(span: Span | None) -> str:
        if span is None:
            return ""
        return f"{span.file or ''}:{span.line}:{span.column}: ".lstrip(":")

    return [where(d.span) + d.message(lang) for d in exc.diagnostics]


@router.post("/data/preview", response_class=HTMLResponse, include_in_schema=False)
def data_preview(
    request: Request,
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str, Form()],
    sheet: Annotated[str | None, Form()] = None,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> Response:
    try:
        upload = imports.save_upload(project, file.filename or "", file.file)
        found = imports.preview(project, upload, mapping, sheet, lang=get_lang(request))
    except UserError as exc:
        return render(request, "data_result.html", {"problems": _problem(request, exc)})
    return _preview_page(request, found)


def _preview_page(request: Request, found: dict[str, Any]) -> Response:
    from kpitree.web.preview_pages import first_errors

    shown = {"upload_id": found["upload_id"], **first_errors(found.get("errors", []))}
    return render(request, "data_preview.html", {"preview": found, "errors_view": shown})


@router.get(
    "/data/preview/{upload_id}/tables/{table}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def data_preview_table(
    request: Request,
    upload_id: str,
    table: str,
    page: int = PAGE,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> Response:
    from kpitree.web.preview_pages import table_page

    upload = imports.find_upload(project, upload_id)
    shown = table_page(project, upload, table, page, get_lang(request))
    return _part(request, "_preview_table.html", {"table": shown, "upload_id": upload_id})


@router.get(
    "/data/preview/{upload_id}/errors", response_class=HTMLResponse, include_in_schema=False
)
def data_preview_errors(
    request: Request,
    upload_id: str,
    page: int = PAGE,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> Response:
    from kpitree.web.preview_pages import errors_page

    upload = imports.find_upload(project, upload_id)
    shown = {"upload_id": upload_id, **errors_page(upload, page, get_lang(request))}
    return _part(request, "_preview_errors.html", {"errors_view": shown})


def _part(request: Request, template: str, context: dict[str, Any]) -> Response:
    """A part of a preview: the fragment htmx swaps in place, or, for a pager link
    followed as a link (no JavaScript, a new tab), a whole page holding it."""
    if request.headers.get("hx-request") == "true":
        return render(request, template, context)
    return render(request, "data_preview_part.html", {**context, "part": template})


@router.post("/data/preview/draft", response_class=HTMLResponse, include_in_schema=False)
def data_preview_draft(
    request: Request,
    upload_id: Annotated[str, Form()],
    draft: Annotated[str, Form()],
    sheet: Annotated[str | None, Form()] = None,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> Response:
    from kpitree.web.drafts import save_draft

    try:
        upload = imports.find_upload(project, upload_id)
        save_draft(upload, draft)
        found = imports.preview(project, upload, imports.DRAFT, sheet, lang=get_lang(request))
    except UserError as exc:
        return render(request, "data_result.html", {"problems": _problem(request, exc)})
    return _preview_page(request, found)


@router.post("/data/import", response_class=HTMLResponse, include_in_schema=False)
def data_import(
    request: Request,
    upload_id: Annotated[str, Form()],
    mapping: Annotated[str, Form()],
    skip_invalid: Annotated[bool, Form()] = False,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> Response:
    try:
        upload = imports.find_upload(project, upload_id)
        result = imports.run_import(
            project, upload, mapping, skip_invalid=skip_invalid, lang=get_lang(request)
        )
    except UserError as exc:
        return render(request, "data_result.html", {"problems": _problem(request, exc)})
    live.notify(request.app)
    return render(
        request,
        "data_result.html",
        {"imported": result, "history": imports.history(project), "can_edit": True},
    )


@router.post("/data/undo/{import_id}", response_class=HTMLResponse, include_in_schema=False)
def data_undo(
    request: Request,
    import_id: int,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> Response:
    try:
        done = imports.undo(project, import_id, lang=get_lang(request))
    except UserError as exc:
        return render(request, "data_result.html", {"problems": _problem(request, exc)})
    live.notify(request.app)
    return render(
        request,
        "data_result.html",
        {"undone": done, "history": imports.history(project), "can_edit": True},
    )
