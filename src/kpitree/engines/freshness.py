"""How fresh what is computed on a database server is. Where the engine gives
a sign of new data, the data version follows it (:func:`engine_versions`):
ClickHouse (a server or chDB) and Spark tables read from files. Elsewhere
(PostgreSQL written by others, Spark Connect, Snowflake, …) what is kept from
it (pages, account scores) stands for :data:`SERVER_DATA_TTL` seconds: its data
version moves on every that many seconds (docs/web.md, live updates).

- **ClickHouse**: per table of the database, its active parts (how many, their
  rows and bytes on disk, the newest part's modification time and the highest
  block number: an insert, a mutation or a swap makes new parts), with
  ``system.tables``' total rows and bytes (tables without parts, e.g. Memory).
- **Spark** (``pyspark://``): per table of the session's current database, the
  files it is read from (``DataFrame.inputFiles``, after ``REFRESH TABLE`` so a
  write from another process is seen): an overwrite or append of Parquet, a
  Delta or Iceberg commit, names other files. A table whose files Spark cannot
  list (a view, a JDBC table) leaves the version time-based. Spark Connect
  (``sc://``) does not list files: time-based.

A PostgreSQL database that kpitree imports write (``data.warehouse:
postgresql://…``) keeps the versions of its tables (``kpitree_table_versions``,
bumped in each import's, sync's or undo's transaction): its data version also
names them, so pages follow those writes at once (:func:`written_versions`, read
at most every :data:`VERSIONS_EVERY` seconds); writes from elsewhere (an ELT
tool, ``copy_warehouse``) are still seen within the time-to-live."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "ENGINE_VERSIONS_EVERY",
    "SERVER_DATA_TTL",
    "VERSIONS_EVERY",
    "engine_signal",
    "engine_versions",
    "server_data_version",
    "written_versions",
]

SERVER_DATA_TTL = 300.0
VERSIONS_EVERY = 1.0
# Listing a Spark table's files costs a few hundred milliseconds on a lake:
# asked at most every this many seconds (ClickHouse's system tables too).
ENGINE_VERSIONS_EVERY = 2.0

_SEEN: dict[str, tuple[float, str]] = {}
_SEEN_LOCK = threading.Lock()


def server_data_version(clock: Callable[[], float] = time.time) -> str:
    """``server:<n>``, ``n`` counting periods of :data:`SERVER_DATA_TTL`
    seconds on ``clock``."""
    return f"server:{int(clock() // SERVER_DATA_TTL)}"


def written_versions(url: str) -> str:
    """The versions of the tables kpitree imports wrote in the PostgreSQL
    database ``url`` (a short text; empty when it holds no import log or cannot
    be reached now), asked at most every :data:`VERSIONS_EVERY` seconds."""
    return _at_most_every(_SEEN, url, VERSIONS_EVERY, time.monotonic(), lambda: _ask(url))


def _at_most_every(
    seen: dict[str, tuple[float, str]], key: str, every: float, now: float, ask: Callable[[], str]
) -> str:
    """``ask()``'s answer for ``key``, asked again only when the one kept in
    ``seen`` is ``every`` seconds old (at ``now``)."""
    with _SEEN_LOCK:
        kept = seen.get(key)
    if kept is not None and now - kept[0] < every:
        return kept[1]
    text = ask()
    with _SEEN_LOCK:
        seen[key] = (now, text)
    return text


def _ask(url: str) -> str:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as con:
            row = con.execute("SELECT to_regclass('kpitree_table_versions') IS NULL").fetchone()
            if row is None or row[0]:
                return ""
            rows = con.execute(
                "SELECT table_name, version FROM kpitree_table_versions ORDER BY table_name"
            ).fetchall()
    except psycopg.Error:  # the pages say what is wrong; the version stays time-based
        return ""
    return ",".join(f"{name}={version}" for name, version in rows)


_ENGINE_SEEN: dict[str, tuple[float, str]] = {}

# Every table of the database with its parts (none for tables without parts).
CLICKHOUSE_VERSIONS = """\
SELECT t.name AS name, t.total_rows AS total_rows, t.total_bytes AS total_bytes,
       p.parts AS parts, p.rows AS rows, p.bytes AS bytes,
       toString(p.modified) AS modified, p.block AS block
FROM system.tables AS t
LEFT JOIN (
    SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes,
           max(modification_time) AS modified, max(max_block_number) AS block
    FROM system.parts
    WHERE active AND database = currentDatabase()
    GROUP BY table
) AS p ON p.table = t.name
WHERE t.database = currentDatabase()
ORDER BY t.name"""


def engine_versions(
    url: str, timezone: str = "Asia/Tokyo", clock: Callable[[], float] = time.monotonic
) -> str:
    """A digest of what the engine at ``url`` says of its tables' data (see the
    module's docstring), asked at most every :data:`ENGINE_VERSIONS_EVERY`
    seconds; empty when the engine gives no such sign or cannot be asked now
    (the version then stays time-based). ``timezone``: the project's, which the
    engine sets as its session's (one Spark session serves the whole process)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("clickhouse", "chdb", "pyspark"):
        return ""
    return _at_most_every(
        _ENGINE_SEEN,
        url,
        ENGINE_VERSIONS_EVERY,
        clock(),
        lambda: _ask_engine(url, scheme, timezone),
    )


def _ask_engine(url: str, scheme: str, timezone: str) -> str:
    from kpitree.engines.opening import open_engine

    try:
        with open_engine(url, timezone=timezone) as engine:
            return _signal(engine)
    except Exception:  # the pages say what is wrong; the version stays time-based
        return ""


def engine_signal(engine: Any, clock: Callable[[], float] = time.monotonic) -> str:
    """What the open ``engine`` says of its tables' data, as a short digest (see
    the module's docstring); empty when it gives no such sign. Asked at most
    every :data:`ENGINE_VERSIONS_EVERY` seconds per engine location (kept
    account scores ask on every page that shows them)."""
    if engine.name not in ("pyspark", "clickhouse"):
        return ""
    key = f"{engine.name}:{engine.where}"
    return _at_most_every(
        _ENGINE_SEEN, key, ENGINE_VERSIONS_EVERY, clock(), lambda: _signal(engine)
    )


def _signal(engine: Any) -> str:
    import hashlib

    state: object
    try:
        if engine.name == "pyspark":
            state = _spark_files(engine.backend)
        elif engine.name == "clickhouse":
            state = engine.execute_sql(CLICKHOUSE_VERSIONS).to_pylist()
        else:
            return ""
    except Exception:  # a session that cannot list files (Spark Connect): time-based
        return ""
    if not state:
        return ""
    return hashlib.sha256(repr(state).encode("utf-8")).hexdigest()[:16]


def _spark_files(backend: object) -> list[tuple[str, list[str]]] | None:
    """Each table of the current database with the files it is read from;
    ``None`` when one of them lists none (not a file source)."""
    from kpitree.engines.spark import session_of

    session = session_of(backend)
    state = []
    for table in session.catalog.listTables():
        if table.isTemporary:
            continue
        session.catalog.refreshTable(table.name)
        files = sorted(session.table(table.name).inputFiles())
        if not files:
            return None
        state.append((table.name, files))
    return state
