"""The Settings page (``/settings``): project information, language, and user
management for admins; its API twins ``/api/settings`` and ``/api/users``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.web import live
from kpitree.web.auth import start_session, user_store
from kpitree.web.contract import errors
from kpitree.web.deps import get_lang, get_project, render, require_admin, require_viewer
from kpitree.web.errors import WebError
from kpitree.web.users import MIN_PASSWORD, ROLES, User, UserStore

router = APIRouter()

Role = Literal["viewer", "editor", "admin"]
# The user names check_name accepts, as far as a JSON Schema pattern can say
# (printable: no control, format or separator characters).
NAME_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]{1,64}$"


def project_info(project: Project, lang: str) -> dict[str, Any]:
    """What the Settings page shows about the project."""
    from kpitree import __version__

    tree = project.tree
    return {
        "name": tree.name,
        "path": project.path.name,
        "kgi": tree.kgi,
        "kgi_label": tree.nodes[tree.kgi].display(lang),
        "nodes": len(tree.nodes),
        "fiscal_year_start": tree.fiscal_year_start,
        "fiscal_year": tree.fiscal_year,
        "currency": tree.currency,
        "timezone": tree.timezone,
        "warehouse": _public_warehouse(project),
        "data_version": live.data_version(project),
        "version": __version__,
    }


def _public_warehouse(project: Project) -> str:
    """Where the data is, as web clients see it: a file relative to the project
    (only its name when elsewhere), a database URL without its password."""
    from kpitree.engines.engine import _redacted

    target = project.warehouse_target
    if "://" in target:
        return _redacted(target)
    from pathlib import Path

    path = Path(target)
    if path.is_relative_to(project.path.resolve()):
        return path.relative_to(project.path.resolve()).as_posix()
    return path.name


@router.get("/api/settings", tags=["settings"])
def api_settings(
    request: Request,
    project: Project = Depends(get_project),
    user: User = Depends(require_viewer),
) -> dict[str, Any]:
    """The project (name, KGI, fiscal year, time zone, warehouse), the
    language in use and who is asking."""
    lang = get_lang(request)
    return {
        "project": project_info(project, lang),
        "lang": lang,
        "user": user.to_json(),
        "users_configured": user_store(request).count() > 0,
    }


@router.get("/api/users", tags=["settings"])
def api_users(request: Request, _: User = Depends(require_admin)) -> dict[str, Any]:
    """Users and their roles (admins only)."""
    return {"users": [r.to_json() for r in user_store(request).list()]}


class NewUser(BaseModel):
    name: str = Field(
        description="1-64 printable characters, no spaces (Japanese is fine).",
        json_schema_extra={"pattern": NAME_PATTERN},
    )
    role: Role
    password: str = Field(json_schema_extra={"minLength": MIN_PASSWORD})


class UserChange(BaseModel):
    role: Role | None = None
    password: str | None = Field(None, json_schema_extra={"minLength": MIN_PASSWORD})


@router.post("/api/users", tags=["settings"], status_code=201, responses=errors(400))
def api_add_user(request: Request, body: NewUser, _: User = Depends(require_admin)) -> Response:
    """Add a user (the first one must be an admin). With no users before, the
    caller's browser is logged in as this user, since logins start now."""
    from fastapi.responses import JSONResponse

    store = user_store(request)
    first = store.count() == 0
    record = store.add(body.name, body.role, body.password)
    response = JSONResponse({"user": record.to_json()}, status_code=201)
    if first:
        created = store.get(record.name)
        assert created is not None
        start_session(request, response, created)
    return response


@router.patch("/api/users/{name:path}", tags=["settings"], responses=errors(400, 404))
def api_change_user(
    request: Request, name: str, body: UserChange, _: User = Depends(require_admin)
) -> dict[str, Any]:
    """Change a user's role and/or password; their sessions end."""
    store = user_store(request)
    _known(store, name)
    if body.role is not None:
        store.set_role(name, body.role)
    if body.password is not None:
        store.set_password(name, body.password)
    changed = store.get(name)
    if changed is None:
        raise UserError.of("KT611", "web.users.unknown", None, name=name)
    return {"user": changed.to_json()}


