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
the types Ibis gives the expression).

Results are kept too, in memory only, for a kpitree warehouse file: keyed by the
SQL and the write versions of the tables it reads (``kpitree_table_versions``,
bumped by every import, bulk load and undo in its transaction; see
:meth:`kpitree.engines.Engine.data_state`). New deals therefore rerun the
queries that read deals, and the lead and activity queries answer from memory.
When the file has changed but no version has, something other than kpitree
wrote it, and every kept result of that file is dropped. Other databases
(PostgreSQL, ...) run every query every time.

A query that reads in-memory tables (Ibis memtables, whose data lives in the
process) is never cached. With a ``path`` the cache is also kept on disk
(``.kpitree/cache/queries.json`` in a project), written atomically and bounded
in size, so a later process starts warm; so are the results of a kpitree
warehouse file, in the ``results`` folder beside it, for the file in the very
state they were computed in (see :mod:`kpitree.compute.resultstore`). Both are
sealed with the user's own key (:mod:`kpitree.sealed`): SQL in a file that
someone else put in the project is never run.
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

from kpitree.data.schema import TABLES
from kpitree.sealed import seal, unseal

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from kpitree.compute.resultstore import ResultStore
    from kpitree.engines import Engine

__all__ = ["QueryCache", "arrow_schema", "lookup", "lookup_many", "query_cache"]

_LIMIT = 500  # entries kept (most recently used)
_RESULT_BYTES = 256 * 1024 * 1024  # results kept in memory, at most


@cache
def _code_version() -> str:
    """A digest of the code that turns metrics into SQL, and of kpitree's and
    the libraries' versions: a cached text is only used by the code that wrote
    it. kpitree's own version counts because an install may keep the files'
    times (a reproducible build sets them all alike): then a changed file of the
    same size would not tell an upgrade."""
    from importlib.metadata import PackageNotFoundError

    from kpitree.installed import installed_version

    root = Path(__file__).parent
    digest = hashlib.sha256(_code_digest(root, root.parent / "engines").encode())
    for package in ("kpitree", "ibis-framework", "sqlglot", "duckdb"):
        try:
            version = installed_version(package)
        except PackageNotFoundError:  # kpitree run from a source tree
            version = "not installed"
        digest.update(f"{package}={version}".encode())
    return digest.hexdigest()


def _code_digest(*folders: Path) -> str:
    """A digest of the Python files in ``folders``, named by their size and
    modification time rather than read: hashing the half a megabyte of the
    compute and engine code cost every command about a hundredth of a small
    status. An edit, a checkout or an install writes a file and changes its
    time, so the changes of an editable install count as an upgrade does."""
    digest = hashlib.sha256()
    for folder in folders:
        with os.scandir(folder) as entries:
            files = sorted((e.name, e) for e in entries if e.name.endswith(".py"))
        for name, entry in files:
            st = entry.stat()
            digest.update(f"{folder.name}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _reads_memory(expr: ir.Expr) -> bool:
    import ibis.expr.operations as ops

    return bool(expr.op().find(ops.InMemoryTable))


def _tables(expr: ir.Expr) -> list[str]:
    """The database tables an expression reads."""
    import ibis.expr.operations as ops

    return sorted({op.name for op in expr.op().find(ops.DatabaseTable)})


# Ibis type names (as ``str(dtype)`` writes them) -> Arrow type factories.
_ARROW_TYPES = {
    **{f"int{n}": f"int{n}" for n in (8, 16, 32, 64)},
    **{f"uint{n}": f"uint{n}" for n in (8, 16, 32, 64)},
    "float32": "float32",
    "float64": "float64",
    "string": "string",
    "boolean": "bool_",
    "date": "date32",
}


def arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    """The Arrow schema of a result whose column types Ibis named (the common
    types without importing Ibis; any other through Ibis)."""
    import pyarrow as pa

    fields = []
    for name, text in columns:
        nullable = not text.startswith("!")
        factory = _ARROW_TYPES.get(text.lstrip("!"))
        if factory is None:
            import ibis

            return ibis.schema(dict(columns)).to_pyarrow()
        fields.append(pa.field(name, getattr(pa, factory)(), nullable=nullable))
    return pa.schema(fields)


# Ibis type names -> DuckDB's, for the casts DuckDB does (see _typed_sql).
_DUCKDB_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
}


def _typed_sql(engine: Engine, sql: str, columns: Sequence[tuple[str, str]]) -> str:
    """On DuckDB, ``sql`` with its columns cast to the types Ibis gives them (a
    count summed is a ``HUGEINT`` where Ibis promises an ``int64``): DuckDB casts
    as it computes, so the result needs no Arrow cast (whose module alone costs
    a command a fifth of its start). Elsewhere ``sql`` as it is."""
    if engine.name != "duckdb" or not columns:
        return sql
    names = [name for name, _ in columns]
    if len(set(names)) != len(names):
        return sql
    exprs = []
    for name, text in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        target = _DUCKDB_TYPES.get(text.lstrip("!"))
        exprs.append(f"CAST({quoted} AS {target}) AS {quoted}" if target else quoted)
    return f"SELECT {', '.join(exprs)} FROM ({sql}) AS kpitree_typed"


