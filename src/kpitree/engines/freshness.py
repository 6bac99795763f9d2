"""How fresh what is computed on a database server is: such a database
(PostgreSQL, Spark, ClickHouse, …) gives no cheap sign of new data, so what is
kept from it (pages, account scores) stands for :data:`SERVER_DATA_TTL`
seconds: its data version moves on every that many seconds (docs/web.md, live
updates).

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

__all__ = ["SERVER_DATA_TTL", "VERSIONS_EVERY", "server_data_version", "written_versions"]

SERVER_DATA_TTL = 300.0
VERSIONS_EVERY = 1.0

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
    now = time.monotonic()
    with _SEEN_LOCK:
        seen = _SEEN.get(url)
    if seen is not None and now - seen[0] < VERSIONS_EVERY:
        return seen[1]
    text = _ask(url)
    with _SEEN_LOCK:
        _SEEN[url] = (now, text)
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
