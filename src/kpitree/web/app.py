"""The web application factory.

>>> from kpitree.web.app import create_app
>>> app = create_app(Path("examples/the-model"))      # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, port=8000)        # doctest: +SKIP

Routers: the pages (:mod:`~kpitree.web.routes_pages`), their JSON twins
(:mod:`~kpitree.web.routes_api`), alerts/SLA (:mod:`~kpitree.web.routes_alerts`,
whose optional ``async def background(app)`` runs for the app's lifetime), live
events (:mod:`~kpitree.web.live`), login (:mod:`~kpitree.web.routes_auth`),
data (:mod:`~kpitree.web.routes_data`), sources, their syncs and webhooks
(:mod:`~kpitree.web.routes_sync`, run by :mod:`~kpitree.web.syncs`) and settings
(:mod:`~kpitree.web.routes_settings`). Every route is CSRF-checked
(:func:`~kpitree.web.security.check_csrf`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from kpitree.errors import UserError
from kpitree.web import live
from kpitree.web.contract import install_contract
from kpitree.web.deps import require_viewer
from kpitree.web.errors import install_error_handlers
from kpitree.web.security import LoginLimiter, WebMiddleware, check_csrf
from kpitree.web.settings import WebSettings
from kpitree.web.users import UserStore

if TYPE_CHECKING:
    from kpitree.definition.spec_web import WebSpec

__all__ = ["STATIC", "check_bind", "create_app", "is_loopback"]

STATIC = Path(__file__).parent / "static"
SWAGGER = "/static/vendor/swagger-ui"
log = logging.getLogger("kpitree.web")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(project_path: Path, host: str) -> None:
    """With no users configured everyone is an admin: refuse any address but
    loopback (KT609) so the project is not open to the network."""
    if not is_loopback(host) and UserStore(project_path).count() == 0:
        import shlex

        # The advice is a command that works as printed (the folder shell-quoted).
        command = f"kpitree users add admin --role admin -p {shlex.quote(str(project_path))}"
        raise UserError.of(
            "KT609", "web.serve.no_users", None, host=host, path=str(project_path), command=command
        )


def _web_spec(project_path: Path) -> WebSpec | None:
    """``web:`` of the project's definition (``None`` when it cannot be loaded:
    the pages then show the definition's errors)."""
    from kpitree.project import Project

    try:
        return Project.load(project_path).tree.web
    except Exception:
        return None


def create_app(
    project_path: Path,
    *,
    settings: WebSettings | None = None,
    secure_cookies: bool | None = None,
    live_interval: float = 0.1,
    login_limiter: LoginLimiter | None = None,
) -> FastAPI:
    """The web app for the project at ``project_path``.

    ``settings``: allowed host names, trusted proxies, session lifetimes and
    whether the API description is public (default: ``web:`` of the project's
    ``kpitree.yaml``, loopback names only). ``secure_cookies``: mark cookies
    Secure (default: when the request came over https). ``live_interval``:
    seconds between checks of the warehouse for new data (live updates arrive
    within about this delay).
    """
    from kpitree import __version__
    from kpitree.web import (
        routes_accounts,
        routes_actions,
        routes_actions_page,
        routes_alerts,
        routes_api,
        routes_auth,
        routes_data,
        routes_links,
        routes_notes,
        routes_pages,
        routes_quality,
        routes_records,
        routes_revisions,
        routes_scorecards,
        routes_settings,
        routes_share,
        routes_sla_cases,
        routes_sso,
        routes_sync,
        syncs,
    )

    project_path = Path(project_path).resolve()
    if project_path.is_file():
        project_path = project_path.parent
    if settings is None:
        settings = WebSettings.of(_web_spec(project_path))
    if secure_cookies is not None:
        settings = dataclasses.replace(settings, secure_cookies=secure_cookies)
    background = getattr(routes_alerts, "background", None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(live.watch(app, live_interval), name="kpitree-live"),
            asyncio.create_task(syncs.background(app), name="kpitree-syncs"),
        ]
        if background is not None:
            tasks.append(asyncio.create_task(background(app), name="kpitree-alerts"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    app = FastAPI(
        title="kpitree",
        version=__version__,
        description="KPI tree dashboard: every page has a JSON twin under /api.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(check_csrf)],
    )
    app.state.project_path = project_path
    app.state.project = None
    app.state.project_signature = None
    app.state.users = UserStore(project_path)
    app.state.login_limiter = login_limiter or LoginLimiter()
    app.state.live = live.Broadcaster()
    app.state.syncs = syncs.SyncRunner(project_path)
    app.state.settings = settings
    app.state.secure_cookies = settings.secure_cookies

    install_error_handlers(app)
    install_contract(app)
    app.add_middleware(WebMiddleware, settings=settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def docs_reader(request: Request) -> None:
        """The API description follows the viewer rule unless the operator opened it."""
        if not settings.public_api_docs:
            require_viewer(request)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(docs_reader)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(docs_reader)])
    def docs() -> HTMLResponse:
        # FastAPI's default page loads Swagger UI from a CDN; serve the vendored copy.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="kpitree API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    routers = (
        routes_auth,
        live,
        routes_data,
        routes_sync,
        routes_quality,
        routes_links,
        routes_settings,
    )
    for module in (
        *routers,
        routes_sso,
        routes_notes,
        routes_share,
        routes_pages,
        routes_api,
        routes_records,
        routes_sla_cases,
        routes_alerts,
        routes_actions,
        routes_actions_page,
        routes_accounts,
        routes_scorecards,
        routes_revisions,
    ):
        app.include_router(module.router)
    return app
