"""Live updates: ``GET /api/events`` streams server-sent events.

A watcher task polls the warehouse's data version (:func:`data_version`) every
``interval`` seconds and, when it changes, every open stream gets::

    event: data-changed
    data: {"version": "..."}

Pages subscribe through ``window.kpitree.onDataChanged(fn)`` (``kpitree.js``),
which also triggers the htmx event ``kpitree:data-changed`` on ``<body>``.

While new data's pages are computed, a page may show the previous data's,
marked as updating (:mod:`kpitree.web.updating`). Each time one of new data's
pages is ready, every stream gets ``event: pages-ready`` (``data: {"version":
"..."}``) and such a page fetches itself again (htmx event ``kpitree:pages-ready``).

The version is read from the file system (size and modification time of the
DuckDB file and its write-ahead log), never by opening the database: the server
must not hold the warehouse open, so that ``kpitree import`` in a terminal can
take the write lock at any time. It changes whichever process wrote: an upload
on the Data page, the API or ``kpitree import``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from kpitree.engines.freshness import (
    SERVER_DATA_TTL,
    engine_versions,
    server_data_version,
    written_versions,
)
from kpitree.web.deps import get_project, require_viewer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kpitree.project import Project

__all__ = [
    "SERVER_DATA_TTL",
    "Broadcaster",
    "data_version",
    "notify",
    "router",
    "watch",
    "writer_waiting",
]

log = logging.getLogger("kpitree.web")
router = APIRouter()
PING_SECONDS = 15.0
# How often an open stream checks that its session still works (seconds): a
# logout, a removed user or a changed role ends the streams already open too.
RECHECK_SECONDS = 2.0
# One event of the stream (OpenAPI before 3.2: the media type's schema describes each event).
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["hello", "data-changed", "pages-ready"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


_STABLE: dict[str, str] = {}


def data_version(project: Project, *, clock: Callable[[], float] = time.time) -> str:
    """A short string that changes whenever the project's warehouse data may
    have changed (cheap: two ``stat`` calls; key caches on it). For a warehouse
    that is a database server rather than a file it is ``server:<n>``, ``n``
    counting periods of :data:`SERVER_DATA_TTL` seconds on ``clock``: pages
    there are computed again (and announced as changed) at most that long after
    the data changes. A PostgreSQL warehouse that kpitree imports write adds
    its table versions, so an import, sync or undo there shows at once; on
    ClickHouse and Spark it is ``engine:<digest>`` of what the engine says of its
    tables (:func:`kpitree.engines.freshness.engine_versions`), time-based only
    when the engine cannot say.

    While another process writes the file (or waits to: see
    :func:`kpitree.data.warehouse.writer_turn`), the version stays the one seen
    before: the file changes several times during an import (its log, then the
    checkpoint), and pages should be computed once, on the finished data."""
    from kpitree.data.writers import file_stamp, writers_waiting

    target = _warehouse_target(project)
    if "://" in target and not target.startswith("duckdb://"):
        from kpitree.data.pgwarehouse import is_postgres_url

        version = server_data_version(clock)
        if is_postgres_url(target):  # kpitree imports write it: their versions count
            written = written_versions(target)
            return f"{version}:{written}" if written else version
        # ClickHouse's parts, a Spark table's files: new data shows at once.
        signal = engine_versions(target, project.tree.timezone)
        return f"engine:{signal}" if signal else version
    path = Path(target.removeprefix("duckdb://"))
    if writers_waiting(path) and target in _STABLE:
        return _STABLE[target]
    version = _STABLE[target] = file_stamp(path)
    return version


def writer_waiting(project: Project) -> bool:
    """Whether another process writes or waits to write the project's DuckDB
    warehouse file (:func:`kpitree.data.writers.writer_turn`)."""
    from kpitree.data.writers import writers_waiting

    target = _warehouse_target(project)
    if "://" in target and not target.startswith("duckdb://"):
        return False
    return writers_waiting(Path(target.removeprefix("duckdb://")))


_TARGETS: dict[tuple[str, str | None], str] = {}


def _warehouse_target(project: Project) -> str:
    """``project.warehouse_target``, kept per folder and configured warehouse
    (every request asks the data version; the target resolves a path)."""
    key = (str(project.path), project.tree.warehouse)
    found = _TARGETS.get(key)
    if found is None:
        if len(_TARGETS) > 64:
            _TARGETS.clear()
        found = _TARGETS[key] = project.warehouse_target
    return found


class Broadcaster:
    """Fan-out of data versions to every open event stream."""

    def __init__(self) -> None:
        self.version = ""
        self._queues: set[asyncio.Queue[tuple[str, str]]] = set()

    def subscribe(self) -> asyncio.Queue[tuple[str, str]]:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=16)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, str]]) -> None:
        self._queues.discard(queue)

    def publish(self, version: str) -> None:
        if version == self.version:
            return
        self.version = version
        self._send(("data-changed", version))

    def pages_ready(self) -> None:
        """One of the current data's pages is computed (call on the event loop)."""
        self._send(("pages-ready", self.version))

    def _send(self, event: tuple[str, str]) -> None:
        for queue in list(self._queues):
            if queue.full():  # a stalled client only needs the newest news
                queue.get_nowait()
            queue.put_nowait(event)

    @property
    def listeners(self) -> int:
        return len(self._queues)


def _project_or_none(app: FastAPI) -> Project | None:
    project = getattr(app.state, "project", None)
    if project is None:
        from kpitree.project import Project

        try:
            project = Project.load(app.state.project_path)
        except Exception:  # a broken definition shows on the pages; keep watching
            return None
        app.state.project = project
        app.state.project_signature = None
    return project


def notify(app: FastAPI) -> None:
    """Publish the current data version now (after a write made by this server)."""
    project = _project_or_none(app)
    if project is not None:
        app.state.live.publish(data_version(project))


async def watch(app: FastAPI, interval: float = 0.1) -> None:
    """Poll the data version until cancelled (started by the app's lifespan)."""
    broadcaster: Broadcaster = app.state.live
    while True:
        try:
            project = _project_or_none(app)
            if project is not None:
                broadcaster.publish(await asyncio.to_thread(data_version, project))
        except Exception:  # never let the watcher die; log and try again
            log.exception("live update watcher")
        await asyncio.sleep(interval)


@router.get(
    "/api/events",
    tags=["live"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": EVENT_SCHEMA}}}},
)
async def events(
    request: Request,
    _: Any = Depends(require_viewer),
    project: Project = Depends(get_project),
) -> Any:
    """Server-sent events: ``data-changed`` with ``{"version": ...}`` whenever
    the warehouse changes, ``pages-ready`` each time one of its pages is
    computed, and ``hello`` with the current version on connect.
    The stream ends when its session does (logout, user removed, role changed)."""
    from sse_starlette import EventSourceResponse

    from kpitree.web.auth import signed_in

    broadcaster: Broadcaster = request.app.state.live

    async def stream() -> AsyncIterator[dict[str, str]]:
        queue = broadcaster.subscribe()
        try:
            yield {"event": "hello", "data": json.dumps({"version": broadcaster.version})}
            while True:
                try:
                    event: tuple[str, str] | None = await asyncio.wait_for(
                        queue.get(), RECHECK_SECONDS
                    )
                except TimeoutError:
                    event = None
                if not await asyncio.to_thread(signed_in, request):
                    return
                if event is not None:
                    yield {"event": event[0], "data": json.dumps({"version": event[1]})}
        finally:
            broadcaster.unsubscribe(queue)

    return EventSourceResponse(stream(), ping=int(PING_SECONDS))