@router.delete("/api/users/{name:path}", tags=["settings"], responses=errors(400, 404))
def api_remove_user(
    request: Request, name: str, _: User = Depends(require_admin)
) -> dict[str, Any]:
    """Remove a user (not the last admin)."""
    store = user_store(request)
    _known(store, name)
    store.remove(name)
    return {"removed": name}


def _known(store: UserStore, name: str) -> None:
    """An address naming no user is not found (404, KT611)."""
    if store.get(name) is None:
        raise WebError(404, "KT611", "web.users.unknown", name=name)


# -- page -------------------------------------------------------------------------------


def settings_page_response(
    request: Request,
    project: Project,
    user: User,
    *,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
    new_share: str | None = None,
) -> Response:
    lang = get_lang(request)
    store = user_store(request)
    from kpitree.web.routes_share import share_store

    admin = user.can("admin")
    context = {
        "shares": share_store(request).list() if admin else [],
        "new_share": new_share,
        "departments": [
            {"id": d.id, "label": d.label.text(lang, d.id)}
            for d in project.tree.organisation.departments.values()
        ],
        "active": "settings",
        "info": project_info(project, lang),
        "users": store.list() if user.can("admin") else [],
        "users_configured": store.count() > 0,
        "roles": ROLES,
        "error": error,
        "done": done,
    }
    response = render(request, "settings.html", context)
    response.status_code = status
    return response


@router.get("/settings", response_class=HTMLResponse, include_in_schema=False)
def settings_page(
    request: Request,
    done: str | None = None,
    name: str | None = None,
    project: Project = Depends(get_project),
    user: User = Depends(require_viewer),
) -> Response:
    message = None
    if done in ("added", "removed", "role", "password") and name:
        from kpitree.i18n import t

        message = t(f"web.settings.done_{done}", lang=get_lang(request), name=name)
    return settings_page_response(request, project, user, done=message)


def _after(done: str, name: str) -> RedirectResponse:
    from urllib.parse import urlencode

    return RedirectResponse("/settings?" + urlencode({"done": done, "name": name}), 303)


def _failed(request: Request, project: Project, user: User, exc: UserError) -> Response:
    lang = get_lang(request)
    text = " ".join(d.message(lang) for d in exc.diagnostics)
    return settings_page_response(request, project, user, error=text, status=400)


@router.post("/settings/users", response_class=HTMLResponse, include_in_schema=False)
def settings_add_user(
    request: Request,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()],
    project: Project = Depends(get_project),
    user: User = Depends(require_admin),
) -> Response:
    store = user_store(request)
    first = store.count() == 0
    try:
        record = store.add(name, role, password)
    except UserError as exc:
        return _failed(request, project, user, exc)
    response = _after("added", record.name)
    if first:
        created = store.get(record.name)
        assert created is not None
        start_session(request, response, created)
    return response


@router.post(
    "/settings/users/{name:path}/remove", response_class=HTMLResponse, include_in_schema=False
)
def settings_remove_user(
    request: Request,
    name: str,
    project: Project = Depends(get_project),
    user: User = Depends(require_admin),
) -> Response:
    try:
        user_store(request).remove(name)
    except UserError as exc:
        return _failed(request, project, user, exc)
    return _after("removed", name)


@router.post(
    "/settings/users/{name:path}/role", response_class=HTMLResponse, include_in_schema=False
)
def settings_user_role(
    request: Request,
    name: str,
    role: Annotated[str, Form()],
    project: Project = Depends(get_project),
    user: User = Depends(require_admin),
) -> Response:
    try:
        user_store(request).set_role(name, role)
    except UserError as exc:
        return _failed(request, project, user, exc)
    return _after("role", name)


@router.post(
    "/settings/users/{name:path}/password", response_class=HTMLResponse, include_in_schema=False
)
def settings_user_password(
    request: Request,
    name: str,
    password: Annotated[str, Form()],
    project: Project = Depends(get_project),
    user: User = Depends(require_admin),
) -> Response:
    store = user_store(request)
    try:
        if store.get(name) is None:
            raise UserError.of("KT611", "web.users.unknown", None, name=name)
        store.set_password(name, password)
    except UserError as exc:
        return _failed(request, project, user, exc)
    return _after("password", name)
