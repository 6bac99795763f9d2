"""Sources on the Data page and in the API, "sync now", and HubSpot's webhook.

* ``GET /api/sources``: each source with its schedule, last successful sync,
  cursors, records held, next run, last error and whether a sync of it runs
  or waits (the Data page's section shows the same).
* ``POST /api/sources/{name}/sync`` (editors): sync that source now (202); the
  Data page's button posts ``/data/sync/{name}``.
* ``POST /hooks/hubspot``: the one route without a session. A request is
  verified against the ``webhook_secret_env`` of each HubSpot source (HubSpot's
  signature v3, :mod:`kpitree.web.hooks`) and, when one matches, syncs what its
  events say changed: the objects they name, from their cursors, and the
  records they name read directly (events of objects the source does not sync
  change nothing; a body that is not a list of events syncs the whole
  source). Polling stays the truth: the search from the cursor runs as well.
  Everything else gets the same 401 and triggers nothing: unsigned,
  stale, a wrong signature, no source with a webhook secret. Bodies over
  256 KB are refused unread (413), and an address that keeps failing is held
  off (429) like logins are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.responses import Response

from kpitree.project import Project
from kpitree.web.contract import errors
from kpitree.web.deps import get_project, render, require_editor, require_viewer
from kpitree.web.errors import WebError
from kpitree.web.security import LoginLimiter
from kpitree.web.users import User

__all__ = ["HOOK_LIMITER", "router", "sources_view"]

router = APIRouter()
HOOK_LIMITER = LoginLimiter(per_user=1_000_000, per_address=20, window=300.0)
"""Failed webhook verifications per client address (20 in 5 minutes)."""


def _local(value: datetime | None, zone: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def sources_view(request: Request, project: Project) -> list[dict[str, Any]]:
    """What the Data page's sources section shows (and ``/api/sources`` returns)."""
    from kpitree.web.syncs import read_sources_kept, read_states

    specs = read_sources_kept(project.path)
    if not specs:
        return []
    runner = request.app.state.syncs
    zone = ZoneInfo(project.tree.timezone)
    states = read_states(project)
    next_runs = runner.next_runs(project)
    out = []
    for name, spec in specs.items():
        state = states.get(name)
        shown = state.to_json() if state is not None else {"objects": [], "last_error": None}
        nxt = next_runs.get(name)
        out.append(
            {
                "source": name,
                "type": str(spec.type),
                "schedule": None if spec.schedule is None else spec.schedule.every,
                "last_success_at": shown.get("last_success_at"),
                "last_success_local": _local(state.last_success_at if state else None, zone),
                "last_attempt_at": shown.get("last_attempt_at"),
                "last_import_id": shown.get("last_import_id"),
                "objects": shown["objects"],
                "last_error": shown["last_error"],
                "next_run_at": None if nxt is None else nxt.isoformat(),
                "next_run_local": _local(nxt, zone),
                "running": runner.running == name,
                "queued": name in runner.requested,
            }
        )
    return out


def _known(project: Project, name: str) -> None:
    from kpitree.web.syncs import read_sources_kept

    names = list(read_sources_kept(project.path))
    if name not in names:
        raise WebError(404, "KT958", "sync.web.unknown_source", name=name, names=", ".join(names))


# -- API ---------------------------------------------------------------------------------


@router.get("/api/sources", tags=["sources"])
def api_sources(
    request: Request, project: Project = Depends(get_project), _: User = Depends(require_viewer)
) -> dict[str, Any]:
    """Each source: schedule, last successful sync, cursors and records per
    object, next scheduled run, last error, and whether a sync runs or waits."""
    return {"sources": sources_view(request, project)}


@router.post("/api/sources/{name}/sync", tags=["sources"], status_code=202, responses=errors(404))
def api_sync_now(
    request: Request,
    name: str,
    project: Project = Depends(get_project),
    _: User = Depends(require_editor),
) -> dict[str, Any]:
    """Sync the source now (incrementally): queued at once, run by the server
    one source at a time; ``queued`` is false when it was already waiting."""
    _known(project, name)
    queued = request.app.state.syncs.request(name)
    return {"source": name, "queued": queued}


# -- page --------------------------------------------------------------------------------


@router.get("/data/sources", response_class=HTMLResponse, include_in_schema=False)
def data_sources(
    request: Request, project: Project = Depends(get_project), user: User = Depends(require_viewer)
) -> Response:
    return render(
        request,
        "data_sources.html",
        {"sources": sources_view(request, project), "can_edit": user.can("editor")},
    )


@router.post("/data/sync/{name}", response_class=HTMLResponse, include_in_schema=False)
def data_sync_now(
    request: Request,
    name: str,
    project: Project = Depends(get_project),
    user: User = Depends(require_editor),
) -> Response:
    _known(project, name)
    request.app.state.syncs.request(name)
    return data_sources(request, project, user)


# -- HubSpot webhook ---------------------------------------------------------------------


def _hook_secrets(project_path: Any) -> list[tuple[str, str]]:
    """(source, secret) of every HubSpot source with a readable webhook secret."""
    import os

    from kpitree.connectors.secrets import remember_secret
    from kpitree.definition.spec_sources import HubSpotSourceSpec, read_sources

    try:
        specs = read_sources(project_path)
    except Exception:
        return []
    out = []
    for name, spec in specs.items():
        if isinstance(spec, HubSpotSourceSpec) and spec.webhook_secret_env:
            secret = os.environ.get(spec.webhook_secret_env, "").strip()
            if secret:
                remember_secret(secret)
                out.append((name, secret))
    return out


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebError(413, "KT959", "sync.web.hook_too_large", limit_kb=limit // 1024)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebError(413, "KT959", "sync.web.hook_too_large", limit_kb=limit // 1024)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/hooks/hubspot", include_in_schema=False)
async def hubspot_hook(request: Request) -> Response:
    from kpitree.web.hooks import MAX_BODY_BYTES, changed_records, verify

    address = request.client.host if request.client else "-"
    HOOK_LIMITER.check("hook", address)
    body = await _body(request, MAX_BODY_BYTES)
    sources = _hook_secrets(request.app.state.project_path)
    found = verify(
        [secret for _, secret in sources],
        request.method,
        str(request.url),
        body,
        request.headers.get("x-hubspot-signature-v3"),
        request.headers.get("x-hubspot-request-timestamp"),
    )
    if found is None:
        HOOK_LIMITER.failed("hook", address)
        raise WebError(401, "KT960", "sync.web.hook_refused")
    name = sources[found][0]
    records = changed_records(body)
    if records is not None:
        records = _synced_objects(request.app.state.project_path, name, records)
        if not records:
            return JSONResponse({"ok": True, "objects": []})
    request.app.state.syncs.request(name, records)
    return JSONResponse({"ok": True, "objects": None if records is None else sorted(records)})


def _synced_objects(
    project_path: Any, name: str, records: dict[str, set[str]]
) -> dict[str, set[str]]:
    """``records`` of the objects the source syncs (``objects:``, else all)."""
    from kpitree.definition.spec_sources import read_sources

    try:
        spec = read_sources(project_path)[name]
    except Exception:
        return records
    wanted = spec.objects
    return {o: ids for o, ids in records.items() if wanted is None or o in wanted}
