"""Taking turns on a warehouse file: one writer at a time, readers that step aside.

DuckDB admits one writing process per file. Inside a process, threads share the
database instance, so :func:`writer_lock` keeps two write transactions apart;
between processes, :func:`writer_turn` announces a writer so that readers
(:func:`wait_for_writers`) let it in. A writer's transaction also bumps the
versions of the tables it wrote (:func:`bump_versions`), which caches and open
pages watch, and :func:`file_stamp` changes whenever the file is written.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.data.schema import DIMENSION_VALUES_TABLE

if TYPE_CHECKING:
    import duckdb

    from kpitree.data.links import LinkKeys

__all__ = [
    "PAUSE_ENV",
    "bump_versions",
    "busy",
    "file_stamp",
    "migration_lock",
    "pause_for_tests",
    "refresh_dimensions",
    "refresh_links",
    "wait_for_writers",
    "writer_lock",
    "writer_turn",
    "writers_waiting",
]

PAUSE_ENV = "KPITREE_IMPORT_PAUSE_FILE"


_WRITERS: dict[Path, threading.Lock] = {}
_WRITERS_GUARD = threading.Lock()


def busy(exc: Exception) -> bool:
    """Whether DuckDB refused to open a file only for now: another process holds
    its lock, or a thread of this process has it open the other way (read-only
    beside read-write, as while the first request creates the warehouse that the
    dashboard's warm-up reads). Waiting a moment then opens it."""
    text = str(exc).lower()
    return "lock" in text or "different configuration" in text


def writer_lock(path: Path) -> threading.Lock:
    """One writer at a time per warehouse file in this process.

    Other processes are kept out by DuckDB's file lock; threads of one process share
    the database instance, where two write transactions would conflict at commit.
    """
    key = path.resolve()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, threading.Lock())


_MIGRATIONS: dict[Path, threading.Lock] = {}


def migration_lock(path: Path) -> threading.Lock:
    """One thread at a time applies migrations to a warehouse file in this process
    (the next one finds them applied)."""
    key = path.resolve()
    with _WRITERS_GUARD:
        return _MIGRATIONS.setdefault(key, threading.Lock())


def bump_versions(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
    """One more write of each table, in the writer's transaction (see
    :func:`table_versions`)."""
    for name in sorted(set(tables)):
        con.execute(
            "INSERT INTO kpitree_table_versions VALUES (?, 1) "
            "ON CONFLICT (table_name) DO UPDATE SET version = kpitree_table_versions.version + 1",
            [name],
        ).fetchall()


def refresh_dimensions(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
    """Rebuild the custom dimensions' values of ``tables`` (kpitree.data.dimensions)."""
    from kpitree.data.dimensions import refresh_dimension_values

    if refresh_dimension_values(con, sorted(set(tables))):
        bump_versions(con, [DIMENSION_VALUES_TABLE])


def refresh_links(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    keys: LinkKeys | None = None,
    *,
    force: bool = False,
    since: int | None = None,
) -> None:
    """Rebuild the cross-source links (kpitree.data.links) when leads, deals or
    accounts changed (or ``force``); call it after the import's log row (a link
    names the source of each record). ``keys``: the match-key columns
    (``data.links`` of kpitree.yaml), default the built-in ones. ``since``:
    the first import of this write, which only inserted or updated rows: the
    links are brought up to date from what those imports wrote
    (:mod:`kpitree.data.links_update`, the same tables)."""
    from kpitree.data.links import LINKED_TABLES, LINKS_TABLE, linked_digest, rebuild_links
    from kpitree.data.links_update import update_links

    if force or set(tables) & set(LINKED_TABLES):
        before = linked_digest(con)
        if since is None or force:
            rebuild_links(con, keys)
        else:
            update_links(con, keys, since)
        # Metrics read only the links made: a write that changes none of them
        # (a deal nobody links to) keeps the results computed from them.
        if linked_digest(con) != before:
            bump_versions(con, [LINKS_TABLE])


def file_stamp(path: Path) -> str:
    """A short text that changes whenever the file at ``path`` (or its
    write-ahead log) is written: their sizes and modification times."""
    import hashlib

    parts = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            st = candidate.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{st.st_mtime_ns}:{st.st_size}")
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]


_TURN = ".writer-"
_STALE_TURN_SECONDS = 6 * 3600.0


@contextmanager
def writer_turn(path: Path) -> Iterator[None]:
    """Announce that this process writes (or waits to write) the warehouse at
    ``path``: a marker file beside it, removed on exit.

    DuckDB admits a writer only when no other process has the file open, and a
    busy reader (the web server computing one page after another) could keep a
    waiting ``kpitree import`` out until its lock timeout. Readers call
    :func:`wait_for_writers` before each connection, so the writer gets the file
    as soon as the statements already running end."""
    marker = path.with_name(f"{path.name}{_TURN}{os.getpid()}")
    with _TURNS_LOCK:  # threads of one process share the marker: the last one out removes it
        _TURNS[marker] = _TURNS.get(marker, 0) + 1
        if _TURNS[marker] == 1:
            try:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(f"{os.getpid()}\n", encoding="ascii")
            except OSError:  # a read-only folder: nothing to announce
                pass
    try:
        yield
    finally:
        with _TURNS_LOCK:
            _TURNS[marker] -= 1
            if not _TURNS[marker]:
                del _TURNS[marker]
                marker.unlink(missing_ok=True)


_TURNS: dict[Path, int] = {}
_TURNS_LOCK = threading.Lock()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def writers_waiting(path: Path) -> bool:
    """Whether another live process writes or waits to write the warehouse at
    ``path`` (see :func:`writer_turn`). Markers of dead processes are removed."""
    own = os.getpid()
    prefix = f"{path.name}{_TURN}"
    try:  # a listing, not a glob: every request asks (kpitree.web.live.data_version)
        names = [entry.name for entry in os.scandir(path.parent) if entry.name.startswith(prefix)]
    except OSError:
        return False
    for name in names:
        marker = path.parent / name
        pid = marker.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == own:
            continue
        try:
            age = time.time() - marker.stat().st_mtime
        except OSError:
            continue
        if _alive(int(pid)) and age < _STALE_TURN_SECONDS:
            return True
        marker.unlink(missing_ok=True)
    return False


def wait_for_writers(path: Path, timeout: float) -> None:
    """Wait, up to ``timeout`` seconds, while another process writes or waits
    to write the warehouse at ``path`` (readers call it before connecting)."""
    deadline = time.monotonic() + timeout
    while writers_waiting(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def pause_for_tests() -> None:
    marker = os.environ.get(PAUSE_ENV)
    if not marker:
        return
    Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
