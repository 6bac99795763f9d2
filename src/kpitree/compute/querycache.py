"""Compiled SQL of metric queries, kept so that asking the same question again
skips building and compiling the Ibis expression.

Turning a metric query into SQL costs tens of milliseconds per query (building
the expression, Ibis's rewrites, sqlglot); a status of a whole tree runs several,
so a dashboard or a second CLI run would spend most of its time compiling text it
already had. The cache maps a *fingerprint* of everything that shapes the SQL
(the metrics' definitions, periods, segment level, filters, as-of day, the
engine, its time zone and location, and the code and library versions that
generate the SQL) to the SQL text and the result's column types (the database
may answer a sum as a decimal where Ibis promises a float: the result is cast to
the types Ibis gives the expression). Results are never cached here: the SQL runs
on every call, so new data is always seen.

A query that reads in-memory tables (Ibis memtables, whose data lives in the
process) is never cached. With a ``path`` the cache is also kept on disk
(``.kpitree/cache/queries.json`` in a project), written atomically and bounded
in size, so a later process starts warm.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from kpitree.engines import Engine

__all__ = ["QueryCache", "query_cache"]

_LIMIT = 500  # entries kept (most recently used)


@cache
def _code_version() -> str:
    """A digest of the code that turns metrics into SQL, and of the libraries'
    versions: a cached text is only used by the code that wrote it."""
    from importlib import metadata

    digest = hashlib.sha256()
    root = Path(__file__).parent
    for folder in (root, root.parent / "engines"):
        for file in sorted(folder.glob("*.py")):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    for package in ("ibis-framework", "sqlglot", "duckdb"):
        digest.update(f"{package}={metadata.version(package)}".encode())
    return digest.hexdigest()


def _reads_memory(expr: ir.Expr) -> bool:
    import ibis.expr.operations as ops

    return bool(expr.op().find(ops.InMemoryTable))


class QueryCache:
    """SQL text by fingerprint; thread-safe; optionally kept in a JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: OrderedDict[str, tuple[str, list[tuple[str, str]]]] = OrderedDict()
        self._lock = threading.Lock()
        self._loaded = path is None
        self._dirty = False
        self.hits = 0
        self.misses = 0

    def fingerprint(self, engine: Engine, *parts: Any) -> str:
        """The key of a query: ``parts`` must determine its SQL (``repr`` is used,
        so give values whose ``repr`` shows their whole content)."""
        text = repr((_code_version(), engine.name, engine.timezone, engine.where, parts))
        return hashlib.sha256(text.encode()).hexdigest()

    def run(self, engine: Engine, key: str, build: Callable[[], ir.Expr]) -> pa.Table:
        """The result of the query with fingerprint ``key``, compiled from
        ``build()`` only when its SQL is not known yet."""
        results = self.run_many(engine, [(key, build)])
        try:
            return next(results)
        finally:
            results.close()

    def run_many(
        self, engine: Engine, queries: Sequence[tuple[str, Callable[[], ir.Expr]]]
    ) -> Generator[pa.Table, None, None]:
        """:meth:`run` for several ``(key, build)`` queries, results in order: the
        ones not known are compiled first, then all run (two at a time on
        DuckDB) while the caller takes the results."""
        import ibis

        prepared = [self._prepare(engine, key, build) for key, build in queries]
        texts = [entry[0] for entry in prepared if isinstance(entry, tuple)]
        results = engine.execute_sql_many(texts)
        for entry in prepared:
            if not isinstance(entry, tuple):
                yield engine.execute(entry)
                continue
            table = next(results)
            wanted = ibis.schema(dict(entry[1])).to_pyarrow()
            yield table if table.schema.equals(wanted) else table.cast(wanted)

    def _prepare(
        self, engine: Engine, key: str, build: Callable[[], ir.Expr]
    ) -> tuple[str, list[tuple[str, str]]] | ir.Table:
        """The SQL and column types of a query, or its expression when it reads
        in-memory tables (never kept)."""
        entry = self._get(key)
        if entry is None:
            expr = build().as_table()
            if _reads_memory(expr):
                return expr
            schema = [(name, str(dtype)) for name, dtype in expr.schema().items()]
            entry = (engine.compile(expr), schema)
            self._put(key, entry)
        return entry

    def _get(self, key: str) -> tuple[str, list[tuple[str, str]]] | None:
        with self._lock:
            self._load()
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return entry

    def _put(self, key: str, entry: tuple[str, list[tuple[str, str]]]) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > _LIMIT:
                self._entries.popitem(last=False)
            self._dirty = True

    def _load(self) -> None:
        if self._loaded or self.path is None:
            return
        self._loaded = True
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # no file yet, or a damaged one: start empty
        if isinstance(stored, dict) and stored.get("code") == _code_version():
            entries = stored.get("queries", {})
            if isinstance(entries, dict):
                for k, (sql, columns) in entries.items():
                    self._entries[str(k)] = (str(sql), [(str(n), str(t)) for n, t in columns])

    def save(self) -> None:
        """Write new entries to the file (atomically; a failure only loses the cache)."""
        with self._lock:
            if self.path is None or not self._dirty:
                return
            self._dirty = False
            body = json.dumps({"code": _code_version(), "queries": dict(self._entries)})
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".queries-", dir=self.path.parent)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(body)
                Path(tmp).replace(self.path)
            except OSError:
                pass


_CACHES: dict[Path | None, QueryCache] = {}
_CACHES_LOCK = threading.Lock()


def query_cache(path: Path | None = None) -> QueryCache:
    """The process-wide cache kept in ``path`` (``None``: in memory only)."""
    key = path.resolve() if path is not None else None
    with _CACHES_LOCK:
        if key not in _CACHES:
            _CACHES[key] = QueryCache(key)
        return _CACHES[key]
