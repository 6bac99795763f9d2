"""The server's syncs: each source's ``schedule``, "sync now" and webhooks.

One :class:`SyncRunner` per app runs for the app's lifetime (started by its
lifespan). It syncs one source at a time, each in a ``kpitree sync --source
NAME`` process (as uploads are imported: the server's own connections to the
warehouse stay read-only), which takes the project's sync lock
(:mod:`kpitree.connectors.lock`): a sync running in another process (cron, a
second server) makes this one skip its turn and try again a little later,
never run beside it.

A source with ``schedule: {every: 15m}`` is due ``every`` after its last
attempt as the warehouse remembers it (whichever process made it), so a
restarted server does not sync again at once, and a source never synced is
due when the server starts. A request (the Data page's button, ``POST
/api/sources/{name}/sync``, a verified webhook) makes a source due now;
requests for a source already waiting are one. A webhook's request names the
records it reported (object -> ids): the sync then reads only those objects
(what changed since their cursors, and those records directly); a request for
the whole source waiting beside it wins. Open pages update after a sync that
changed data, as after an import (:mod:`kpitree.web.live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kpitree.data.syncstore import SourceState
    from kpitree.project import Project

__all__ = ["BUSY_RETRY_SECONDS", "SyncRunner", "background", "read_sources_kept", "read_states"]

log = logging.getLogger("kpitree.web")
BUSY_RETRY_SECONDS = 30.0
"""How long a source waits when another process holds the project's sync lock."""
MAX_RECORD_IDS = 1_000
"""At most this many record ids of one object are passed to a sync; beyond, the
object is synced from its cursor only (the search finds them too)."""
_IDLE_SECONDS = 30.0
"""At most this long between looks at ``kpitree.yaml`` (a schedule added or changed)."""


def read_states(project: Project) -> dict[str, SourceState]:
    """Every source the warehouse remembers (as ``kpitree sources`` shows
    them), read through the project's read-only engine like the pages' data."""
    from kpitree.errors import KpitreeError

    target = project.warehouse_target
    if "://" not in target and not Path(target).exists():
        return {}
    try:
        return _read_states(project)
    except KpitreeError:
        # The file busy (being created by another thread of this process, or
        # locked past the engine's wait): no state to show this time.
        log.info("the sources' state is not readable now", exc_info=True)
        return {}


