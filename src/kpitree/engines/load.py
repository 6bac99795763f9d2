"""Loading canonical tables into an engine's database, to run the same computation there.

PostgreSQL gets the tables created from :mod:`kpitree.data.schema` and filled with
``COPY … FROM STDIN (FORMAT csv)``: Arrow writes the CSV in C, so loading runs at
COPY speed instead of the ~26k rows/s of row-wise inserts. All tables are replaced
in one transaction: a reader sees the old rows or the new ones, never a mix.

Primary keys are not declared, as in the warehouse: canonical keys are unique by
construction (the import path deduplicates), and a key index slows the load.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpitree.data import schema
from kpitree.engines.engine import Engine
from kpitree.engines.opening import open_engine
from kpitree.errors import UserError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["canonical_ddl", "copy_warehouse", "load_canonical"]

_POSTGRES_TYPES = {
    "VARCHAR": "TEXT",
    "JSON": "JSONB",
    "DOUBLE": "DOUBLE PRECISION",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
    "DATE": "DATE",
    "BIGINT": "BIGINT",
    "INTEGER": "INTEGER",
}
_BATCH_ROWS = 65_536
# The warehouse's bookkeeping column: its tables are written through imports only.
_WAREHOUSE_COLUMN = "_import_id"


def canonical_ddl(name: str, engine: str = "postgres") -> str:
    """``CREATE TABLE IF NOT EXISTS`` for canonical table ``name`` on ``engine``
    (``postgres`` or ``duckdb``), generated from :mod:`kpitree.data.schema`."""
    spec = schema.table(name)

    def column_type(column: schema.Column) -> str:
        return _POSTGRES_TYPES[column.type] if engine == "postgres" else column.type

    lines = [
        f"    {c.name} {column_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in spec.columns
    ]
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n" + ",\n".join(lines) + "\n)"


@dataclass(frozen=True, slots=True)
class _Source:
    """One table to load: its columns and a way to get its rows as Arrow batches."""

    name: str
    columns: tuple[str, ...]
    batches: Callable[[], Iterable[pa.RecordBatch]]


def load_canonical(
    engine_or_url: Engine | str | os.PathLike[str], tables: Mapping[str, pa.Table]
) -> dict[str, int]:
    """Replace the rows of the given canonical tables in the engine's database with
    ``tables`` (creating the tables where missing); return the rows loaded per table.

    On PostgreSQL the load is a ``COPY`` per table, all in one transaction. A URL
    is opened writable and closed again. A kpitree warehouse is refused (``KT516``):
    its tables are written through imports (``Warehouse.bulk_load``), which keep
    the import log and undo.
    """
    sources = []
    for name, arrow in tables.items():
        _check_columns(name, arrow.column_names)
        sources.append(_Source(name, tuple(arrow.column_names), _batches_of(arrow)))
    if isinstance(engine_or_url, Engine):
        return _load(engine_or_url, sources)
    with open_engine(engine_or_url, read_only=False) as engine:
        return _load(engine, sources)


def copy_warehouse(
    duckdb_path: str | os.PathLike[str],
    url: str | os.PathLike[str] | Engine,
    *,
    timezone: str = "Asia/Tokyo",
) -> dict[str, int]:
    """Copy every canonical table of the warehouse at ``duckdb_path`` into the
    database at ``url`` (see :func:`load_canonical`); return the rows per table.

    The warehouse is read through a read-only connection, one table at a time;
    ``timezone`` places its facts on days for the freshness per source.
    """
    from pathlib import Path

    if not Path(duckdb_path).exists():
        raise UserError.of("KT514", "engines.no_warehouse", where=str(duckdb_path))
    with open_engine(duckdb_path, read_only=True, timezone=timezone) as source:

        def batches(name: str) -> Callable[[], Iterable[pa.RecordBatch]]:
            def read() -> Iterable[pa.RecordBatch]:
                # Straight from DuckDB: Ibis 12's to_pyarrow_batches calls
                # fetch_record_batch, which DuckDB 2.0 no longer has.
                source.table(name)  # KT510 when missing
                columns = ", ".join(schema.table(name).column_names)
                cursor = source.backend.con.cursor()
                try:
                    query = cursor.sql(f"SELECT {columns} FROM {name}")
                    yield from query.to_arrow_reader(_BATCH_ROWS)
                finally:
                    cursor.close()

            return read

        sources = [_Source(t.name, t.column_names, batches(t.name)) for t in schema.TABLES]
        side = _side_tables(source)
        if isinstance(url, Engine):
            return _copy_into(url, sources, side)
        with open_engine(url, read_only=False) as target:
            return _copy_into(target, sources, side)


@dataclass(frozen=True, slots=True)
class _Side:
    """A table kpitree keeps beside the canonical ones: its rows in the
    warehouse, or ``None`` when the warehouse has none (the copy empties it)."""

    name: str
    types: Mapping[str, str]
    """Column -> PostgreSQL type."""
    rows: pa.Table | None


def _side_tables(source: Engine) -> list[_Side]:
    """The warehouse's custom dimensions (:mod:`kpitree.data.dimensions`),
    cross-source links (:mod:`kpitree.data.links`) and company master
    (:mod:`kpitree.data.company_master`): they go along with its tables, as they
    are; those it does not have are emptied in the target, so the target equals
    the warehouse."""
    from kpitree.data import company_master, dimensions, links

    con = source.backend.con
    groups: list[tuple[str, Mapping[str, tuple[str, ...]], Mapping[str, str] | None]] = [
        (dimensions.REGISTRY_TABLE, dimensions.SIDE_TABLES, None),
        (links.LINKS_TABLE, links.SIDE_TABLES, None),
        (
            company_master.MASTER_TABLE,
            {company_master.MASTER_TABLE: tuple(company_master.MASTER_COLUMNS)},
            company_master.MASTER_PG_TYPES,
        ),
    ]
    integers = {"rank", "candidates"}
    out = []
    for marker, side_tables, pg_types in groups:
        present = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [marker]
        ).fetchall()[0][0]
        for name, columns in side_tables.items():
            types = pg_types or {c: "INTEGER" if c in integers else "TEXT" for c in columns}
            rows = (
                con.sql(f"SELECT {', '.join(columns)} FROM {name}").to_arrow_table()
                if present
                else None
            )
            out.append(_Side(name, {c: types[c] for c in columns}, rows))
    # Where the facts came from, day by day: the copy keeps no import log, and the
    # freshness of each source reads these instead (kpitree.data.sourcedays).
    from kpitree.data.sourcedays import SIDE_TYPES, source_days

    for name, rows in source_days(con).items():
        out.append(_Side(name, SIDE_TYPES[name], rows))
    return out


def _copy_into(target: Engine, sources: list[_Source], side: list[_Side]) -> dict[str, int]:
    """Load ``sources`` and ``side`` into ``target``: on PostgreSQL all in one
    transaction, elsewhere one table after the other."""
    if target.name == "postgres":
        return _load(target, sources, then=lambda cursor: _write_side_pg(cursor, side))
    counts = _load(target, sources)
    for s in side:
        if s.rows is None and not target.has_table(s.name):
            continue
        rows = s.rows if s.rows is not None else _empty(s)
        if target.name == "clickhouse":
            from kpitree.engines.clickhouse import write_table

            write_table(target.backend, s.name, rows)
        else:
            target.backend.create_table(s.name, rows, overwrite=True)
    return counts


_ARROW_OF_PG = {"INTEGER": "int32", "BIGINT": "int64", "DOUBLE PRECISION": "float64"}


def _empty(side: _Side) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {c: pa.array([], type=_ARROW_OF_PG.get(t, "string")) for c, t in side.types.items()}
    )


def _write_side_pg(cursor: Any, side: list[_Side]) -> None:
    """Replace (or empty) the side tables, inside the copy's transaction."""
    from psycopg import sql
    from pyarrow import csv

    for s in side:
        table = sql.Identifier(s.name)
        if s.rows is None:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [s.name])
            row = cursor.fetchone()
            if row and row[0]:
                cursor.execute(sql.SQL("TRUNCATE {}").format(table))
            continue
        ddl = ", ".join(f"{c} {t}" for c, t in s.types.items())
        cursor.execute(sql.SQL(f"CREATE TABLE IF NOT EXISTS {{}} ({ddl})").format(table))
        cursor.execute(sql.SQL("TRUNCATE {}").format(table))
        buffer = io.BytesIO()
        csv.write_csv(s.rows, buffer, csv.WriteOptions(include_header=False))
        with cursor.copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(table)) as copy:
            copy.write(buffer.getbuffer())


