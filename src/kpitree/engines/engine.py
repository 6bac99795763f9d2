"""The engine: one Ibis backend where canonical tables are read and metrics computed.

Instants are stored in UTC; what day or month an instant falls in depends on the
project's time zone. The engine sets the backend's *session* time zone to it, so
casting a ``TIMESTAMPTZ`` to ``DATE`` (``.date()`` in Ibis) gives the local calendar
day on DuckDB and PostgreSQL alike, and one Ibis expression gives the same numbers
everywhere.

Example::

    from kpitree.engines import open_engine

    with open_engine(".kpitree/warehouse.duckdb", timezone="Asia/Tokyo") as engine:
        leads = engine.table("leads")
        per_day = leads.group_by(day=leads.created_at.date()).agg(n=leads.count())
        print(engine.execute(per_day))
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kpitree.data import schema
from kpitree.engines.duckdb_results import duckdb_arrow
from kpitree.errors import UserError

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = ["OPENED_FOR", "Engine", "interrupt_engines"]

OPENED_FOR: contextvars.ContextVar[object] = contextvars.ContextVar(
    "kpitree_opened_for", default=None
)
"""What the engines opened in this context are for (a web warm-up round, say):
:func:`interrupt_engines` stops the queries of those of one purpose."""
_OPEN: weakref.WeakSet[Engine] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()
# A name has_table may look up by binding it (no quoting, no file or path).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interrupt_engines(opened_for: object) -> int:
    """Interrupt the running queries of every open engine opened for
    ``opened_for`` (see :data:`OPENED_FOR`); how many engines were asked. The
    interrupted computation fails with the driver's interruption error."""
    with _OPEN_LOCK:
        chosen = [e for e in _OPEN if e.opened_for == opened_for and opened_for is not None]
    for engine in chosen:
        engine.interrupt()
    return len(chosen)


# Ibis backend -> the statement that sets its session time zone.
_SESSION_ZONE = {
    "duckdb": "SET TimeZone = '{zone}'",
    "postgres": "SET TIME ZONE '{zone}'",
    "risingwave": "SET TIME ZONE '{zone}'",
    "trino": "SET TIME ZONE '{zone}'",
    "snowflake": "ALTER SESSION SET TIMEZONE = '{zone}'",
    "mysql": "SET time_zone = '{zone}'",
}
_UTC = frozenset({"UTC", "Etc/UTC"})


def _redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