def _read_states(project: Project) -> dict[str, SourceState]:
    from kpitree.data.syncstore import SourceState

    with project.engine() as engine:
        tables = {
            str(r["table_name"])
            for r in engine.query("SELECT table_name FROM information_schema.tables").to_pylist()
        }
        if "kpitree_sources" not in tables:
            return {}
        heads = engine.query(
            "SELECT source, type, last_attempt_at, last_success_at, last_import_id, "
            "last_error_code, last_error FROM kpitree_sources"
        ).to_pylist()
        cursors = engine.query("SELECT source, object, cursor FROM kpitree_sync_state").to_pylist()
        counts = engine.query(
            "SELECT source, object, count(*) AS n FROM kpitree_sync_records GROUP BY ALL"
        ).to_pylist()
    out = {
        r["source"]: SourceState(
            r["source"],
            r["type"],
            _utc(r["last_attempt_at"]),
            _utc(r["last_success_at"]),
            r["last_import_id"],
            r["last_error_code"],
            r["last_error"],
            {},
            {},
        )
        for r in heads
    }
    for r in cursors:
        if r["source"] in out:
            out[r["source"]].cursors[r["object"]] = r["cursor"]
    for r in counts:
        if r["source"] in out:
            out[r["source"]].records[r["object"]] = int(r["n"])
    return out


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class SyncRunner:
    """The syncs of one project while the server runs."""

    project_path: Path
    requested: list[str] = field(default_factory=list)
    running: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _not_before: dict[str, float] = field(default_factory=dict)
    """Source -> monotonic time before which it is not tried (the lock was busy)."""
    _ran: dict[str, float] = field(default_factory=dict)
    """Source -> monotonic time of its last sync by this runner."""
    runs: int = 0
    """Syncs started by this runner (tests wait on it)."""
    records: dict[str, dict[str, set[str]] | None] = field(default_factory=dict)
    """Source -> what its waiting request asks: object -> record ids (a
    webhook's), or ``None``: the whole source."""
    commands: list[list[str]] = field(default_factory=list)
    """The arguments of each sync started (after ``kpitree sync``)."""
    app: FastAPI | None = None

    def request(self, name: str, records: dict[str, set[str]] | None = None) -> bool:
        """Make ``name`` due now (only ``records``, object -> ids, when given);
        ``False`` when it is already waiting (what it asks is merged in)."""
        if name in self.requested:
            pending = self.records.get(name)
            if pending is not None:
                if records is None:
                    self.records[name] = None
                else:
                    for obj, ids in records.items():
                        pending.setdefault(obj, set()).update(ids)
            return False
        self.requested.append(name)
        self.records[name] = None if records is None else {o: set(i) for o, i in records.items()}
        self.wake.set()
        return True

    def schedules(self) -> dict[str, int]:
        """Source -> seconds between scheduled syncs (sources with a schedule)."""
        from kpitree.definition.spec_sources import parse_every

        try:
            specs = read_sources_kept(self.project_path)
        except Exception:  # a broken definition shows on the pages; no schedule meanwhile
            return {}
        out = {}
        for name, spec in specs.items():
            if spec.schedule is not None:
                seconds = parse_every(spec.schedule.every)
                if seconds:
                    out[name] = seconds
        return out

    def next_runs(self, project: Project | None) -> dict[str, datetime]:
        """Source -> when its schedule makes it due (now or later)."""
        schedules = self.schedules()
        if not schedules:
            return {}
        try:
            states = read_states(project) if project is not None else {}
        except Exception:  # unreadable for now: all due, the sync lock decides
            log.exception("reading the sources' state")
            states = {}
        now = datetime.now(UTC)
        out = {}
        for name, seconds in schedules.items():
            state = states.get(name)
            last = None if state is None else state.last_attempt_at
            out[name] = now if last is None else max(now, last + timedelta(seconds=seconds))
        return out

    def _project(self) -> Project | None:
        from kpitree.web import live

        if self.app is not None:
            return live._project_or_none(self.app)
        from kpitree.project import Project

        return Project.load(self.project_path)

    def _due(self) -> tuple[str | None, float]:
        """The source to sync now (requests first), or how long to wait."""
        clock = time.monotonic()
        for name in self.requested:
            if self._not_before.get(name, 0.0) <= clock:
                return name, 0.0
        wait = _IDLE_SECONDS
        runs = self.next_runs(self._project())
        now = datetime.now(UTC)
        for name, when in sorted(runs.items(), key=lambda item: item[1]):
            # At most one scheduled sync a minute, even if its failure was not recorded.
            held = max(self._not_before.get(name, 0.0), self._ran.get(name, -1e9) + 60.0) - clock
            if when <= now and held <= 0:
                return name, 0.0
            wait = min(wait, max((when - now).total_seconds(), held, 0.05))
        for name in self.requested:
            wait = min(wait, max(self._not_before.get(name, 0.0) - clock, 0.05))
        return None, wait

    async def _sync(self, name: str, records: dict[str, set[str]] | None = None) -> bool:
        """Sync one source in a ``kpitree sync`` process (as uploads are imported:
        the server's own connections to the warehouse stay read-only); ``False``
        when another sync held the project's lock. Cancelled (the server
        stopping), the process is ended: its sync stores nothing."""
        import sys

        from kpitree.connectors.lock import lock_busy

        if lock_busy(self.project_path):
            return False
        args = [str(self.project_path), "--source", name, "--json"]
        for obj, ids in sorted((records or {}).items()):
            listed = sorted(ids) if len(ids) <= MAX_RECORD_IDS else []
            args += ["--records", f"{obj}={','.join(listed)}"]
        self.commands.append(args)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kpitree",
            "sync",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        text = err.decode("utf-8", "replace")
        if process.returncode and lock_busy(self.project_path):
            return False  # another process syncs the project (KT957): try again later
        if process.returncode:
            log.warning("sync of %s failed: %s", name, (text or out.decode())[-2000:])
        return True

    async def run(self, app: FastAPI | None = None) -> None:
        """Run syncs as they fall due, until cancelled."""
        from kpitree.web import live

        self.app = app
        while True:
            self.wake.clear()  # before looking: a request made while looking wakes the wait
            name, wait = await asyncio.to_thread(self._due)
            if name is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=wait)
                continue
            self.running = name
            self.runs += 1
            # Taken off the queue as it starts: a request made while it runs
            # asks for another sync (the change may have come too late for this one).
            requested = name in self.requested
            records = None
            if requested:
                self.requested.remove(name)
                records = self.records.pop(name, None)
            try:
                done = await self._sync(name, records)
            except Exception:  # never let the runner die
                log.exception("sync of %s", name)
                done = True
            finally:
                self.running = None
                self._ran[name] = time.monotonic()
            if done:
                self._not_before.pop(name, None)
            else:
                self._not_before[name] = time.monotonic() + BUSY_RETRY_SECONDS
                if requested:
                    self.request(name, records)
            if app is not None:
                live.notify(app)

    def state(self) -> dict[str, Any]:
        return {"running": self.running, "requested": list(self.requested)}


async def background(app: FastAPI) -> None:
    """The app's sync runner (``app.state.syncs``) until the server stops."""
    await app.state.syncs.run(app)


_SOURCES: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
_SOURCES_LOCK = threading.Lock()


def read_sources_kept(project_path: Path) -> dict[str, Any]:
    """:func:`kpitree.definition.spec_sources.read_sources`, kept while
    kpitree.yaml keeps its size and modification time (reading it parses the
    whole definition; the Data page asks twice a request). A broken
    definition raises every time."""
    from kpitree.definition.spec_sources import read_sources

    try:
        st = (Path(project_path) / "kpitree.yaml").stat()
    except OSError:
        return read_sources(project_path)
    signature = (st.st_mtime_ns, st.st_size)
    key = Path(project_path).resolve()
    with _SOURCES_LOCK:
        found = _SOURCES.get(key)
    if found is not None and found[0] == signature:
        return found[1]
    specs = read_sources(project_path)
    with _SOURCES_LOCK:
        _SOURCES[key] = (signature, specs)
    return specs
