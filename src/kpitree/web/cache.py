"""Status results and page view models kept in memory, so pages answer fast.

Everything is keyed by the warehouse's data version
(:func:`kpitree.web.live.data_version`), the definition's signature (size and
modification time of kpitree.yaml and its target files) and the arguments, so
a new import or an edited kpitree.yaml is never served from an old entry.
Concurrent requests for the same missing entry compute it once (the others
wait for it).

A page's view model of new data (:data:`PREVIOUS_KINDS`) is the exception:
while it is computed, once, in the background, a page asks
:meth:`CachedSource.current_or_previous` and gets the view model of the
previous data version at once, with the time of that data, to show marked as
updating (:mod:`kpitree.web.updating`); when the new one is stored,
``PageCache.on_ready`` tells open pages to fetch themselves again. Only the
data version differs between the two: another definition, another day or other
arguments are other pages, and a page never computed yet waits for it.

:class:`kpitree.web.warmer.Warmer` fills this cache with the common pages in
the background.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kpitree.compute.periods import Period
    from kpitree.compute.status import StatusResult
    from kpitree.project import Project

__all__ = ["PREVIOUS_KINDS", "CachedSource", "PageCache", "definition_signature", "page_version"]

log = logging.getLogger("kpitree.web")
T = TypeVar("T")
MAX_ENTRIES = 64  # a status of 1.5M leads at every org level is ~12 MB
# What a page may show from the previous data version while the new one computes:
# the pages' view models (and the custom dimensions their addresses are read with),
# the Data page's quality and links reports.
PREVIOUS_KINDS = frozenset({"view", "custom_dimensions", "quality", "links"})
# Background computations of new data's pages at a time (the machine's cores:
# the warm-up runs beside them, and pages share their statuses through the cache).
UPDATERS = 2


@dataclass(frozen=True)
class _Latest:
    """The newest value stored of a page, whatever its data version."""

    key: Hashable
    value: Any
    data_time: float  # when the data it was computed from was written (epoch seconds)
    started: int  # order in which its computation started


def definition_signature(project: Project) -> tuple[Any, ...]:
    """Size and modification time of kpitree.yaml and the target files it names."""
    out: list[Any] = []
    for name in ("kpitree.yaml", *project.tree.target_files):
        try:
            st = (project.path / name).stat()
            out.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((name, None, None))
    return tuple(out)


def page_version(project: Project) -> tuple[Any, ...]:
    """What a page depends on besides its arguments: the project, its data
    version and its definition."""
    from kpitree.web.live import data_version

    return (_resolved(str(project.path)), data_version(project), definition_signature(project))


@functools.lru_cache(maxsize=64)
def _resolved(path: str) -> str:
    """The project folder's absolute path (asked on every request)."""
    return str(Path(path).resolve())


