"""The metric queries of a status compiled for an engine, without a connection.

For engines that cannot run here (Trino, BigQuery, Snowflake) the SQL kpitree
would send is still checkable: :func:`compiled_engine` gives an engine whose
tables are the canonical schema, which records every query a status asks as SQL
text in the engine's dialect (local days and medians rewritten as on a live
engine, see :mod:`kpitree.engines.dialects`) and answers each with no rows.

Example::

    from kpitree import Project
    from kpitree.engines.offline import compiled_engine

    project = Project.load(".")
    engine = compiled_engine("trino", timezone=project.tree.timezone)
    project.status("2026-10", by="team", engine=engine)
    print("\\n;\\n".join(engine.statements))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kpitree.engines.engine import Engine

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
    import pyarrow as pa

__all__ = ["COMPILED_ENGINES", "CompiledEngine", "compiled_engine"]

COMPILED_ENGINES = ("trino", "bigquery", "snowflake", "clickhouse", "postgres", "duckdb")


class _Tables:
    """A stand-in for an Ibis backend: the canonical tables, unbound."""

    def __init__(self, dialect: str) -> None:
        self.name = dialect
        self.dialect = dialect

    def table(self, name: str) -> ir.Table:
        import ibis
        import ibis.common.exceptions as ibis_errors

        from kpitree.data import schema

        try:
            spec = schema.table(name)
        except KeyError:  # kpitree's own side tables (custom dimensions): none here
            raise ibis_errors.TableNotFound(name) from None
        arrow = schema.arrow_schema(name, spec.column_names)
        return ibis.table(ibis.Schema.from_pyarrow(arrow), name=name)

    def list_tables(self) -> list[str]:
        from kpitree.data import schema

        return [t.name for t in schema.TABLES]

    def compile(self, expr: ir.Expr) -> str:
        import ibis

        return str(ibis.to_sql(expr, dialect=self.dialect))

    def disconnect(self) -> None:
        pass


class CompiledEngine(Engine):
    """An engine that compiles instead of running (:func:`compiled_engine`):
    ``statements`` holds the SQL of every query asked, in order, each once."""

    def __init__(self, dialect: str, *, timezone: str) -> None:
        self.statements: list[str] = []
        self._schemas: dict[str, tuple[ibis.Schema, int]] = {}
        backend: Any = _Tables(dialect)
        super().__init__(backend, timezone=timezone, where=f"{dialect} (compiled)", read_only=True)

    def _set_session_zone(self) -> None:
        pass  # no session: local days are in the query text where the engine needs it

    def compile(self, expr: ir.Expr) -> str:
        table = self._rewritten(expr)
        sql = str(self.backend.compile(table))
        if sql not in self._schemas:
            self._schemas[sql] = (table.schema(), _rows(table))
            self.statements.append(sql)
        return sql

    def execute(self, expr: ir.Expr) -> pa.Table:
        return self.execute_sql(self.compile(expr))

    def execute_sql(self, sql: str) -> pa.Table:
        import pyarrow as pa

        schema, rows = self._schemas[sql]
        arrow = schema.to_pyarrow()
        return pa.table([pa.nulls(rows, f.type) for f in arrow], schema=arrow)


def _rows(table: ir.Table) -> int:
    """Rows a query gives over empty tables: one for an aggregate of everything
    (a count is then NULL here, not 0: nothing was counted), none otherwise."""
    import ibis.expr.operations as ops

    op = table.op()
    return 1 if isinstance(op, ops.Aggregate) and not op.groups else 0


def compiled_engine(dialect: str, *, timezone: str = "Asia/Tokyo") -> CompiledEngine:
    """An engine that records the SQL of every query for ``dialect`` (one of
    :data:`COMPILED_ENGINES`) and answers it with no rows."""
    from kpitree.engines.opening import _check_zone

    if dialect not in COMPILED_ENGINES:
        raise ValueError(f"not a dialect kpitree compiles for: {dialect}")
    _check_zone(timezone)
    return CompiledEngine(dialect, timezone=timezone)
