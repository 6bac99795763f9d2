"""What each engine computes exactly, approximately or not at all, and the
rewrites that make one Ibis expression give the same numbers everywhere.

Three rewrites, applied to an expression before it is compiled for an engine:

- **Local days in the SQL text.** DuckDB, PostgreSQL, Spark and ClickHouse take
  the day of an instant in the session (or column) zone the engine sets. Trino,
  Snowflake and BigQuery get the zone written into the query instead
  (``DATE(at_timezone(at, 'Asia/Tokyo'))``, ``TO_DATE(CONVERT_TIMEZONE(…))``,
  ``DATE(at, 'Asia/Tokyo')``), so the compiled text means the same whatever the
  session says (BigQuery has no session zone at all).
- **Medians where the engine has no exact one** (Trino, BigQuery): the engine's
  approximate percentile, named in :data:`APPROXIMATE_MEDIAN`; the status flags
  the values that used it (``approximate``).
- **Floating-point literals on engines that read ``12.0`` as an exact decimal**
  (PostgreSQL, whose ``NUMERIC`` a ``CASE`` or ``LEAST`` of literals then
  returns where Ibis expects a float): written as ``CAST('12.0' AS DOUBLE
  PRECISION)``, the same value (the text is the float's shortest exact repr).

:func:`capability_matrix` is the table docs/engine.md shows, computed from these
rules and from Ibis's compilers (a test keeps the page equal to it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "APPROXIMATE_MEDIAN",
    "ENGINES",
    "NO_EXACT_MEDIAN",
    "ZONE_IN_QUERY",
    "capability_matrix",
    "exact_median",
    "localize",
    "matrix_markdown",
]

# Engines kpitree knows, with how they are checked here.
ENGINES = {
    "duckdb": "tested",
    "postgres": "tested",
    "pyspark": "tested",
    "clickhouse": "tested",
    "snowflake": "compiled",
    "trino": "compiled",
    "bigquery": "compiled",
}
# Engines Ibis compiles no exact median for (a test checks this against Ibis's
# compilers: :func:`exact_median`), and engines whose local day is written into
# the query. Constants, so a DuckDB engine never imports Ibis to know it.
NO_EXACT_MEDIAN = frozenset({"trino", "bigquery"})
ZONE_IN_QUERY = frozenset({"trino", "snowflake", "bigquery"})
# Engines that type a literal such as 12.0 as an exact decimal, not a float.
DECIMAL_LITERALS = frozenset({"postgres"})
# The approximation each engine without an exact median computes instead (as
# Ibis compiles ``approx_median``).
APPROXIMATE_MEDIAN = {
    "trino": "approx_percentile(x, 0.5)",
    "bigquery": "APPROX_QUANTILES(x, 2)[OFFSET(1)]",
    "snowflake": "APPROX_PERCENTILE(x, 0.5)",
    "clickhouse": "median(x)",
    "pyspark": "approx_percentile(x, 0.5)",
    "duckdb": "approx_quantile(x, 0.5)",
    "postgres": "percentile_cont(0.5)",
}
# How each engine places an instant on the project's local day.
_LOCAL_DAY = {
    "duckdb": "session TimeZone",
    "postgres": "session TIME ZONE",
    "pyspark": "spark.sql.session.timeZone",
    "clickhouse": "toTimeZone(at, zone) (column zone)",
    "snowflake": "TO_DATE(CONVERT_TIMEZONE(zone, at)) in the query",
    "trino": "DATE(at_timezone(at, zone)) in the query",
    "bigquery": "DATE(at, zone) in the query",
}
# Loading canonical tables (load_canonical / copy_warehouse).
_LOAD = {
    "duckdb": ("atomic", "one transaction"),
    "postgres": ("atomic", "COPY in one transaction"),
    "pyspark": ("per table", "overwrite, no transaction across tables"),
    "clickhouse": ("per table", "all written first, then EXCHANGE TABLES per table"),
}


# Where ``kpitree import`` / ``sync`` write, with their all-or-nothing rule and
# undo (kpitree.data.pgwarehouse.warehouse_for refuses any other
# ``data.warehouse``: KT570).
IMPORTS = {
    "duckdb": "atomic with undo: the embedded warehouse's import log",
    "postgres": "atomic with undo: the same import log and change logs in PostgreSQL tables",
}
_IMPORT_ELSEWHERE = (
    "unsupported (no transaction across tables): import into the embedded warehouse, "
    "then copy_warehouse"
)


@functools.cache
def exact_median(engine: str) -> bool:
    """Whether Ibis compiles an exact median for ``engine`` (asked of its compiler)."""
    import ibis
    import ibis.common.exceptions as ibis_errors

    t = ibis.table({"x": "float64"}, name="t")
    try:
        ibis.to_sql(t.x.median(), dialect=engine)
    except ibis_errors.OperationNotDefinedError:
        return False
    except Exception:  # a compiler that needs a session to compile (pyspark)
        return True
    return True


def _zone_day(engine: str) -> Callable[[Any, str], Any] | None:
    """For engines whose local day is written into the query: a function of an
    instant expression and the zone giving its local day."""
    import ibis
    import ibis.expr.datatypes as dt

    builtin = ibis.udf.scalar.builtin
    utc = dt.Timestamp(timezone="UTC")
    if engine == "trino":

        def at_timezone(x: Any, zone: str) -> Any:
            """The instant in ``zone``."""

        at_timezone.__annotations__ = {"x": utc, "zone": dt.string, "return": utc}
        fn = builtin(at_timezone, name="at_timezone")
        return lambda x, zone: fn(x, zone).date()
    if engine == "snowflake":

        def convert_timezone(zone: str, x: Any) -> Any:
            """The instant in ``zone``."""

        convert_timezone.__annotations__ = {"zone": dt.string, "x": utc, "return": utc}
        fn = builtin(convert_timezone, name="convert_timezone")
        return lambda x, zone: fn(zone, x).date()
    if engine == "bigquery":

        def date(x: Any, zone: str) -> Any:
            """The day of the instant in ``zone``."""

        date.__annotations__ = {"x": utc, "zone": dt.string, "return": dt.date}
        fn = builtin(date, name="date")
        return lambda x, zone: fn(x, zone)
    return None


def localize(
    expr: ir.Table, engine: str, zone: str, *, approximate: bool | None = None
) -> ir.Table:
    """``expr`` rewritten for ``engine``: local days with the zone in the query
    (where the engine needs it) and approximate medians where it has no exact one
    (``approximate``: whatever the engine has)."""
    if approximate is None:
        approximate = engine in NO_EXACT_MEDIAN
    floats = engine in DECIMAL_LITERALS
    if engine not in ZONE_IN_QUERY and not approximate and not floats:
        return expr
    import ibis.expr.datatypes as dt
    import ibis.expr.operations as ops

    zone_day = _zone_day(engine)

    def rule(node: Any, kwargs: dict[str, Any] | None) -> Any:
        node = node.__recreate__(kwargs) if kwargs else node
        if (
            floats
            and isinstance(node, ops.Literal)
            and node.dtype.is_floating()
            and node.value is not None
        ):
            text = ops.Literal(repr(float(node.value)), dt.string)
            return ops.Cast(text, node.dtype)
        if approximate and isinstance(node, ops.Median):
            return ops.ApproxMedian(node.arg, where=node.where)
        to_day = isinstance(node, ops.Date) or (isinstance(node, ops.Cast) and node.to.is_date())
        if (
            zone_day is not None
            and to_day
            and node.arg.dtype.is_timestamp()
            and not isinstance(node.arg, ops.ScalarUDF)
        ):
            return zone_day(node.arg.to_expr(), zone).op()
        return node

    result: ir.Table = expr.op().replace(rule).to_expr()
    return result


def uses_median(expr: ir.Expr) -> bool:
    """Whether ``expr`` computes a median somewhere."""
    import ibis.expr.operations as ops

    return bool(expr.op().find(ops.Median))


def capability_matrix() -> list[tuple[str, str, str, str, str, str]]:
    """Per engine: ``(engine, checked, median, local day, load, imports)``, each
    cell a level (exact / approximate / unsupported) with how."""
    rows = []
    for engine, checked in ENGINES.items():
        exact = exact_median(engine)
        median = "exact" if exact else f"approximate: `{APPROXIMATE_MEDIAN[engine]}`"
        day = f"exact: {_LOCAL_DAY[engine]}"
        level, how = _LOAD.get(engine, ("unsupported", "load with the engine's own tools"))
        imports = IMPORTS.get(engine, _IMPORT_ELSEWHERE if engine in _LOAD else "unsupported")
        rows.append((engine, checked, median, day, f"{level}: {how}", imports))
    return rows


def matrix_markdown() -> str:
    """:func:`capability_matrix` as the Markdown table docs/engine.md shows."""
    lines = [
        "| engine | checked here | median | local days | loading tables | imports and undo |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in capability_matrix()]
    return "\n".join(lines) + "\n"
