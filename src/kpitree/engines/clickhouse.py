"""ClickHouse as an engine (``pip install 'kpitree[clickhouse]'``).

Two ways in:

- ``clickhouse://user:password@host:8123/database``: a ClickHouse server through
  clickhouse-connect (HTTP), as Ibis connects to it;
- ``chdb://`` (in memory) or ``chdb:///path/to/dir``: chDB, ClickHouse embedded in
  this process (no server), through clickhouse-connect's chDB interface.

The column-zone trap: ClickHouse takes the day of a ``DateTime64(6, 'UTC')`` in
the *column's* zone, whatever the session says, so a lead at 2026-03-31 15:30 UTC
would be a March lead. The engine reads every canonical instant in the project's
zone (``toTimeZone``: the instant is unchanged, only the zone it is shown in), so
``toDate`` gives the local day as on DuckDB, and sets ``session_timezone`` so
timestamps written without a zone are read in the project's zone too. Results are
read as Arrow with the instants back in UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = ["CLICKHOUSE_TYPES", "arrow_result", "connect_chdb", "in_zone", "load_tables"]

# Canonical column types -> ClickHouse types (nullable columns wrapped in Nullable).
CLICKHOUSE_TYPES = {
    "VARCHAR": "String",
    "JSON": "String",
    "DOUBLE": "Float64",
    "TIMESTAMPTZ": "DateTime64(6, 'UTC')",
    "DATE": "Date32",
    "BIGINT": "Int64",
    "INTEGER": "Int32",
}
# Tables a load writes first, then swaps in (EXCHANGE TABLES).
_STAGING = "__kpitree_new"


def connect_chdb(url: str) -> ibis.BaseBackend:
    """An Ibis ClickHouse backend on chDB: ``chdb://`` in memory, ``chdb:///dir``
    on a data directory (one per process, as chDB allows)."""
    import clickhouse_connect
    import ibis

    client = clickhouse_connect.get_client(dsn=url)
    return ibis.clickhouse.from_connection(client)


def is_chdb(backend: Any) -> bool:
    """Whether the ClickHouse backend runs on an embedded chDB."""
    return type(backend.con).__name__ == "ChdbClient"


def set_zone(backend: Any, zone: str) -> None:
    """Read timestamps without a zone (literals, naive columns) in ``zone``."""
    backend.con.set_client_setting("session_timezone", zone)


def in_zone(found: ir.Table, names: list[str], zone: str) -> ir.Table:
    """``found`` with the instants ``names`` shown in ``zone``: the same instants,
    whose ``toDate`` is then the local day (ClickHouse takes the day in the
    column's zone, not the session's)."""
    import ibis.expr.datatypes as dt

    casts = {}
    for name in names:
        kind = found[name].type()
        if kind.is_timestamp():
            casts[name] = found[name].cast(dt.Timestamp(timezone=zone, scale=kind.scale or 6))
    return found.mutate(**casts) if casts else found


def _memtables(backend: Any, expr: ir.Table) -> tuple[list[str], Any]:
    """Make the in-memory tables ``expr`` reads available to the query: as tables
    on chDB (which takes no external data), as external data on a server.
    ``(tables created, external data)``."""
    import ibis.expr.operations as ops

    found = {op.name: op for op in expr.op().find(ops.InMemoryTable)}
    if not found:
        return [], None
    if not is_chdb(backend):
        return [], backend._normalize_external_tables(found)
    created = []
    for name, op in found.items():
        created.append(name)
        write_table(backend, name, op.data.to_pyarrow(op.schema), engine="Memory")
    return created, None


def write_table(backend: Any, name: str, data: pa.Table, engine: str = "MergeTree") -> None:
    """Replace table ``name`` with the rows of ``data`` (created from its
    schema, then inserted: chDB takes no external data, which Ibis's
    ``create_table`` of in-memory data sends)."""
    import ibis

    schema = ibis.Schema.from_pyarrow(data.schema)
    backend.create_table(name, schema=schema, overwrite=True, engine=engine)
    if data.num_rows:
        backend.con.insert_arrow(name, data)


def arrow_result(
    backend: Any, sql: str, expr: ir.Table | None = None, settings: dict[str, Any] | None = None
) -> pa.Table:
    """Run ``sql`` on ClickHouse and return the result as Arrow, instants in UTC;
    with ``expr``, in the types of its schema (reading its in-memory tables);
    ``settings`` for this query only."""
    import pyarrow as pa
    from ibis.formats.pyarrow import PyArrowData

    created: list[str] = []
    external = None
    if expr is not None:
        created, external = _memtables(backend, expr)
    try:
        if external is not None:
            table = backend.con.query_arrow(sql, external_data=external, settings=settings)
        else:
            table = backend.con.query_arrow(sql, settings=settings)
    finally:
        for name in created:
            backend.con.command(f"DROP TABLE IF EXISTS `{name}`")
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit, "UTC"), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz is not None
        else f
        for f in table.schema
    ]
    table = table.cast(pa.schema(fields))
    if expr is None:
        return table
    return PyArrowData.convert_table(table, expr.schema())


def ddl(name: str, table: str | None = None) -> str:
    """``CREATE TABLE`` for canonical table ``name`` on ClickHouse (as ``table``)."""
    from kpitree.data import schema

    spec = schema.table(name)
    columns = []
    for c in spec.columns:
        kind = CLICKHOUSE_TYPES[c.type]
        columns.append(f"    `{c.name}` {f'Nullable({kind})' if c.nullable else kind}")
    body = ",\n".join(columns)
    return (
        f"CREATE TABLE `{table or name}` (\n{body}\n) ENGINE = MergeTree ORDER BY tuple()"
        f" COMMENT '{spec.description.replace(chr(39), ' ')}'"
    )


def load_tables(engine: Any, sources: list[Any], typed: Any) -> dict[str, int]:
    """Replace canonical tables on ClickHouse: every table is written in full to
    a new table first (a failure there changes nothing), then each is swapped
    in with ``EXCHANGE TABLES``, one atomic swap per table."""
    from kpitree.errors import UserError

    client = engine.backend.con
    counts: dict[str, int] = {}
    current = ""
    try:
        for source in sources:
            current = source.name
            staging = source.name + _STAGING
            client.command(f"DROP TABLE IF EXISTS `{staging}`")
            client.command(ddl(source.name, staging))
            client.command(f"CREATE TABLE IF NOT EXISTS `{source.name}` AS `{staging}`")
            rows = 0
            for batch in source.batches():
                import pyarrow as pa

                chunk = pa.Table.from_batches([typed(source, batch)])
                if chunk.num_rows:
                    client.insert_arrow(staging, chunk)
                rows += chunk.num_rows
            counts[source.name] = rows
    except Exception as exc:  # the driver's errors (DatabaseError, OperationalError)
        for source in sources:
            client.command(f"DROP TABLE IF EXISTS `{source.name}{_STAGING}`")
        raise UserError.of(
            "KT517",
            "engines.load_failed",
            table=current,
            where=engine.where,
            error=str(exc).strip().splitlines()[0],
        ) from exc
    for source in sources:
        client.command(f"EXCHANGE TABLES `{source.name}{_STAGING}` AND `{source.name}`")
        client.command(f"DROP TABLE IF EXISTS `{source.name}{_STAGING}`")
    return counts
