"""Pages of the previous data version, shown marked as updating.

After new data (an import, a sync), every page's view model is computed again
(:mod:`kpitree.web.cache`). Meanwhile a page asked for is answered at once with
the previous data version's figures and a banner that says so and gives the
time of that data ("データ更新中: 表示は 10:42 時点のデータです"); when the new
view model is stored, open pages get ``pages-ready`` on the live stream
(:mod:`kpitree.web.live`) and fetch themselves again, without the banner.

The HTML pages always take the previous version; a JSON twin waits for the new
figures unless the request says ``Cache-Control: max-stale``, and a download
(``?format=csv|xlsx``) always waits. Any answer made of the previous version
carries ``X-Kpitree-Data-Updating`` with the time of its data (ISO 8601).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from fastapi import Request

    from kpitree.project import Project

__all__ = [
    "HEADER",
    "accepts_previous",
    "banner",
    "data_time",
    "header_value",
    "kept_or_previous",
    "mark",
    "marked",
    "only_busy",
]

T = TypeVar("T")
HEADER = "x-kpitree-data-updating"
_STATE = "data_updating"


def data_time(project: Project) -> float:
    """When the data a page is computed from now was written (epoch seconds):
    the warehouse file's (or its write-ahead log's) modification time; for a
    database server, now."""
    target = project.warehouse_target
    if "://" in target and not target.startswith("duckdb://"):
        return time.time()
    path = Path(target.removeprefix("duckdb://"))
    times = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            times.append(candidate.stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else time.time()


def accepts_previous(request: Request, since: float | None = None) -> bool:
    """Whether this request may be answered with the previous data version's
    figures: a page, not a download; a JSON twin only with ``max-stale`` (with
    a number of seconds: only while what made the previous answer out of date
    is at most that old), never with ``no-cache``.

    What made it out of date is the new data (the time it was written); for an
    answer that also follows the clock, ``since`` is when its current period
    began (the SLA page's minute), and the later of the two counts: after a
    quiet weekend the data is days old, but the previous minute's answer is
    less than a minute out of date."""
    if request.query_params.get("format") in ("csv", "xlsx"):
        return False
    if not request.url.path.startswith("/api/"):
        return True
    asked = {}
    for part in request.headers.get("cache-control", "").lower().split(","):
        name, _, value = part.partition("=")
        asked[name.strip()] = value.strip().strip('"')
    if "no-cache" in asked or "max-stale" not in asked:
        return False
    limit = asked["max-stale"]
    if not limit:
        return True
    if not limit.isdigit():
        return False
    from kpitree.web.deps import load_project

    newest = data_time(load_project(request))
    if since is not None:
        newest = max(newest, since)
    return time.time() - newest <= int(limit)


def kept_or_previous(
    request: Request, project: Project, key: Hashable, compute: Callable[[], T]
) -> tuple[T, dict[str, Any] | None]:
    """The page cache's value of ``key`` for this data version, and ``None``; or,
    when the request accepts it (:func:`accepts_previous`) and new data's value
    is still computed, the previous version's and its :func:`banner` (the
    request is marked too). ``compute`` must compute, not read the cache."""
    from kpitree.web.deps import get_lang
    from kpitree.web.routes_api import page_cache

    source = page_cache(request).source(project)
    if not accepts_previous(request):
        return source.cached(key, compute), None
    value, previous = source.current_or_previous(key, compute)
    if previous is None:
        return value, None
    mark(request, previous, project.tree.timezone)
    return value, banner(request, get_lang(request))


def only_busy(exc: BaseException) -> bool:
    """Whether computing new data's page failed only because the warehouse is
    being written (its lock held: tried again on the next request, the previous
    data shown meanwhile); any other failure is shown, not the previous data."""
    import duckdb

    from kpitree.data.writers import busy

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, duckdb.Error) and busy(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def mark(request: Request, when: float, timezone: str) -> None:
    """Remember that this request's answer shows the data of ``when``."""
    stamp = dt.datetime.fromtimestamp(when, ZoneInfo(timezone)).replace(microsecond=0)
    request.state.data_updating = stamp


def marked(request: Request) -> dt.datetime | None:
    """The time of the data this request's answer shows, when it is the
    previous version's (:func:`mark`)."""
    found: dt.datetime | None = getattr(request.state, _STATE, None)
    return found


def banner(request: Request, lang: str) -> dict[str, Any] | None:
    """What the page's banner shows: the time of the data (``HH:MM``, with the
    day when it is not today's) and the same as ISO 8601; ``None`` for a page of
    the current data."""
    stamp = marked(request)
    if stamp is None:
        return None
    today = dt.datetime.now(stamp.tzinfo).date()
    if stamp.date() == today:
        at = f"{stamp:%H:%M}"
    elif lang == "ja":
        at = f"{stamp.month}月{stamp.day}日 {stamp:%H:%M}"
    else:
        at = f"{stamp.day} {stamp:%b} {stamp:%H:%M}"
    return {"at": at, "iso": stamp.isoformat()}


def header_value(state: dict[str, Any]) -> bytes | None:
    """The ``X-Kpitree-Data-Updating`` value of a request's state, if any."""
    stamp = state.get(_STATE)
    return None if stamp is None else stamp.isoformat().encode("latin-1")
