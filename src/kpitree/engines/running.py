"""Running a checked read-only query on each kind of backend (see :meth:`Engine.query`).

DuckDB and PostgreSQL run the text through their own drivers, so the query can be
put in a read-only transaction and the first ``limit`` rows taken in the query's
own order. Other backends go through ``backend.sql`` and Ibis.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from kpitree.engines.readonly import ReadOnlyQuery
from kpitree.errors import KpitreeError, UserError
from kpitree.i18n import Msg

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.engines.engine import Engine

__all__ = [
    "clickhouse_query",
    "duckdb_parse_error",
    "duckdb_query",
    "ibis_query",
    "postgres_parse_error",
    "postgres_query",
]

_BATCH_ROWS = 65_536


def _failed(engine: Engine, error: object) -> UserError:
    return UserError.of(
        "KT512", "engines.query_failed", engine=engine.name, error=str(error).strip()
    )


def _refused_by_database(error: object) -> UserError:
    return UserError.of(
        "KT511",
        "engines.query_read_only",
        reason=Msg("engines.reason_database", {"error": str(error).strip()}),
    )


def _first_rows(reader: pa.RecordBatchReader, limit: int | None) -> pa.Table:
    import pyarrow as pa

    if limit is None:
        return reader.read_all()
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        while rows < limit:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            batches.append(batch.slice(0, limit - rows))
            rows += batches[-1].num_rows
    finally:
        reader.close()
    return pa.Table.from_batches(batches, schema=reader.schema)


# -- DuckDB ------------------------------------------------------------------------------


def duckdb_parse_error(engine: Engine, sql: str) -> str | None:
    """DuckDB's parser message for ``sql``, or None when DuckDB can parse it."""
    import duckdb

    try:
        engine.backend.con.extract_statements(sql)
    except duckdb.Error as exc:
        return str(exc).strip()
    return None


def duckdb_query(engine: Engine, checked: ReadOnlyQuery, limit: int | None) -> pa.Table:
    """Run on a cursor of the engine's connection (read-only when the engine is)
    inside a read-only transaction, with Python replacement scans off: a name that
    is not a table must not reach a Python variable of the caller."""
    import duckdb

    con = engine.backend.con
    try:
        statements = con.extract_statements(checked.text)
    except duckdb.Error as exc:
        raise _failed(engine, exc) from exc
    # DuckDB's own parser has the last word on what kind of statement this is.
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements)
        raise UserError.of(
            "KT511",
            "engines.query_read_only",
            reason=Msg("engines.reason_not_query", {"kind": kinds}),
        )
    cursor = con.cursor()
    try:
        cursor.execute(f"SET TimeZone = '{engine.timezone}'")
        cursor.execute("SET python_enable_replacements = false")
        cursor.execute("BEGIN TRANSACTION READ ONLY")
        try:
            reader = cursor.sql(checked.text).to_arrow_reader(_BATCH_ROWS)
            return _first_rows(reader, limit)
        finally:
            cursor.execute("ROLLBACK")
    except (duckdb.TransactionException, duckdb.PermissionException) as exc:
        raise _refused_by_database(exc) from exc
    except duckdb.Error as exc:
        raise _failed(engine, exc) from exc
    finally:
        cursor.close()


# -- PostgreSQL --------------------------------------------------------------------------


def postgres_parse_error(engine: Engine, sql: str) -> str | None:
    """PostgreSQL's message for ``sql`` (parse and name resolution, nothing is run),
    or None when the server accepts it."""
    import psycopg

    result = engine.backend.con.pgconn.prepare(b"", sql.encode())
    if result.status != psycopg.pq.ExecStatus.FATAL_ERROR:
        return None
    message: str = result.error_message.decode(errors="replace").strip()
    return message.removeprefix("ERROR:").strip()


def postgres_query(engine: Engine, checked: ReadOnlyQuery, limit: int | None) -> pa.Table:
    """Run in a ``READ ONLY`` transaction through a server-side cursor (``DECLARE …
    CURSOR`` accepts only queries), fetching at most ``limit`` rows."""
    import psycopg

    con = engine.backend.con
    con.read_only = True
    try:
        with (
            con.transaction(),
            con.cursor(name=f"kpitree_query_{uuid.uuid4().hex}") as cursor,
        ):
            cursor.execute(checked.text)
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
            description = cursor.description or []
            columns = [(c.name, c.type_display) for c in description]
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise _refused_by_database(exc) from exc
    except psycopg.OperationalError as exc:
        raise UserError.of(
            "KT514", "engines.unreachable", where=engine.where, error=str(exc).strip()
        ) from exc
    except psycopg.Error as exc:
        failure = exc
    else:
        return _postgres_arrow(engine, columns, rows)
    finally:
        con.read_only = None
    # The server's context line would point into our DECLARE … CURSOR wrapper: ask
    # again without running anything, so positions are in the user's own text.
    message = postgres_parse_error(engine, checked.text) or failure.diag.message_primary
    raise _failed(engine, message or failure) from failure


def _postgres_arrow(
    engine: Engine, columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]
) -> pa.Table:
    """Rows as Arrow, typed the way Ibis types PostgreSQL columns."""
    import pyarrow as pa

    mapper = engine.backend.compiler.type_mapper
    arrays = []
    for i, (_, type_name) in enumerate(columns):
        values = [row[i] for row in rows]
        try:
            dtype = mapper.from_string(type_name)
            arrow_type = dtype.to_pyarrow()
        except Exception:
            # A type Ibis does not know (an enum, an extension's type): let Arrow infer.
            dtype, arrow_type = None, None
        if dtype is not None and dtype.is_json():
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        try:
            arrays.append(pa.array(values, type=arrow_type))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, names=[name for name, _ in columns])


# -- any other Ibis backend ------------------------------------------------------------


def ibis_query(engine: Engine, checked: ReadOnlyQuery, limit: int | None) -> pa.Table:
    """Through ``backend.sql``, which wraps the query as a subquery."""
    try:
        expr = engine.backend.sql(checked.text, dialect=engine.backend.dialect)
        result: pa.Table = engine.backend.to_pyarrow(expr, limit=limit)
    except KpitreeError:
        raise
    except Exception as exc:
        # Each driver has its own error classes; whatever the database reports about
        # the user's query goes back to the user.
        raise _failed(engine, exc) from exc
    return result


def clickhouse_query(engine: Engine, checked: ReadOnlyQuery, limit: int | None) -> pa.Table:
    """On ClickHouse (a server or chDB) with the ``readonly = 1`` setting: the
    database itself refuses writes, setting changes and table functions that
    read outside it (``file``, ``url``, ``s3``, …), which ClickHouse allows in a
    plain ``SELECT``."""
    from kpitree.engines.clickhouse import arrow_result

    text = checked.text.strip().rstrip(";")
    sql = text if limit is None else f"SELECT * FROM ({text}) LIMIT {int(limit)}"
    try:
        return arrow_result(engine.backend, sql, settings={"readonly": 1})
    except KpitreeError:
        raise
    except Exception as exc:  # clickhouse-connect's DatabaseError and its kin
        if "READONLY" in str(exc):
            raise _refused_by_database(exc) from exc
        raise _failed(engine, exc) from exc