class PageCache:
    """A bounded, thread-safe memo of computed values per data version."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._inflight: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        # Misses by what was computed ("status", "view", "sla", ...): the warmer
        # computes beside requests, so a page's own misses are counted apart.
        self.misses_by_kind: Counter[str] = Counter()
        # Per page (its key without the data version): the newest value stored.
        self._latest: OrderedDict[Hashable, _Latest] = OrderedDict()
        self._started = 0
        self._updating: set[Hashable] = set()
        # New data's values whose background computation failed (not only a busy file):
        # computed in the foreground until they are stored, so the error shows.
        self._failed: OrderedDict[Hashable, None] = OrderedDict()
        self._updaters: ThreadPoolExecutor | None = None
        self.previous_served = 0
        # Called (from any thread) when a page's value of new data is stored.
        self.on_ready: Callable[[], None] | None = None

    def get(
        self,
        key: Hashable,
        compute: Callable[[], T],
        page: Hashable | None = None,
        data_time: Callable[[], float] | None = None,
    ) -> T:
        """The value under ``key``, computed (once, however many ask) if missing.
        ``page``: the key without its data version, for a value a page may show
        while the next version's computes (``data_time`` says when the data it
        is computed from was written)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]  # type: ignore[no-any-return]
            flight = self._inflight.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                if key in self._entries:
                    self.hits += 1
                    return self._entries[key]  # type: ignore[no-any-return]
                self._started += 1
                started = self._started
            self.misses += 1
            self.misses_by_kind[_kind(key)] += 1
            written = data_time() if data_time is not None else time.time()
            try:
                value = compute()
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
            with self._lock:
                self._entries[key] = value
                self._failed.pop(key, None)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
                newer = False
                if page is not None:
                    found = self._latest.get(page)
                    if found is None or found.started <= started:
                        newer = found is not None and found.key != key
                        self._latest[page] = _Latest(key, value, written, started)
                        self._latest.move_to_end(page)
                        while len(self._latest) > self.max_entries:
                            self._latest.popitem(last=False)
            if newer and self.on_ready is not None:
                try:
                    self.on_ready()
                except Exception:  # a closed event loop must not fail the page
                    log.debug("announcing a page of new data", exc_info=True)
            return value

    def current_or_previous(
        self,
        key: Hashable,
        page: Hashable,
        compute: Callable[[], T],
        data_time: Callable[[], float],
    ) -> tuple[T, float | None]:
        """The value under ``key`` and ``None``, as :meth:`get`; or, when it is
        missing but ``page`` has a value of another data version, that value and
        the time of its data, at once, while ``key`` is computed in the
        background (once, however many ask)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key], None
            found = self._latest.get(page)
            if found is not None and found.key != key and key not in self._failed:
                self.previous_served += 1
                if key not in self._updating:
                    self._updating.add(key)
                    if self._updaters is None:
                        self._updaters = ThreadPoolExecutor(
                            UPDATERS, thread_name_prefix="kpitree-update"
                        )
                    run = contextvars.copy_context().run
                    self._updaters.submit(run, self._update, key, page, compute, data_time)
                return found.value, found.data_time
        return self.get(key, compute, page, data_time), None

    def _update(
        self,
        key: Hashable,
        page: Hashable,
        compute: Callable[[], Any],
        data_time: Callable[[], float],
    ) -> None:
        from kpitree.web.updating import only_busy

        try:
            self.get(key, compute, page, data_time)
        except Exception as exc:  # busy: the next request starts it again; else it shows
            log.warning("computing a page of new data failed", exc_info=True)
            if not only_busy(exc):
                with self._lock:
                    self._failed[key] = None
                    while len(self._failed) > self.max_entries:
                        self._failed.popitem(last=False)
        finally:
            with self._lock:
                self._updating.discard(key)

    def updating(self) -> int:
        """How many pages of new data are being computed in the background."""
        with self._lock:
            return len(self._updating)

    def close(self) -> None:
        """Stop the background computations (those running finish)."""
        with self._lock:
            updaters, self._updaters = self._updaters, None
        if updaters is not None:
            updaters.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._latest.clear()
            self._failed.clear()

    def source(
        self, project: Project, as_of: dt.date | None = None, targets: str = "then"
    ) -> CachedSource:
        """A status source for ``project`` whose results are kept here;
        ``targets``: ``then`` (each month's targets as asked then) or ``current``."""
        return CachedSource(project, self, as_of, targets)


def _kind(key: Hashable) -> str:
    """The name a cache key starts with, under its version and day."""
    inner = key[-1] if isinstance(key, tuple) and key else key
    if isinstance(inner, tuple) and inner:
        inner = inner[0]
    return str(inner)


class CachedSource:
    """A :class:`~kpitree.web.views.common.StatusSource` backed by a
    :class:`PageCache` (one per request: it fixes today and the data version)."""

    def __init__(
        self,
        project: Project,
        cache: PageCache,
        as_of: dt.date | None = None,
        targets: str = "then",
    ) -> None:
        self.project = project
        self.cache = cache
        self._today = as_of or project.today()
        self.version = page_version(project)
        self.targets = targets  # then: the targets valid at the time; current: today's

    def today(self) -> dt.date:
        return self._today

    def _keys(self, key: Hashable) -> tuple[Hashable, Hashable]:
        """The cache key of ``key`` and its page's key (without the data version)."""
        path, _, definition = self.version
        if self.targets != "then":  # pages against today's targets are other pages
            inner: tuple[Any, ...] = (self._today, ("targets", self.targets), key)
        else:
            inner = (self._today, key)
        return (self.version, *inner), ((path, definition), *inner)

    def _data_time(self) -> float:
        from kpitree.web.updating import data_time

        return data_time(self.project)

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        full, page = self._keys(key)
        if _kind(full) in PREVIOUS_KINDS:
            return self.cache.get(full, compute, page, self._data_time)
        return self.cache.get(full, compute)

    def of_definition(self, key: Hashable, compute: Callable[[], T]) -> T:
        """As :meth:`cached`, for a value that reads no data (the Plan page
        without actuals): kept per definition and day, whatever the data version."""
        path, _, definition = self.version
        return self.cache.get(((path, definition), self._today, key), compute)

    def current_or_previous(
        self,
        key: Hashable,
        compute: Callable[[], T],
        page: Hashable | None = None,
        data_time: Callable[[], float] | None = None,
    ) -> tuple[T, float | None]:
        """As :meth:`cached`, or the previous data version's value and the time
        of its data while this version's is computed (:data:`PREVIOUS_KINDS`).
        ``page``: what stays the same between ``key`` and the previous value it
        may stand in for, when more than the data version changes (the SLA
        page's minute); ``data_time``: the time its value is of (default: when
        the data was written)."""
        full, same = self._keys(key)
        if page is not None:
            same = self._keys(page)[1]
        elif _kind(full) not in PREVIOUS_KINDS:
            return self.cache.get(full, compute), None
        when = self._data_time if data_time is None else data_time
        return self.cache.current_or_previous(full, same, compute, when)

    def status(
        self,
        period: str | Period | Sequence[str | Period] | None,
        *,
        by: Sequence[str] = (),
        filters: Mapping[str, Sequence[str | None]] | None = None,
        explain: bool = True,
        compare: bool = True,
    ) -> StatusResult:
        periods: list[Any] = list(period) if isinstance(period, list | tuple) else [period]
        resolved: tuple[Period, ...] = tuple(
            p
            if p is not None and not isinstance(p, str)
            else self.project.period(p, as_of=self._today)
            for p in periods
        )
        frozen = tuple(sorted((k, tuple(v)) for k, v in (filters or {}).items()))
        key = ("status", resolved, tuple(by), frozen, explain, compare)

        def compute() -> StatusResult:
            return self.project.status(
                list(resolved),
                by=list(by),
                filters=filters or None,
                explain=explain,
                compare=compare,
                as_of=self._today,
                targets=self.targets,
            )

        return self.cached(key, compute)