class Engine:
    """Where canonical tables are read and metrics computed (one Ibis backend).

    Made by :func:`open_engine`. ``where`` says where the data is, for messages (a
    file path, or the URL without its password).
    """

    def __init__(
        self,
        backend: ibis.BaseBackend | None,
        *,
        timezone: str,
        where: str,
        read_only: bool,
        owned: bool = True,
        connection: Any = None,
    ) -> None:
        # A DuckDB file is opened with DuckDB alone (``connection``): the Ibis
        # backend, whose import costs more than most queries, is made from that
        # connection the first time an expression needs it (SQL kept in a
        # query cache runs without it).
        if backend is None and connection is None:
            raise TypeError("an engine needs an Ibis backend or a DuckDB connection")
        self._backend = backend
        self._connection = connection
        self._backend_lock = threading.Lock()
        # False for a connection the caller made (attach_engine): never closed here.
        self.owned = owned
        self.name: str = backend.name if backend is not None else "duckdb"
        self.timezone = timezone
        self.where = where
        self.read_only = read_only
        # (rep, department, team) the project's organisation declares: owners
        # of facts are matched to them (kpitree.compute.owners).
        self.roster: tuple[tuple[str, str, str], ...] = ()
        # Where the SQL of lookups (owners, custom dimensions) is kept between
        # runs: a project's query cache (kpitree.compute.querycache.lookup).
        self.sql_cache: Any = None
        self._closed = False
        self._data_state: tuple[str, dict[str, int]] | None = None
        self._data_state_read = False
        # Canonical tables already looked up (read-only engines: nobody changes
        # their columns meanwhile); each lookup asks the database for the schema.
        self._tables: dict[str, ir.Table] = {}
        self.opened_for = OPENED_FOR.get()
        self._cursors: list[Any] = []
        # Canonical tables read as expressions over other tables (tables an ELT
        # tool landed: kpitree.engines.landed.attach_landed).
        self.views: dict[str, ir.Table] = {}
        # Canonical tables those landed tables cannot fill (-> what is missing):
        # the data check says so (``history_missing``).
        self.landed_gaps: dict[str, str] = {}
        from kpitree.engines.dialects import NO_EXACT_MEDIAN

        # Medians computed with the engine's approximation (Trino, BigQuery):
        # the status flags the values (``approximate_median``).
        self.approximate_median = self.name in NO_EXACT_MEDIAN
        with _OPEN_LOCK:
            _OPEN.add(self)
        try:
            self._set_session_zone()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"Engine({self.name!r}, {self.where!r}, timezone={self.timezone!r})"

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the backend's connection (idempotent)."""
        if not self._closed:
            self._closed = True
            with _OPEN_LOCK:
                _OPEN.discard(self)
            if not self.owned:
                return
            if self._backend is not None:
                self._backend.disconnect()
            if self._connection is not None:
                self._connection.close()

    @property
    def backend(self) -> ibis.BaseBackend:
        """The Ibis backend (on a DuckDB file, made on first use on a cursor of
        the engine's connection, in the engine's time zone: Ibis sets the
        session it takes to UTC, which must not touch a connection other
        threads may be running queries on)."""
        backend = self._backend
        if backend is not None:
            return backend
        with self._backend_lock:
            if self._backend is None:
                import ibis

                made = ibis.duckdb.from_connection(self._connection.cursor())
                _run(made, _SESSION_ZONE["duckdb"].format(zone=self.timezone))
                self._backend = made
            return self._backend

    @property
    def con(self) -> Any:
        """The DuckDB connection of a DuckDB engine (without making its Ibis backend)."""
        if self._connection is not None:
            return self._connection
        return self.backend.con

    def interrupt(self) -> None:
        """Stop the queries running on this engine (DuckDB; elsewhere nothing):
        they fail with DuckDB's interruption error."""
        if self.name != "duckdb" or self._closed:
            return
        with _OPEN_LOCK:
            cursors = list(self._cursors)
        if self._connection is not None and self._backend is not None:
            cursors.append(self._backend.con)
        for con in (self.con, *cursors):
            with contextlib.suppress(Exception):  # closed meanwhile: nothing runs on it
                con.interrupt()

    # -- session -------------------------------------------------------------------

    def _set_session_zone(self) -> None:
        if self.name == "pyspark":
            self.backend._session.conf.set("spark.sql.session.timeZone", self.timezone)
            return
        if self.name == "clickhouse":
            from kpitree.engines.clickhouse import set_zone

            set_zone(self.backend, self.timezone)
            return
        statement = _SESSION_ZONE.get(self.name)
        if statement is None:
            if self.timezone in _UTC:
                return  # the other backends compute in UTC already
            raise UserError.of(
                "KT515", "engines.zone_unsupported", engine=self.name, zone=self.timezone
            )
        if self._backend is None:
            self._connection.execute(statement.format(zone=self.timezone)).fetchall()
            return
        _run(self.backend, statement.format(zone=self.timezone))

    # -- reading -------------------------------------------------------------------

    def table(self, name: str) -> ir.Table:
        """The canonical table ``name`` with exactly the columns of
        :mod:`kpitree.data.schema` (bookkeeping columns such as ``_import_id`` left out)."""
        known = self._tables.get(name)
        if known is not None:
            return known
        table = self._table(name)
        if self.read_only:
            self._tables[name] = table
        return table

    def _table(self, name: str) -> ir.Table:
        import ibis.common.exceptions as ibis_errors

        names = ", ".join(t.name for t in schema.TABLES)
        try:
            spec = schema.table(name)
        except KeyError:
            raise UserError.of("KT510", "engines.unknown_table", name=name, tables=names) from None
        try:
            found = self.views[name] if name in self.views else self.backend.table(name)
        except ibis_errors.TableNotFound:
            if not self.views:
                raise UserError.of(
                    "KT510", "engines.table_missing", name=name, where=self.where, tables=names
                ) from None
            import ibis

            # Tables landed by an ELT tool stand in for some canonical tables
            # (kpitree.engines.landed): the others the database lacks are empty.
            found = ibis.memtable(schema.arrow_schema(name).empty_table())
        missing = [c for c in spec.column_names if c not in found.columns]
        if missing:
            raise UserError.of(
                "KT510",
                "engines.table_columns_missing",
                name=name,
                where=self.where,
                columns=", ".join(missing),
            )
        chosen = found.select(*spec.column_names)
        if self.name == "pyspark":
            from kpitree.engines.spark import as_instants

            instants = [c.name for c in spec.columns if c.type == "TIMESTAMPTZ"]
            return as_instants(chosen, instants)
        if self.name == "clickhouse":
            from kpitree.engines.clickhouse import in_zone

            instants = [c.name for c in spec.columns if c.type == "TIMESTAMPTZ"]
            return in_zone(chosen, instants, self.timezone)
        return chosen

    def has_table(self, name: str) -> bool:
        """Whether the database has a table (or view) ``name``."""
        if name in self.views:
            return True
        if self.name == "duckdb":
            if _IDENTIFIER.fullmatch(name) and self._reads(name):
                return True
            # fetchall: DuckDB refuses other work while a result is unfinished.
            rows = self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE table_name = $name "
                "AND schema_name = current_schema() AND database_name = current_database() "
                "UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name = $name "
                "AND schema_name = current_schema() AND database_name = current_database()",
                {"name": name},
            ).fetchall()
            return bool(rows)
        return name in self.backend.list_tables()

    def _reads(self, name: str) -> bool:
        """Whether ``name`` in the current schema can be read (DuckDB): binding
        looks up that one name, where listing the catalogue makes a fresh
        connection build every entry first (6–8 ms). ``False`` is no answer:
        the catalogue is listed then (a view that no longer binds still exists)."""
        import duckdb

        try:
            where = self.con.execute("SELECT current_database(), current_schema()").fetchall()
            database, schema_name = (str(part).replace('"', '""') for part in where[0])
            self.con.execute(
                f'SELECT NULL FROM "{database}"."{schema_name}"."{name}" LIMIT 0'
            ).fetchall()
        except duckdb.Error:
            return False
        return True

    def _rewritten(self, expr: ir.Expr) -> ir.Table:
        """``expr`` as a table, rewritten for this engine (:mod:`kpitree.engines.dialects`)."""
        from kpitree.engines.dialects import localize

        return localize(
            expr.as_table(), self.name, self.timezone, approximate=self.approximate_median
        )

    def execute(self, expr: ir.Expr) -> pa.Table:
        """Run an Ibis expression; the result as an Arrow table (a column or scalar
        expression gives a one-column table)."""
        expr = self._rewritten(expr)
        if self.name == "pyspark":
            from kpitree.engines.spark import arrow_result

            table = expr.as_table()
            return arrow_result(self.backend, self.compile(table), table)
        if self.name == "clickhouse":
            from kpitree.engines import clickhouse

            table = expr.as_table()
            return clickhouse.arrow_result(self.backend, self.compile(table), table)
        result: pa.Table = self.backend.to_pyarrow(expr.as_table())
        return result

    def compile(self, expr: ir.Expr) -> str:
        """The SQL text of an Ibis expression in this backend's dialect (what
        :meth:`execute` runs), for :meth:`execute_sql` to run again later."""
        return str(self.backend.compile(self._rewritten(expr)))

    def execute_sql(self, sql: str) -> pa.Table:
        """Run SQL text produced by :meth:`compile` on this engine; the result as an
        Arrow table. Not for user text: that goes through :meth:`query`."""
        if self.name == "duckdb":
            return duckdb_arrow(self.con, sql)
        if self.name == "pyspark":
            from kpitree.engines.spark import arrow_result

            return arrow_result(self.backend, sql)
        if self.name == "clickhouse":
            from kpitree.engines import clickhouse

            return clickhouse.arrow_result(self.backend, sql)
        return self.backend.sql(sql, dialect=self.backend.dialect).to_pyarrow()

    def data_state(self) -> tuple[str, dict[str, int]] | None:
        """For a kpitree warehouse file: a stamp of the file and how many times
        kpitree has written each canonical table (``kpitree_table_versions``),
        read once per engine (a reader holds the file: nobody writes it
        meanwhile). ``None`` for any other database, whose data may change
        without kpitree knowing."""
        if not self._data_state_read:
            self._data_state = self._read_data_state()
            self._data_state_read = True
        return self._data_state

    def _read_data_state(self) -> tuple[str, dict[str, int]] | None:
        import duckdb

        from kpitree.data.writers import file_stamp

        path = Path(self.where)
        if self.name != "duckdb" or not self.read_only or not path.is_file():
            return None
        stamp = file_stamp(path)
        try:
            rows = self.con.execute(
                "SELECT table_name, version FROM kpitree_table_versions"
            ).fetchall()
        except duckdb.Error:  # a file kpitree has not migrated: no versions
            return None
        return stamp, {str(name): int(version) for name, version in rows}

    def execute_sql_many(self, sqls: Sequence[str]) -> Iterator[pa.Table]:
        """:meth:`execute_sql` of each text, results in order. On DuckDB two run at
        a time on their own cursors (each with the session time zone), so the
        caller can work on one result while the database computes the next."""
        if self.name != "duckdb" or len(sqls) < 2:
            for sql in sqls:
                yield self.execute_sql(sql)
            return
        import threading
        from concurrent.futures import ThreadPoolExecutor

        local = threading.local()
        opened: list[Any] = []
        lock = threading.Lock()

        def run(sql: str) -> pa.Table:
            cursor = getattr(local, "cursor", None)
            if cursor is None:
                cursor = self.con.cursor()
                cursor.execute(_SESSION_ZONE["duckdb"].format(zone=self.timezone))
                local.cursor = cursor
                with lock:
                    opened.append(cursor)
                with _OPEN_LOCK:
                    self._cursors.append(cursor)
            return duckdb_arrow(cursor, sql)

        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="kpitree-sql") as pool:
                yield from pool.map(run, sqls)
        finally:
            with _OPEN_LOCK:
                self._cursors = [c for c in self._cursors if c not in opened]
            for cursor in opened:
                cursor.close()

    def query(self, sql: str, *, limit: int | None = None) -> pa.Table:
        """Run one read-only SQL query written in the backend's dialect.

        Anything but a single query (``SELECT``, ``WITH … SELECT``, set operations),
        or a query that reads files, is refused with ``KT511``; an error the database
        reports (syntax, unknown column) is ``KT512`` with the database's message.
        ``limit`` keeps the first rows (in the query's own order).
        """
        from kpitree.engines import running
        from kpitree.engines.readonly import NotParsed, check_read_only

        dialect = self.backend.dialect
        try:
            checked = check_read_only(sql, dialect)
        except NotParsed as exc:
            raise self._unparsed(sql, exc.reason) from None
        if self.name == "duckdb":
            return running.duckdb_query(self, checked, limit)
        if self.name == "postgres":
            return running.postgres_query(self, checked, limit)
        if self.name == "clickhouse":
            return running.clickhouse_query(self, checked, limit)
        return running.ibis_query(self, checked, limit)

    def _unparsed(self, sql: str, reason: str) -> UserError:
        """The error for text sqlglot cannot parse: the database's own message when it
        also rejects the text, otherwise a refusal (kpitree cannot check it)."""
        from kpitree.engines import running

        if self.name == "duckdb":
            message = running.duckdb_parse_error(self, sql)
        elif self.name == "postgres":
            message = running.postgres_parse_error(self, sql)
        else:
            message = reason
        if message is None:
            return UserError.of("KT511", "engines.query_unverifiable")
        return UserError.of("KT512", "engines.query_failed", engine=self.name, error=message)


def _run(backend: Any, statement: str) -> None:
    """Run one statement that returns nothing on ``backend``."""
    if backend.name == "duckdb":
        # DuckDB's execute() returns the connection itself: fetch, never close it.
        backend.con.execute(statement).fetchall()
        return
    result = backend.raw_sql(statement)
    close = getattr(result, "close", None)
    if close is not None and result is not getattr(backend, "con", None):
        close()
