"""The warehouse's SQL on PostgreSQL: a connection that speaks like DuckDB's.

The import, sync and undo paths (:mod:`kpitree.data.upsert`,
:mod:`kpitree.data.deletions`, :mod:`kpitree.data.syncstore`, the import log, the
migrations) are written once, in DuckDB's SQL, against a DuckDB connection.
:class:`PgConnection` gives a PostgreSQL connection the same surface, so the
same code writes a PostgreSQL warehouse:

- every statement is translated from DuckDB's dialect to PostgreSQL's with
  sqlglot (``ANTI JOIN`` becomes ``NOT EXISTS``, ``QUALIFY`` a subquery, ``?``
  and ``$name`` parameters psycopg's), plus the few types and functions sqlglot
  leaves to the database: ``JSON`` is ``JSONB`` (rows are compared with
  ``IS DISTINCT FROM``, which plain ``JSON`` lacks), and ``epoch_us`` and
  ``hash`` are SQL functions :func:`install_functions` creates;
- an insert, update or delete answers its row count as a one-row result, as
  DuckDB does;
- ``register(name, arrow_table)`` copies the Arrow table into a temporary table
  (``COPY … FROM STDIN (FORMAT csv)``) and ``unregister`` drops it.

Transactions are the caller's: the connection is in autocommit mode and passes
``BEGIN TRANSACTION`` / ``COMMIT`` / ``ROLLBACK`` through. After an error, a
PostgreSQL transaction refuses every statement until it is rolled back, so the
clean-up statements (``DROP … IF EXISTS``, ``unregister``) that ``finally``
blocks run on the way out are skipped then: the rollback removes what they
would have.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kpitree.errors import DataError, InternalError

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

__all__ = ["FUNCTIONS", "PgConnection", "install_functions", "translate"]

FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION epoch_us(timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE "
    "AS 'SELECT (extract(epoch FROM $1) * 1000000)::bigint'",
    "CREATE OR REPLACE FUNCTION hash(VARIADIC parts text[]) RETURNS bigint LANGUAGE sql "
    "IMMUTABLE AS 'SELECT hashtextextended(array_to_string(parts, chr(31), chr(30)), 0)'",
    "CREATE OR REPLACE AGGREGATE kpitree_concat_arrays(anycompatiblearray) "
    "(SFUNC = array_cat, STYPE = anycompatiblearray)",
)
"""SQL functions the translated statements call (DuckDB has them built in)."""

_FIXES = (
    (re.compile(r"\bJSON\b"), "JSONB"),
    (re.compile(r"\bJSON_EXTRACT_PATH_TEXT\("), "JSONB_EXTRACT_PATH_TEXT("),
    (re.compile(r"\bEPOCH_US\("), "epoch_us("),
    (re.compile(r"\bHASH\("), "hash("),
    # DuckDB's list_sort(flatten(list(ids))): the ids of every group, sorted bytewise.
    (
        re.compile(r"\bSORT_ARRAY\(FLATTEN\(ARRAY_AGG\(([\w.]+)\)\)\)"),
        r'((SELECT array_agg(x ORDER BY x COLLATE "C") '
        r"FROM unnest(kpitree_concat_arrays(\1)) AS x))",
    ),
)
_PLACEHOLDER = re.compile(r"%(?!s\b|\(\w+\)s)")
_DROP = re.compile(r"^\s*DROP\s", re.IGNORECASE)


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``sql`` (DuckDB's dialect, one or more statements) in PostgreSQL's."""
    # Ibis adds to sqlglot's PostgreSQL generator (make_date, ...), which sqlglot
    # reads once, when the generator is first used: Ibis's additions come first,
    # or the engines' own queries on PostgreSQL would lose them.
    import ibis.backends.sql.dialects  # noqa: F401
    import sqlglot

    try:
        statements = sqlglot.transpile(sql, read="duckdb", write="postgres")
    except sqlglot.errors.SqlglotError as exc:  # a statement kpitree wrote: a bug
        raise InternalError(f"cannot translate to PostgreSQL: {exc}\n{sql}") from exc
    text = ";\n".join(s for s in statements if s.strip())
    for pattern, replacement in _FIXES:
        text = pattern.sub(replacement, text)
    return text


def install_functions(con: PgConnection) -> None:
    """Create (or replace) :data:`FUNCTIONS` in the warehouse's schema."""
    for statement in FUNCTIONS:
        con.raw.execute(statement)


class _Result:
    """Rows of one statement, fetched in full (DuckDB's ``fetchall`` surface)."""

    def __init__(self, rows: list[tuple[Any, ...]], arrow: pa.Table | None = None) -> None:
        self._rows = rows
        self._arrow = arrow

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def to_arrow_table(self) -> pa.Table:
        assert self._arrow is not None
        return self._arrow


class PgConnection:
    """A psycopg connection (autocommit) with DuckDB's connection surface."""

    dialect = "postgres"

    def __init__(self, raw: psycopg.Connection[Any], location: str = "") -> None:
        self.raw = raw
        self.location = location

    def _aborted(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status == TransactionStatus.INERROR

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> _Result:
        text = translate(sql)
        if _DROP.match(text) and self._aborted():
            return _Result([])
        if params is not None:
            text = _PLACEHOLDER.sub("%%", text)
        with self._failing(), self.raw.cursor() as cur:
            cur.execute(text.encode(), params)
            if cur.description is None:
                return _Result([(cur.rowcount,)])
            return _Result(list(cur.fetchall()))

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """A database error as ``KT571`` (the caller's transaction, if any, is
        rolled back on the way out: nothing it wrote stays)."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise DataError.of(
                "KT571", "warehouse.database_failed", where=self.location, error=str(exc).strip()
            ) from exc

    def sql(self, sql: str) -> _Result:
        """A query's rows as an Arrow table (``to_arrow_table()``)."""
        import pyarrow as pa

        with self._failing(), self.raw.cursor() as cur:
            cur.execute(translate(sql).encode())
            names = [d.name for d in cur.description or ()]
            rows = cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrow = pa.table(
            {n: pa.array(list(c), pa.string()) for n, c in zip(names, columns, strict=True)}
        )
        return _Result([], arrow)

    def register(self, name: str, data: pa.Table) -> None:
        """``data`` as the temporary table ``name`` for the statements that follow."""
        from psycopg import sql
        from pyarrow import csv

        columns = [
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_pg_type(f.type)))
            for f in data.schema
        ]
        with self._failing(), self.raw.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE TEMP TABLE {} ({})").format(
                    sql.Identifier(name), sql.SQL(", ").join(columns)
                )
            )
            if not data.num_rows:
                return
            import io

            copy_sql = sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(sql.Identifier(name))
            options = csv.WriteOptions(include_header=False)
            with cur.copy(copy_sql) as copy:
                for batch in data.to_batches(max_chunksize=65_536):
                    buffer = io.BytesIO()
                    csv.write_csv(_csv_ready(batch), buffer, options)
                    copy.write(buffer.getbuffer())

    def unregister(self, name: str) -> None:
        if self._aborted():
            return
        from psycopg import sql

        self.raw.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))

    def close(self) -> None:
        self.raw.close()


def _pg_type(kind: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "DOUBLE PRECISION"
    if pa.types.is_null(kind):
        return "TEXT"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "TEXT"
    if pa.types.is_dictionary(kind):
        return _pg_type(kind.value_type)
    raise InternalError(f"no PostgreSQL type for Arrow {kind}")


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with the columns the CSV writer cannot write (dictionaries, nulls)
    as plain strings."""
    import pyarrow as pa

    columns = []
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_null(column.type):
            column = pa.nulls(len(column), pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
