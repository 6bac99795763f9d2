"""The pages most people open, computed before they are asked for.

:class:`Warmer` computes the common pages in a background thread after
startup and again after every data change: this month, this fiscal year and
last month, for the company and every organisation level, in both languages,
into the page cache (:mod:`kpitree.web.cache`). ``Project.status`` on a large
warehouse takes seconds; a warmed page is a lookup and a template.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from kpitree.web.cache import CachedSource, PageCache, page_version

if TYPE_CHECKING:
    from kpitree.project import Project

__all__ = ["Warmer"]

log = logging.getLogger("kpitree.web")


class Warmer:
    """Keeps the common pages computed: at start and whenever the data version
    or the definition changes (checked every ``interval`` seconds)."""

    def __init__(
        self,
        load_project: Callable[[], Project | None],
        cache: PageCache,
        interval: float = 0.1,
        langs: Sequence[str] = ("ja", "en"),
        start_delay: float = 0.0,
    ) -> None:
        self.load_project = load_project
        self.cache = cache
        self.interval = interval
        self.start_delay = start_delay
        self.langs = tuple(langs)
        self.warmed: tuple[Any, ...] | None = None
        self.rounds = 0
        self._round = 0
        self.busy = False
        self.last_seconds: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kpitree-warmer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def state(self) -> dict[str, Any]:
        """What the warmer is doing (for ``/api/pages/cache``)."""
        return {
            "warming": self.busy or self.warmed is None,
            "rounds": self.rounds,
            "last_seconds": None if self.last_seconds is None else round(self.last_seconds, 2),
        }

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        from kpitree.web.live import writer_waiting

        self._stop.wait(self.start_delay)
        while not self._stop.is_set():
            again = False
            try:
                project = self.load_project()
                if project is not None:
                    version = page_version(project)
                    if version != self.warmed:
                        self.busy = True
                        started = time.perf_counter()
                        try:
                            done = self.warm(project)
                        finally:
                            self.busy = False
                        if done:
                            self.last_seconds = time.perf_counter() - started
                            self.warmed = version
                            self.rounds += 1
                        # At once on new data; while an import waits, every interval.
                        again = not done and not writer_waiting(project)
            except Exception:  # a broken definition or a busy file: try again later
                log.warning("warming the page cache failed", exc_info=True)
            if not again:
                self._stop.wait(self.interval)

    def warm(self, project: Project) -> bool:
        """Compute this month's, this fiscal year's and last month's pages
        (company and organisation levels) in every language, this month's
        first. Stops early (returns false) when the data or the definition
        changes meanwhile, another process waits to write the warehouse, or
        the warmer is stopped: the queries running are
        interrupted, and the next round starts again from this month, on the
        new data, instead of finishing pages nobody will be shown."""
        from kpitree.engines.engine import OPENED_FOR, interrupt_engines
        from kpitree.web.live import writer_waiting

        source = self.cache.source(project)

        def current() -> bool:
            # Another process waiting to write the warehouse (an import) goes
            # first: the round stops rather than hold the file while it waits.
            return (
                not self._stop.is_set()
                and page_version(project) == source.version
                and not writer_waiting(project)
            )

        self._round += 1
        purpose = ("kpitree-warm-up", id(self), self._round)
        token = OPENED_FOR.set(purpose)
        ended = threading.Event()

        def watch() -> None:
            while not ended.wait(0.05):
                if not current():
                    interrupt_engines(purpose)

        watcher = threading.Thread(target=watch, name="kpitree-warmer-watch", daemon=True)
        watcher.start()
        try:
            return self._warm(project, source, current)
        except Exception:
            if not current():  # interrupted: a newer round starts
                return False
            raise
        finally:
            ended.set()
            OPENED_FOR.reset(token)
            watcher.join()

    def _warm(self, project: Project, source: CachedSource, current: Callable[[], bool]) -> bool:
        import contextvars

        from kpitree.web import views
        from kpitree.web.views.common import (
            PageQuery,
            history_status,
            main_status,
            quality_report,
        )
        from kpitree.web.views.funnel import cohort_rates

        this_period = project.period(None, as_of=source.today())

        def run(key: Hashable, compute: Callable[[], Any]) -> bool:
            if current():
                source.cached(key, compute)
            return current()

        # What this period's pages share, side by side: after new data every
        # open page asks for these at once, and one after the other they would
        # take as long as their sum.
        if not current():
            return False
        first = PageQuery(period=None, lang=self.langs[0])

        def quality(source: CachedSource, *_: Any) -> Any:
            # Every page warns on the nodes a data-quality finding touches.
            return quality_report(source)

        shared = (main_status, history_status, cohort_rates, quality)
        with ThreadPoolExecutor(len(shared), thread_name_prefix="kpitree-warmer") as pool:
            running = [
                pool.submit(contextvars.copy_context().run, f, source, first, this_period)
                for f in shared
            ]
            for done in running:
                done.result()
        # Now, the fiscal year so far, and the period a review meeting looks back at.
        for period in (None, f"FY{this_period.fiscal_year}", this_period.previous().key):
            for lang in self.langs:
                query = PageQuery(period=period, lang=lang)
                builders: tuple[tuple[str, Callable[..., dict[str, Any]]], ...] = (
                    ("tree", views.tree_view),
                    ("funnel", views.funnel_view),
                    ("departments", views.departments_view),
                )
                for page, build in builders:
                    if not run(("view", page, query), partial(build, source, query)):
                        return False
                if period is None:
                    # What every Node page needs besides main_status (this period).
                    if not current():
                        return False
                    history_status(source, query, this_period)
                    # The Plan page as /plan?lang=... asks for it (no changed values).
                    plan = partial(views.plan_view, project, query, {}, None)
                    if not current():
                        return False
                    source.of_definition(("plan", ((), (), "", False), lang), plan)
        return True
