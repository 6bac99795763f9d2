"""Apache Spark as an engine (``pip install 'kpitree[spark]'``; Java 17 or newer).

Three ways in:

- ``pyspark://local[2]`` (``pyspark://`` alone is ``local[*]``): a Spark in this
  process's JVM, for a laptop or a test;
- ``sc://host:15002``: a cluster's Spark Connect server (Databricks, a Spark 3.5+ or
  4.x cluster started with ``start-connect-server.sh``);
- an existing ``SparkSession`` handed to :func:`kpitree.engines.attach_engine`,
  which the engine uses and never stops.

Spark settings ride along as query parameters:
``pyspark://local[4]?spark.sql.warehouse.dir=/data/lake&spark.driver.memory=4g``.

Spark's ``TIMESTAMP`` is an instant (``TIMESTAMP WITH LOCAL TIME ZONE``) that Ibis
types as a naive timestamp, and Spark hands instants back as wall-clock times of
the session zone. The engine sets the session zone to the project's (so a cast to
``DATE`` gives the local day, as on DuckDB and PostgreSQL), types the canonical
instants as UTC, and reads results as Arrow straight from Spark, which keeps the
instants exact (pandas would turn them into local wall-clock times).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = ["SPARK_SCHEMES", "arrow_result", "connect_spark", "spark_where"]

SPARK_SCHEMES = ("pyspark", "sc")

# Settings for a Spark kpitree starts itself in this process: no progress bars on
# the terminal, few shuffle partitions (the default 200 is for a cluster).
_LOCAL_DEFAULTS = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}


def _split(url: str) -> tuple[str, str, dict[str, str]]:
    """``(scheme, location, settings)`` of a Spark URL. ``urlsplit`` cannot read
    ``local[2]`` (it takes the brackets for an IPv6 host)."""
    scheme, rest = url.split("://", 1)
    location, _, query = rest.partition("?")
    return scheme.lower(), location.rstrip("/"), dict(parse_qsl(query, keep_blank_values=True))


def spark_where(url: str) -> str:
    """``url`` for messages: the Spark master or Connect address, no settings (a
    Connect URL's ``;token=…`` parameters are left out)."""
    scheme, location, _ = _split(url)
    return f"{scheme}://{location.split(';', 1)[0]}"


def connect_spark(url: str) -> ibis.BaseBackend:
    """An Ibis PySpark backend on the Spark that ``url`` names (see the module)."""
    import ibis
    from pyspark.sql import SparkSession

    scheme, location, settings = _split(url)
    builder = SparkSession.builder
    if scheme == "sc":
        builder = builder.remote(url.split("?", 1)[0])
    else:
        # A local Spark needs no network: keep its driver on the loopback.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(location or "local[*]").appName("kpitree")
        for key, value in _LOCAL_DEFAULTS.items():
            builder = builder.config(key, settings.pop(key, value))
    for key, value in settings.items():
        builder = builder.config(key, value)
    return ibis.pyspark.connect(builder.getOrCreate())


def session_of(backend: Any) -> Any:
    """The ``SparkSession`` behind an Ibis PySpark backend."""
    return backend._session


def arrow_result(backend: Any, sql: str, expr: ir.Table | None = None) -> pa.Table:
    """Run ``sql`` on Spark and return the result as Arrow with exact instants;
    with ``expr``, in the types of its schema (instants in UTC, registering the
    in-memory tables it reads first)."""
    import pyarrow as pa
    from ibis.formats.pyarrow import PyArrowData

    if expr is not None:
        backend._run_pre_execute_hooks(expr)
    # Instants arrive as exact UTC instants. DATE_TRUNC of a date is a
    # timestamp on Spark: the local midnight that starts the period.
    table = session_of(backend).sql(sql).toArrow()
    if expr is None:
        return table
    schema = expr.schema()
    dates = [
        n
        for n, f in zip(table.column_names, table.schema, strict=True)
        if schema[n].is_date() and pa.types.is_timestamp(f.type)
    ]
    zone = session_of(backend).conf.get("spark.sql.session.timeZone")
    for name in dates:  # Spark's local midnight (as a UTC instant): its local date
        column = table.column(name)
        local = column.cast(pa.timestamp(column.type.unit, zone))
        i = table.column_names.index(name)
        table = table.set_column(i, name, local.cast(pa.date32()))
    return PyArrowData.convert_table(table, schema)


def as_instants(found: ir.Table, names: list[str]) -> ir.Table:
    """``found`` with the columns ``names`` typed as UTC instants: Spark's
    ``TIMESTAMP`` is one, though Ibis reads it as a naive timestamp (the cast
    compiles to nothing that changes a value)."""
    import ibis.expr.datatypes as dt

    utc = dt.Timestamp(timezone="UTC")
    casts = {n: found[n].cast(utc) for n in names if found[n].type().is_timestamp()}
    return found.mutate(**casts) if casts else found


def load_tables(engine: Any, sources: list[Any], typed: Any) -> dict[str, int]:
    """Replace each canonical table on Spark with the rows of its source (an
    ``overwrite`` of a managed table in the session's catalog, in its default
    format). Spark has no transaction across tables: each table is replaced on
    its own, and a failure leaves the tables before it replaced."""
    import pyarrow as pa

    from kpitree.data import schema
    from kpitree.errors import UserError

    session = session_of(engine.backend)
    counts: dict[str, int] = {}
    for source in sources:
        arrow_schema = schema.arrow_schema(source.name, source.columns)
        batches = [typed(source, b) for b in source.batches()]
        table = pa.Table.from_batches(batches, schema=arrow_schema)
        try:
            frame = session.createDataFrame(table)
            frame.write.mode("overwrite").saveAsTable(source.name)
        except Exception as exc:  # Spark's own errors (AnalysisException, Py4J, gRPC)
            raise UserError.of(
                "KT517",
                "engines.load_failed_partly",
                table=source.name,
                where=engine.where,
                done=", ".join(counts) or "-",
                error=str(exc).strip().splitlines()[0],
            ) from exc
        counts[source.name] = table.num_rows
    return counts