def _as_schema(table: pa.Table, wanted: pa.Schema) -> pa.Table:
    """``table`` cast to ``wanted``; when only the columns' nullability differs
    (or nothing), without Arrow's compute module."""
    import pyarrow as pa

    if table.schema.equals(wanted):
        return table
    if table.schema.names != wanted.names or any(
        have.type != want.type for have, want in zip(table.schema, wanted, strict=True)
    ):
        return table.cast(wanted)
    for column, field in zip(table.columns, wanted, strict=True):
        if not field.nullable and column.null_count > 0:
            return table.cast(wanted)  # Arrow says which column has nulls
    return pa.Table.from_arrays(table.columns, schema=wanted)


# Only results read from these are kept: kpitree counts their writes (custom
# dimensions' values and the cross-source links too: every write that rebuilds
# them counts one).
_CANONICAL = frozenset([*(t.name for t in TABLES), "kpitree_dimension_values", "kpitree_links"])

Entry = tuple[str, list[tuple[str, str]], list[str]]
"""A query's SQL, its result's column types and the tables it reads."""


class QueryCache:
    """SQL text by fingerprint; thread-safe; optionally kept in a JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._results: OrderedDict[tuple[Any, ...], pa.Table] = OrderedDict()
        self._result_bytes = 0
        self._seen: dict[str, tuple[str, dict[str, int]]] = {}
        self.result_hits = 0
        self._lock = threading.Lock()
        self._loaded = path is None
        self._store: ResultStore | None = None
        self._dirty = False
        self.hits = 0
        self.misses = 0

    def fingerprint(self, engine: Engine, *parts: Any, owners: bool = True) -> str:
        """The key of a query: ``parts`` must determine its SQL (``repr`` is used,
        so give values whose ``repr`` shows their whole content). ``owners=False``
        for a query that does not match owners to reps (the matching's own)."""
        from kpitree.compute.owners import owner_matching

        # How owners become reps and teams.
        matched = owner_matching(engine).digest if owners else ""
        text = repr((_code_version(), engine.name, engine.timezone, engine.where, matched, parts))
        return hashlib.sha256(text.encode()).hexdigest()

    def knows(self, key: str) -> bool:
        """Whether the SQL of ``key`` is known (compiled before: it builds)."""
        with self._lock:
            self._load()
            return key in self._entries

    def keeps_results(self, engine: Engine) -> bool:
        """Whether results of ``engine``'s queries are kept (a kpitree warehouse
        file): a query run early is then found kept when asked for."""
        return engine.data_state() is not None

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
        ones not known are compiled first, then those whose result is not kept
        run (two at a time on DuckDB) while the caller takes the results."""
        prepared = [self._prepare(engine, key, build) for key, build in queries]
        versions = self._versions(engine)
        keys: list[tuple[Any, ...] | None] = []
        stored: list[str | None] = []
        found: list[pa.Table | None] = []
        for entry in prepared:
            key = None
            if isinstance(entry, tuple) and versions is not None and set(entry[2]) <= _CANONICAL:
                key = (engine.where, entry[0], tuple((t, versions.get(t, 0)) for t in entry[2]))
            keys.append(key)
            kept = self._result(key)
            name = self._stored_name(engine, key)
            if kept is None and name is not None:
                kept = self._disk().get(name)
                if kept is not None:
                    self._keep(key, kept)
                    self.result_hits += 1
            stored.append(name if kept is None else None)
            found.append(kept)
        texts = [
            _typed_sql(engine, entry[0], entry[1])
            for entry, kept in zip(prepared, found, strict=True)
            if isinstance(entry, tuple) and kept is None
        ]
        results = engine.execute_sql_many(texts)
        for entry, key, name, kept in zip(prepared, keys, stored, found, strict=True):
            if not isinstance(entry, tuple):
                yield engine.execute(entry)
                continue
            if kept is not None:
                yield kept
                continue
            table = next(results)
            table = _as_schema(table, arrow_schema(entry[1]))
            self._keep(key, table)
            if name is not None:
                self._disk().put(name, table)
            yield table

    def _disk(self) -> ResultStore:
        from kpitree.compute.resultstore import ResultStore

        if self._store is None:
            assert self.path is not None
            self._store = ResultStore(self.path.parent / "results")
        return self._store

    def _stored_name(self, engine: Engine, key: tuple[Any, ...] | None) -> str | None:
        """The file name of a result kept on disk (with a path, for a kpitree
        warehouse file), or ``None``."""
        state = engine.data_state()
        if key is None or self.path is None or state is None:
            return None
        from kpitree.compute.resultstore import ResultStore

        where, sql, versions = key
        try:  # a file put in its place (a backup restored with its times) is another file
            st = Path(where).stat()
        except OSError:
            return None
        stamp = f"{state[0]}:{st.st_dev}:{st.st_ino}"
        return ResultStore.name(_code_version(), where, engine.timezone, stamp, sql, versions)

    def _versions(self, engine: Engine) -> dict[str, int] | None:
        """The table versions results are kept under, or ``None`` (not kept).
        A file that changed while no version did was written by something else
        than kpitree: its kept results are dropped."""
        state = engine.data_state()
        if state is None:
            return None
        stamp, versions = state
        with self._lock:
            seen = self._seen.get(engine.where)
            if seen is not None and seen[0] != stamp and seen[1] == versions:
                for key in [k for k in self._results if k[0] == engine.where]:
                    self._result_bytes -= self._results.pop(key).nbytes
            self._seen[engine.where] = (stamp, versions)
        return versions

    def _result(self, key: tuple[Any, ...] | None) -> pa.Table | None:
        if key is None:
            return None
        with self._lock:
            table = self._results.get(key)
            if table is not None:
                self._results.move_to_end(key)
                self.result_hits += 1
            return table

    def _keep(self, key: tuple[Any, ...] | None, table: pa.Table) -> None:
        if key is None or table.nbytes > _RESULT_BYTES // 8:
            return
        with self._lock:
            if key in self._results:
                return
            self._results[key] = table
            self._result_bytes += table.nbytes
            while self._result_bytes > _RESULT_BYTES and self._results:
                self._result_bytes -= self._results.popitem(last=False)[1].nbytes

    def _prepare(self, engine: Engine, key: str, build: Callable[[], ir.Expr]) -> Entry | ir.Table:
        """The SQL, column types and tables of a query, or its expression when
        it reads in-memory tables (never kept)."""
        entry = self._get(key)
        if entry is None:
            expr = build().as_table()
            if _reads_memory(expr):
                return expr
            schema = [(name, str(dtype)) for name, dtype in expr.schema().items()]
            entry = (engine.compile(expr), schema, _tables(expr))
            self._put(key, entry)
        return entry

    def _get(self, key: str) -> Entry | None:
        with self._lock:
            self._load()
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return entry

    def _put(self, key: str, entry: Entry) -> None:
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
            body = unseal(self.path.read_bytes())
            if body is None:  # not sealed by this user: never run its SQL
                return
            stored = json.loads(bytes(body).decode("utf-8"))
        except (OSError, ValueError):
            return  # no file yet, or a damaged one: start empty
        if isinstance(stored, dict) and stored.get("code") == _code_version():
            entries = stored.get("queries", {})
            if isinstance(entries, dict):
                try:
                    for k, (sql, columns, tables) in entries.items():
                        self._entries[str(k)] = (
                            str(sql),
                            [(str(n), str(t)) for n, t in columns],
                            [str(t) for t in tables],
                        )
                except (TypeError, ValueError):  # written by other code: start empty
                    self._entries.clear()

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
                with os.fdopen(fd, "wb") as out:
                    out.write(seal(body.encode("utf-8")))
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


def lookup(
    engine: Engine, name: str, build: Callable[[], ir.Expr], *, keep: bool = True
) -> pa.Table:
    """The result of a small query kpitree asks on every run (who the owners
    are, which custom dimensions exist), named ``name`` (its SQL must depend
    only on the name, the engine and the code): compiled once and kept in the
    engine's ``sql_cache`` when it has one, so later runs need no Ibis.
    ``keep=False`` for a query of a table whose writes kpitree does not count:
    its result is never kept."""
    cache: QueryCache | None = engine.sql_cache
    if cache is None:
        return engine.execute(build())
    key = cache.fingerprint(engine, "lookup", name, owners=False)
    if not keep:
        entry = cache._prepare(engine, key, build)
        cache.save()
        return engine.execute_sql(entry[0]) if isinstance(entry, tuple) else engine.execute(entry)
    table = cache.run(engine, key, build)
    cache.save()  # nothing to write unless it was compiled now
    return table


def lookup_many(
    engine: Engine, named: Sequence[tuple[str, Callable[[], ir.Expr]]]
) -> list[pa.Table]:
    """:func:`lookup` of several ``(name, build)`` queries in one batch (two at
    a time on DuckDB, the warehouse's versions read once), results in order."""
    cache: QueryCache | None = engine.sql_cache
    if cache is None:
        return [engine.execute(build()) for _, build in named]
    queries = [
        (cache.fingerprint(engine, "lookup", name, owners=False), build) for name, build in named
    ]
    results = cache.run_many(engine, queries)
    try:
        tables = list(results)
    finally:
        results.close()
    cache.save()  # nothing to write unless one was compiled now
    return tables