def _batches_of(arrow: pa.Table) -> Callable[[], Iterable[pa.RecordBatch]]:
    def batches() -> Iterable[pa.RecordBatch]:
        return arrow.to_batches(max_chunksize=_BATCH_ROWS)  # type: ignore[no-any-return]

    return batches


def _check_columns(name: str, columns: Iterable[str]) -> None:
    try:
        spec = schema.table(name)
    except KeyError:
        tables = ", ".join(t.name for t in schema.TABLES)
        raise UserError.of("KT510", "engines.unknown_table", name=name, tables=tables) from None
    unknown = [c for c in columns if c not in spec.column_names]
    if unknown:
        raise UserError.of(
            "KT516",
            "engines.load_unknown_columns",
            table=name,
            columns=", ".join(unknown),
            known=", ".join(spec.column_names),
        )


def _load(
    engine: Engine, sources: list[_Source], then: Callable[[Any], None] | None = None
) -> dict[str, int]:
    if engine.read_only:
        raise UserError.of("KT516", "engines.load_read_only", where=engine.where)
    # Canonical order, whatever order the caller gave.
    order = {t.name: i for i, t in enumerate(schema.TABLES)}
    sources = sorted(sources, key=lambda s: order[s.name])
    if engine.name == "postgres":
        return _load_postgres(engine, sources, then)
    if engine.name == "duckdb":
        return _load_duckdb(engine, sources)
    if engine.name == "pyspark":
        from kpitree.engines.spark import load_tables

        return load_tables(engine, sources, _typed)
    if engine.name == "clickhouse":
        from kpitree.engines import clickhouse

        return clickhouse.load_tables(engine, sources, _typed)
    return _load_ibis(engine, sources)


