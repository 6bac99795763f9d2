"""What the web API promises, declared once: the OpenAPI description at
``/openapi.json`` says every status code and content type a route can answer,
and the answers keep to it (a bounded schemathesis run in the tests checks both).

* Errors: every ``/api`` error has the one JSON shape of
  :mod:`kpitree.web.errors` (:class:`ErrorBody`). Which statuses a route can
  answer follows from what it depends on (:func:`dependency_errors`: a viewer's
  login 401, an editor's or admin's role 403, the project's definition 400, an
  unknown ``?format=`` 400) and from its method (a state-changing request's
  CSRF token: 403); a route adds the errors its own body raises with
  ``responses=errors(404)``. 421 (a Host this server does not answer), 422 (a
  parameter that does not validate) and 500 go on every route.
* Downloads: a route taking ``?format=`` (:func:`~kpitree.web.downloads.api_format`)
  also answers ``text/csv`` and XLSX.
* 405: the ``Allow`` header lists every method the address accepts
  (:func:`allowed_methods`), not only those of the first route that matched.

>>> from kpitree.web.contract import errors
>>> sorted(errors(404))
[404]
"""

from __future__ import annotations

import http
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.dependencies.models import Dependant
    from starlette.types import Scope

__all__ = [
    "ErrorBody",
    "allowed_methods",
    "dependency_errors",
    "describe",
    "errors",
    "install_contract",
    "route_errors",
]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOADS: dict[str, Any] = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# What each status means on this API (the body's ``code`` says exactly which case).
MEANINGS: dict[int, str] = {
    400: "The request cannot be served as asked: a value the app cannot use (a period, "
    "a download format, a changed plan value...), a definition that does not load, "
    "or data the import refuses. `code` and `diagnostics` say what and where.",
    401: "Login required (KT604), or a wrong user name or password (KT608).",
    403: "The user's role does not allow this (KT605), or a state-changing request's CSRF "
    "token is missing or wrong (KT606) or it comes from another site (KT633).",
    404: "Nothing of that name or id (the message lists what there is).",
    413: "The upload is larger than the limit (KT614).",
    421: "The Host header names a host this server does not answer (KT631).",
    422: "A parameter or body field does not validate (KT601; `field` names it).",
    429: "Too many failed logins; wait the minutes given (KT607, `Retry-After`).",
    500: "An unexpected server error (KT600; the server log has the traceback).",
}


class ErrorDiagnostic(BaseModel):
    """One problem: its code and message, and where it is when it has a place."""

    severity: str = Field(description="error or warning")
    code: str = Field(description="KT code, e.g. KT606")
    message: str
    file: str | None
    line: int | None
    column: int | None
    end_column: int | None
    field: str | None = Field(description="the request field, e.g. query.period")


class ErrorDetail(BaseModel):
    status: int
    code: str = Field(description="the first diagnostic's code")
    message: str = Field(description="the first diagnostic's message, in the request's language")
    diagnostics: list[ErrorDiagnostic]


class ErrorBody(BaseModel):
    """Every ``/api`` error: ``{"error": {"status", "code", "message", "diagnostics"}}``."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: these statuses answer the error shape."""
    return {
        status: {"model": ErrorBody, "description": MEANINGS.get(status, _phrase(status))}
        for status in statuses
    }


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def dependency_errors() -> dict[Callable[..., Any], tuple[int, ...]]:
    """Statuses a route answers because it depends on a function (imported
    here, when the description is built)."""
    from kpitree.web import deps, downloads

    return {
        deps.get_project: (400, 401),
        deps.require_viewer: (401,),
        deps.require_editor: (401, 403),
        deps.require_admin: (401, 403),
        downloads.api_format: (400,),
        downloads.page_format: (400,),
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def route_errors(route: Any, method: str) -> set[int]:
    """Every error status ``route`` can answer to ``method``."""
    from kpitree.web.security import check_csrf

    by_dependency = dependency_errors()
    found = {421, 422, 500}
    if route.body_field is not None:
        found.add(400)  # a body that is not JSON at all (KT618)
    for call in _calls(route.dependant):
        found.update(by_dependency.get(call, ()))
        if call is check_csrf and method in UNSAFE:
            found.add(403)
    found.update(int(status) for status in route.responses if str(status).isdigit())
    return {status for status in found if status >= 400}


def _downloads(route: Any) -> bool:
    from kpitree.web import downloads

    offered = (downloads.api_format, downloads.page_format)
    return any(call in offered for call in _calls(route.dependant))


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route of ``app`` as it is served (with the dependencies of
    the routers that include it)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            yield route


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI description with every route's errors and downloads."""
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["ErrorBody"] = body
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        item = schema["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(route_errors(route, method)):
                responses[str(status)] = {
                    "description": MEANINGS.get(status, _phrase(status)),
                    "content": error_content,
                }
            if _downloads(route):
                for status, response in responses.items():
                    if status.startswith("2"):
                        response.setdefault("content", {}).update(DOWNLOADS)
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_contract(app: FastAPI) -> None:
    """Serve :func:`describe` as the app's ``/openapi.json`` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method some route of ``app`` accepts at this request's path."""
    from fastapi.routing import iter_route_contexts

    path = scope.get("path", "")
    found: set[str] = set()
    for route in iter_route_contexts(getattr(app, "routes", ())):
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        if regex is not None and methods and regex.match(path):
            found.update(methods)
    return sorted(found)