def _typed(source: _Source, batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with the canonical Arrow types (UTC timestamps, JSON as text)."""
    import pyarrow as pa

    try:
        return batch.select(list(source.columns)).cast(
            schema.arrow_schema(source.name, source.columns)
        )
    except (pa.ArrowException, ValueError) as exc:
        raise UserError.of(
            "KT516", "engines.load_bad_types", table=source.name, error=str(exc)
        ) from exc


def _load_postgres(
    engine: Engine, sources: list[_Source], then: Callable[[Any], None] | None = None
) -> dict[str, int]:
    """COPY every table in one transaction; ``then(cursor)`` writes more in it."""
    import psycopg
    from psycopg import sql
    from pyarrow import csv

    con = engine.backend.con
    with con.cursor() as probe:  # a kpitree warehouse (imports write it) is not replaced
        probe.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE column_name = %s AND table_schema = current_schema()",
            [_WAREHOUSE_COLUMN],
        )
        row = probe.fetchone()
    if row and row[0]:
        raise UserError.of("KT516", "engines.load_warehouse", where=engine.where)
    counts: dict[str, int] = {}
    current = ""
    options = csv.WriteOptions(include_header=False)
    try:
        with con.transaction(), con.cursor() as cursor:
            for source in sources:
                current = source.name
                table = sql.Identifier(source.name)
                cursor.execute(canonical_ddl(source.name, "postgres").encode())
                cursor.execute(
                    sql.SQL("COMMENT ON TABLE {} IS {}").format(
                        table, sql.Literal(schema.table(source.name).description)
                    )
                )
                cursor.execute(sql.SQL("TRUNCATE {}").format(table))
                copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                    table, sql.SQL(", ").join(map(sql.Identifier, source.columns))
                )
                rows = 0
                with cursor.copy(copy_sql) as copy:
                    for batch in source.batches():
                        # Arrow's CSV: NULL is an empty field, an empty string is "":
                        # exactly what COPY's CSV format reads back.
                        buffer = io.BytesIO()
                        csv.write_csv(_typed(source, batch), buffer, options)
                        copy.write(buffer.getbuffer())
                        rows += batch.num_rows
                counts[source.name] = rows
            if then is not None:
                current = "kpitree_*"
                then(cursor)
    except psycopg.OperationalError as exc:
        raise UserError.of(
            "KT514", "engines.unreachable", where=engine.where, error=str(exc).strip()
        ) from exc
    except psycopg.Error as exc:
        raise UserError.of(
            "KT517",
            "engines.load_failed",
            table=current,
            where=engine.where,
            error=str(exc).strip(),
        ) from exc
    return counts


def _load_duckdb(engine: Engine, sources: list[_Source]) -> dict[str, int]:
    import duckdb
    import pyarrow as pa

    con = engine.backend.con
    warehouse = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = ?",
        [_WAREHOUSE_COLUMN],
    ).fetchall()[0][0]
    if warehouse:
        raise UserError.of("KT516", "engines.load_warehouse", where=engine.where)
    counts: dict[str, int] = {}
    current = ""
    cursor = con.cursor()
    try:
        cursor.execute("BEGIN TRANSACTION")
        for source in sources:
            current = source.name
            cursor.execute(canonical_ddl(source.name, "duckdb"))
            cursor.execute(f"DELETE FROM {source.name}")
            columns = ", ".join(source.columns)
            rows = 0
            for batch in source.batches():
                chunk = pa.Table.from_batches([_typed(source, batch)])
                cursor.register("kpitree_load_chunk", chunk)
                cursor.execute(
                    f"INSERT INTO {source.name} ({columns}) "
                    f"SELECT {columns} FROM kpitree_load_chunk"
                )
                cursor.unregister("kpitree_load_chunk")
                rows += batch.num_rows
            counts[source.name] = rows
        cursor.execute("COMMIT")
    except duckdb.Error as exc:
        cursor.execute("ROLLBACK")
        raise UserError.of(
            "KT517", "engines.load_failed", table=current, where=engine.where, error=str(exc)
        ) from exc
    finally:
        cursor.close()
    return counts


def _load_ibis(engine: Engine, sources: list[_Source]) -> dict[str, int]:
    """Any other backend: one ``create_table(overwrite=True)`` per table (slow, but
    every Ibis backend has it)."""
    import pyarrow as pa

    counts: dict[str, int] = {}
    for source in sources:
        arrow_schema = schema.arrow_schema(source.name, source.columns)
        batches = [_typed(source, b) for b in source.batches()]
        table = pa.Table.from_batches(batches, schema=arrow_schema)
        engine.backend.create_table(source.name, table, overwrite=True)
        counts[source.name] = table.num_rows
    return counts
